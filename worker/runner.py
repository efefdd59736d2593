"""Execute one run: claim it, train it, record the outcome.

``execute_run(run_id)`` is what the Celery task calls. It loads the spec from
the database (never from the message), keeps the heartbeat and the cancel
listener alive while training, and always leaves the run in a final state
with a message a person can act on when it fails (the traceback goes to the
worker log only).
"""

from __future__ import annotations

import logging
import os
import socket
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import ValidationError

from backend.runs.states import CANCELLED, COMPLETED, FAILED
from backend.settings import get_settings
from backend.spec import RunSpec
from worker import runs
from worker.heartbeat import Heartbeat
from worker.live import CancelWatcher, Publisher

if TYPE_CHECKING:  # Keras loads only in the process that trains (see _train)
    from worker.training.checkpoint import CheckpointStore, Resume

log = logging.getLogger(__name__)

SKIPPED = "skipped"


def worker_host() -> str:
    """This process as recorded on the run: "host (pid N)" (``reglab up`` finds its runs by it)."""
    return f"{socket.gethostname()} (pid {os.getpid()})"


def artifact_path(run_id: int) -> Path:
    return (get_settings().artifacts_dir / f"run-{run_id}.keras").resolve()


def checkpoints(run_id: int) -> "CheckpointStore":
    """The run's resume checkpoint files (see :mod:`worker.training.checkpoint`)."""
    from worker.training.checkpoint import CheckpointStore

    return CheckpointStore(run_id, get_settings().artifacts_dir)


def resume_point(run_id: int) -> "Resume | None":
    """Where an interrupted run continues (a :class:`Resume`), or None to start from epoch 0."""
    from worker.training.checkpoint import Resume

    latest = checkpoints(run_id).latest()
    if latest is None:
        return None
    epoch, path = latest
    history, t_offset = runs.stored_epochs(run_id, epoch)
    return Resume(epoch=epoch, model_path=path, history=history, t_offset=t_offset)


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


def execute_run(run_id: int) -> str:
    """Train run ``run_id`` if it is ours to train; returns its final state or ``"skipped"``."""
    claim = runs.claim(run_id, worker_host())
    if claim is None:
        log.info("run %s: not claimable (missing, final, or alive on another worker); nothing to do", run_id)
        return SKIPPED
    if claim.restarted:
        log.warning("run %s: its worker died; taking it over", run_id)
    attempt = claim.attempt
    log.info("run %s: attempt %s", run_id, attempt)
    publisher = Publisher(run_id)
    epochs = 0
    watcher = CancelWatcher(run_id).start()
    # Taken for dead and re-queued while alive (a network partition): stop within a batch.
    heartbeat = Heartbeat(run_id, attempt=attempt, on_lost=watcher.event.set).start()
    try:
        spec = RunSpec.model_validate(claim.spec)
        epochs = spec.training.epochs
        runs.set_progress(run_id, attempt, epochs=epochs)
        publisher.state(runs.RUNNING, 0, epochs)
        state, values = _train(run_id, attempt, spec, publisher, watcher)
    except Exception as error:  # includes Celery's SoftTimeLimitExceeded; a dying worker's
        # KeyboardInterrupt/SystemExit propagate: the run's stale heartbeat lets it be recovered.
        log.exception("run %s failed", run_id)
        state, values = FAILED, {"error": failure_message(error)}
    finally:
        heartbeat.stop()
        watcher.stop()
    if not runs.finish(run_id, state, attempt, **values):
        log.warning("run %s: no longer attempt %s's when it finished as %s; outcome dropped", run_id, attempt, state)
        return (runs.current(run_id) or {}).get("state", SKIPPED)
    if not (state == CANCELLED and watcher.requeue):  # a paused run resumes from it later
        checkpoints(run_id).delete()
    watcher.clear_request()
    final_epoch = (runs.current(run_id) or {}).get("epoch", 0)
    publisher.state(state, final_epoch, epochs, values.get("error"))
    log.info("run %s: %s", run_id, state)
    return state


def _train(run_id: int, attempt: int, spec: RunSpec, publisher: Publisher, watcher: CancelWatcher) -> tuple[str, dict]:
    # Keras and TensorFlow load here, in the worker process that trains, never
    # at import: a prefork parent must not hold TensorFlow's threads across fork.
    from worker.training import environment, model as model_module
    from worker.training.tracking import EpochRecorder
    from worker.training.trainer import train

    if watcher.event.is_set():  # cancelled while queued: no need to load anything
        return CANCELLED, {"summary": {"epochs_trained": 0}}
    runs.set_progress(
        run_id,
        attempt,
        backend=environment.backend_name(),
        device=environment.device_name(),
    )
    resume = resume_point(run_id)
    if resume is not None:
        log.info("run %s: resuming from its checkpoint after epoch %s", run_id, resume.epoch)
        runs.set_progress(run_id, attempt, epoch=resume.epoch)
    result = train(
        spec,
        EpochRecorder(run_id, spec.training.epochs, publisher, attempt=attempt),
        cancel=watcher.event,
        checkpoint=checkpoints(run_id),
        checkpoint_interval_s=get_settings().CHECKPOINT_INTERVAL_S,
        resume=resume,
    )
    values: dict = {"summary": result.summary, "model_summary": model_module.describe(result.model)}
    if result.state == COMPLETED:
        path = artifact_path(run_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        result.model.save(path)
        values["artifact_path"] = str(path)
    return result.state, values
