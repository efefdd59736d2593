"""Execute one run: claim it, train it, record the outcome, all through the RegLab API.

``execute_run(run_id)`` is what the Celery task calls. The worker is a client
of the API like any script (``REGLAB_URL``, ``REGLAB_TOKEN``): one
:class:`reglab.client.RunClient` claims the run (its spec comes from the API,
never from the message), beats its heartbeat (whose answer carries the cancel
flag), sends every epoch, uploads checkpoints and the model, and finishes it.
The run always ends in a final state with a message a person can act on when
it fails (the traceback goes to the worker log only).
"""

from __future__ import annotations

import logging
import os
import shutil
import socket
import tempfile
from pathlib import Path

from pydantic import ValidationError

from reglab.client import ApiError, ClaimInfo, Client, Heartbeat, RunClient
from reglab.settings import get_client_settings
from reglab.spec import LR_FINDER, RunSpec
from reglab.states import CANCELLED, COMPLETED, FAILED

log = logging.getLogger(__name__)

SKIPPED = "skipped"
LOST = "lost"


def worker_host() -> str:
    """This process as recorded on the run: "host (pid N)" (``reglab up`` finds its runs by it)."""
    return f"{socket.gethostname()} (pid {os.getpid()})"


def api_client() -> Client:
    """The API at REGLAB_URL, with REGLAB_TOKEN."""
    return Client(get_client_settings().URL)


def heartbeat_interval_s() -> float:
    return get_client_settings().heartbeat_interval_s


def failure_message(error: BaseException) -> str:
    """One line a person can act on; the traceback stays in the worker log."""
    from worker.training.datasets import DatasetUnavailable

    if isinstance(error, DatasetUnavailable):
        return str(error)
    if isinstance(error, ValidationError):
        fields = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in error.errors(include_url=False)
        )
        return f"the stored spec is invalid: {fields}"
    if isinstance(error, MemoryError):
        return "out of memory: lower dataset.train_samples, the hidden layer sizes or training.batch_size"
    name = type(error).__name__
    if name == "SoftTimeLimitExceeded":
        return "the run exceeded the worker's time limit; lower training.epochs or the dataset size"
    text = str(error).strip().splitlines()
    return f"{name}: {text[0] if text else 'no message'}"


def execute_run(run_id: int, client: Client | None = None) -> str:
    """Train run ``run_id`` if it is ours to train; returns its final state, ``"skipped"`` or ``"lost"``."""
    if client is None:
        with api_client() as own:
            return execute_run(run_id, own)
    run = client.run(run_id)
    claim = run.claim(worker_host())
    if claim is None:
        log.info("run %s: not claimable (missing, final, or alive on another worker); nothing to do", run_id)
        return SKIPPED
    if claim.restarted:
        log.warning("run %s: its worker died; taking it over", run_id)
    log.info("run %s: attempt %s", run_id, claim.attempt)
    scratch = Path(tempfile.mkdtemp(prefix=f"reglab-run-{run_id}-"))
    # Taken for dead and re-queued while alive (a network partition): the beat's 409 stops it within a batch.
    heartbeat = Heartbeat(run, heartbeat_interval_s()).start()
    values: dict = {}
    try:
        # An LR finder run carries its settings next to its spec (backend/lr_finder).
        finder = claim.spec.get(LR_FINDER)
        spec = RunSpec.model_validate({k: v for k, v in claim.spec.items() if k != LR_FINDER})
        state, values = _find_rate(run, spec, finder) if finder else _train(run, claim, spec, scratch)
    except Exception as error:  # includes Celery's SoftTimeLimitExceeded; a dying worker's
        # KeyboardInterrupt/SystemExit propagate: the run's stale heartbeat lets it be recovered.
        log.exception("run %s failed", run_id)
        state, values = FAILED, {"error": failure_message(error)}
    finally:
        heartbeat.stop()
    try:
        finished = run.finish(state, **values)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    if finished is None:
        log.warning("run %s: no longer attempt %s's when it finished as %s; outcome dropped", run_id, claim.attempt, state)
        return LOST
    log.info("run %s: %s", run_id, state)
    return state


def _train(run: RunClient, claim: ClaimInfo, spec: RunSpec, scratch: Path) -> tuple[str, dict]:
    # Keras and TensorFlow load here, in the worker process that trains, never
    # at import: a prefork parent must not hold TensorFlow's threads across fork.
    if run.cancel.is_set():  # cancelled while queued: no need to load anything
        return CANCELLED, {"summary": {"epochs_trained": 0}}
    from worker.training import environment, model as model_module
    from worker.training.checkpoint import UploadedCheckpoints
    from worker.training.tracking import EpochRecorder
    from worker.training.trainer import train

    run.set_progress(epochs=spec.training.epochs, backend=environment.backend_name(), device=environment.device_name())
    resume = None
    if claim.resume is not None:
        resume = _download_resume(run, claim.resume, scratch)
    result = train(
        spec,
        EpochRecorder(run),
        cancel=run.cancel,
        checkpoint=UploadedCheckpoints(run, scratch / "checkpoints"),
        checkpoint_interval_s=get_client_settings().CHECKPOINT_INTERVAL_S,
        resume=resume,
        layers=lambda layers, snapshot: run.record_layers(snapshot, layers),
    )
    values: dict = {"summary": result.summary, "model_summary": model_module.describe(result.model)}
    if result.state == COMPLETED:
        path = scratch / f"run-{run.run_id}.keras"
        result.model.save(path)
        try:
            run.upload_model(path)
        except ApiError as error:
            if error.status != 507:
                raise
            # The server's disk is full: the run trained and its points are stored; only the file is missing.
            log.error("run %s: the trained model was not stored: %s", run.run_id, error)
    return result.state, values


def _find_rate(run: RunClient, spec: RunSpec, finder: dict) -> tuple[str, dict]:
    from worker.training import environment
    from worker.training.lr_finder import find_learning_rate
    from worker.training.tracking import EpochRecorder

    run.set_progress(epochs=1, backend=environment.backend_name(), device=environment.device_name())
    state, summary = find_learning_rate(
        spec, EpochRecorder(run), finder["min_rate"], finder["max_rate"], finder.get("batches"), cancel=run.cancel
    )
    return state, {"summary": summary}


def _download_resume(run: RunClient, resume: dict, scratch: Path):
    """The claim's resume point with its checkpoint downloaded from the API, or None to start from epoch 0."""
    from worker.training.checkpoint import Resume

    try:
        downloaded = run.load_checkpoint(scratch / "resume")
    except ApiError as error:
        log.warning("run %s: checkpoint not downloadable (%s); training from epoch 0", run.run_id, error)
        return None
    if downloaded is None or downloaded[0] != resume["epoch"]:
        log.warning("run %s: the checkpoint changed since the claim; training from epoch 0", run.run_id)
        return None
    epoch, path = downloaded
    log.info("run %s: resuming from its checkpoint after epoch %s", run.run_id, epoch)
    run.set_progress(epoch=epoch)
    return Resume(epoch=epoch, model_path=path, history=resume["history"], t_offset=resume["t_offset"])
