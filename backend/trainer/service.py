"""The guarded transactions of a run's trainer: claim, heartbeat, progress, epochs, finish.

Every change is one short transaction guarded by the run's state, so a
redelivered or duplicate task is harmless: a final run is never touched, a
run another live trainer holds (fresh heartbeat) is left alone, and a run
left ``running`` by a dead worker (stale heartbeat) is taken over. A
taken-over or re-queued run keeps its stored points: the worker resumes it
from its last checkpoint, and its first write replaces only what came after.

Each claim is a new attempt (``Run.attempts`` + 1), and every later write is
guarded by the attempt number too: a worker that was taken for dead (its run
re-queued and claimed by another) but comes back can no longer write points,
progress or an outcome, so a run is never trained twice at once.
"""

from __future__ import annotations

import dataclasses
import logging
from datetime import timedelta
from functools import lru_cache
from typing import Any, NamedTuple

import redis
from sqlalchemy import and_, bindparam, or_, select, update

from backend import events
from backend.artifacts import remove_checkpoints
from backend.channels import PRUNE_PREFIX, REQUEUE, cancel_key
from backend.db import get_engine, session_scope
from backend.errors import Conflict, NotFound
from backend.experiments.models import Experiment
from backend.metrics.batch import Batch
from backend.metrics.epoch_store import drop_epochs_from, read_epochs
from backend.metrics.service import write_points
from backend.metrics.step_store import drop_steps_from
from backend.runs.models import Run
from backend.settings import get_settings
from backend.storage import latest_checkpoint
from backend.timeutil import utcnow
from backend.trainer.external import external_spec, is_external
from backend.trainer.live import publish_points
from backend.trainer.summary import complete_summary
from reglab.states import CANCELLED, FAILED, PRUNED, QUEUED, RUNNING

log = logging.getLogger(__name__)

RESUME_METRICS = ("loss", "accuracy", "val_loss", "val_accuracy")


@dataclasses.dataclass(frozen=True)
class Claim:
    run_id: int
    spec: dict[str, Any]
    restarted: bool
    attempt: int
    epochs: int


class ClaimLost(Conflict):
    """The run is no longer this attempt's to train (re-queued after its trainer went silent, finished, ...)."""


def lost(run_id: int, attempt: int) -> ClaimLost:
    return ClaimLost(f"run {run_id} is no longer attempt {attempt}'s to train; stop training it")


def claim(run_id: int, worker_host: str) -> Claim | None:
    """Move the run to ``running`` for this worker, or return None if it is not ours to train.

    Claimable: ``queued``, or ``running`` with a heartbeat older than
    HEARTBEAT_TIMEOUT_S (its worker died; the broker redelivered the task).
    Stored points are kept for a resume (see :func:`record_epoch`). An
    external run that reached a worker (re-queued after its client vanished)
    cannot be trained here: it is failed instead.
    """
    now = utcnow()
    stale = now - timedelta(seconds=get_settings().HEARTBEAT_TIMEOUT_S)
    with session_scope() as session:
        previous = session.execute(
            select(Run.state, Run.spec, Run.attempts, Run.attempt_errors, Run.epochs).where(Run.id == run_id)
        ).one_or_none()
        if previous is None:
            raise NotFound(f"run {run_id} not found")
        if is_external(previous.spec):
            if previous.state == QUEUED:
                _fail_external(session, run_id)
            return None
        attempt = previous.attempts + 1
        errors = list(previous.attempt_errors or [])
        if previous.state == RUNNING:
            errors.append(f"attempt {previous.attempts}: taken over after its worker stopped responding.")
        result = session.execute(
            update(Run)
            .where(
                Run.id == run_id,
                Run.attempts == previous.attempts,
                or_(
                    Run.state == QUEUED,
                    and_(Run.state == RUNNING, or_(Run.heartbeat_at.is_(None), Run.heartbeat_at < stale)),
                ),
            )
            .values(
                state=RUNNING, started_at=now, finished_at=None, heartbeat_at=now, error=None,
                worker_host=worker_host, epoch=0, epoch_seconds=None, summary={}, artifact_path=None,
                model_summary=None, attempts=attempt, attempt_errors=errors,
            )  # fmt: skip
            .execution_options(synchronize_session=False)
        )
        if result.rowcount != 1:
            return None
    events.publish_state(run_id, RUNNING, epoch=0, epochs=previous.epochs, error=None)
    return Claim(run_id, previous.spec, previous.state == RUNNING, attempt, previous.epochs)


def _fail_external(session, run_id: int) -> None:
    session.execute(
        update(Run)
        .where(Run.id == run_id, Run.state == QUEUED)
        .values(state=FAILED, finished_at=utcnow(), error="the external run's client stopped reporting; "
                "an external run cannot be resumed by a worker")  # fmt: skip
    )
    events.publish_state(run_id, FAILED)


def stored_epochs(run_id: int, epochs: int) -> tuple[list[dict[str, float | None]], float]:
    """The stored per-epoch values of epochs ``0..epochs-1`` (one dict per epoch) and the last ``t``.

    A resumed run's summary covers these epochs; its ``t`` offsets continue after the last one.
    """
    with session_scope() as session:
        series = read_epochs(session, [run_id], before=epochs)
    history: list[dict[str, float | None]] = [dict.fromkeys(RESUME_METRICS) for _ in range(epochs)]
    last_t = 0.0
    for (_, name), data in series.items():
        for x, value in zip(data["x"], data["y"], strict=True):
            history[x][name] = value
        last_t = max([last_t, *(t for t in data["t"] if t is not None)])
    return history, last_t


def resume_point(run_id: int) -> dict[str, Any] | None:
    """Where the claimed run continues: its checkpoint's epoch, the history before it and the last ``t``."""
    latest = latest_checkpoint(run_id)
    if latest is None or latest[0] <= 0:
        return None
    epoch = latest[0]
    history, t_offset = stored_epochs(run_id, epoch)
    return {"epoch": epoch, "history": history, "t_offset": t_offset}


def _ours(run_id: int, attempt: int):
    """The WHERE of a write by the trainer of ``attempt``."""
    return (Run.id == run_id, Run.state == RUNNING, Run.attempts == attempt)


def _update_running(run_id: int, attempt: int, **values: Any) -> None:
    with session_scope() as session:
        result = session.execute(
            update(Run).where(*_ours(run_id, attempt)).values(**values).execution_options(synchronize_session=False)
        )
        if result.rowcount != 1:
            _raise_missing_or_lost(session, run_id, attempt)


def _raise_missing_or_lost(session, run_id: int, attempt: int) -> None:
    if session.scalar(select(Run.id).where(Run.id == run_id)) is None:
        raise NotFound(f"run {run_id} not found")
    raise lost(run_id, attempt)


def hold_attempt(connection, run_id: int, attempt: int) -> None:
    """Inside the caller's transaction: touch the heartbeat of the run while it is ``attempt``'s to train, so its
    row lock keeps a reaper from re-queuing it until the caller's writes are in; NotFound or ClaimLost otherwise.

    The guard of a trainer's writes kept beside the run's other tables (e.g. its layer snapshots)."""
    result = connection.execute(
        update(Run).where(*_ours(run_id, attempt)).values(heartbeat_at=utcnow()).execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        _raise_missing_or_lost(connection, run_id, attempt)


def set_progress(run_id: int, attempt: int, **values: Any) -> None:
    """Update fields of a running run (epochs, device, backend, epoch)."""
    _update_running(run_id, attempt, **values)


def cancel_request(run_id: int) -> str | None:
    """The pending stop request of a run: ``"cancel"``, ``"requeue"`` (a pause by ``reglab up``) or None."""
    try:
        value = events.redis_client().get(cancel_key(run_id))
    except (redis.RedisError, OSError) as exc:
        log.warning("run %s: cancel requests not readable: %s", run_id, exc)
        return None
    if value is None:
        return None
    return REQUEUE if value.decode() == REQUEUE else "cancel"


def prune_reason(run_id: int) -> str | None:
    """Why the run's study pruned it, if its stop request came from the pruner."""
    try:
        value = events.redis_client().get(cancel_key(run_id))
    except (redis.RedisError, OSError):
        return None
    text = value.decode() if value is not None else ""
    return text[len(PRUNE_PREFIX) :] if text.startswith(PRUNE_PREFIX) else None


def heartbeat(run_id: int, attempt: int) -> str | None:
    """Touch ``heartbeat_at``; returns the pending stop request. ClaimLost once it is not this attempt's."""
    _update_running(run_id, attempt, heartbeat_at=utcnow())
    return cancel_request(run_id)


class EpochRecorded(NamedTuple):
    written: int
    prunes: bool  # the run's study has a pruner to ask about the new epoch


@lru_cache(maxsize=16)
def _epoch_update(progress_keys: frozenset[str]):
    """The attempt-guarded UPDATE of a run's heartbeat and progress, built once per set of progress fields.

    It returns the planned epochs and the study's pruner, so the epoch costs no other read.
    """
    runs = Run.__table__
    pruner = select(Experiment.__table__.c.pruner).where(Experiment.__table__.c.id == runs.c.experiment_id)
    return (
        update(runs)
        .where(runs.c.id == bindparam("run_id"), runs.c.state == RUNNING, runs.c.attempts == bindparam("attempt"))
        .values(heartbeat_at=bindparam("now"), **{key: bindparam(key) for key in sorted(progress_keys)})
        .returning(runs.c.epochs, pruner.scalar_subquery())
    )


def record_epoch(
    run_id: int,
    attempt: int,
    points: list[dict[str, Any]],
    progress: dict[str, Any],
    drop_from: tuple[int, int | None] | None = None,
    batch: Batch | None = None,
) -> EpochRecorded:
    """One transaction per epoch: the epoch's points (idempotent upsert), progress and heartbeat.

    ``drop_from=(epoch, step)`` first deletes the points an interrupted attempt
    stored at or after that epoch and step (step None: epoch points only).
    Raises :class:`ClaimLost` and writes nothing once the run is no longer
    that attempt's; the run's row is updated first, so its lock keeps a
    reaper from re-queuing it while the points go in. ``batch``: ``points``
    as columns, when the caller has them.
    """
    # Core statements on a connection: an ORM session adds more than the statements cost.
    with get_engine().begin() as connection:
        row = connection.execute(
            _epoch_update(frozenset(progress)), {"run_id": run_id, "attempt": attempt, "now": utcnow(), **progress}
        ).first()
        if row is None:
            _raise_missing_or_lost(connection, run_id, attempt)
        epochs, pruner = row
        if drop_from is not None:
            _drop_points_from(connection, run_id, *drop_from)
        written = write_points(connection, run_id, points if batch is None else batch)
    state = {"type": "state", "run_id": run_id, "state": RUNNING, "epoch": progress["epoch"], "epochs": epochs,
             "error": None} if "epoch" in progress else None  # fmt: skip
    publish_points(run_id, points, state)
    return EpochRecorded(written, bool(pruner) and pruner.get("name") != "none")


def _drop_points_from(session, run_id: int, epoch: int, step: int | None) -> None:
    drop_epochs_from(session, run_id, epoch)
    if step is not None:
        drop_steps_from(session, run_id, step)


def finish(run_id: int, attempt: int, state: str, **values: Any) -> dict[str, Any]:
    """Move a running run to its final ``state``; ClaimLost if it was no longer this attempt's.

    A summary lacking the final validation figures is completed from the
    stored points. The run's checkpoints go, except those of a run paused by
    ``reglab up`` (cancelled to be re-queued), and its stop request is served.
    """
    request = cancel_request(run_id)
    reason = prune_reason(run_id) if state == CANCELLED and request == "cancel" else None
    if reason is not None:  # stopped by its study's pruner, not by a person: it keeps its points and says why
        state, values["error"] = PRUNED, reason
    with session_scope() as session:
        values["summary"] = complete_summary(session, run_id, values.get("summary"))
        now = utcnow()
        result = session.execute(
            update(Run)
            .where(*_ours(run_id, attempt))
            .values(state=state, finished_at=now, heartbeat_at=now, **values)
            .execution_options(synchronize_session=False)
        )
        if result.rowcount != 1:
            _raise_missing_or_lost(session, run_id, attempt)
        row = session.execute(select(Run.epoch, Run.epochs).where(Run.id == run_id)).one()
    if not (state == CANCELLED and request == REQUEUE):
        remove_checkpoints(run_id)
    if request is not None and request != REQUEUE:
        try:
            events.redis_client().delete(cancel_key(run_id))
        except (redis.RedisError, OSError) as exc:
            log.warning("run %s: cancel key not cleared: %s", run_id, exc)
    events.publish_state(run_id, state, epoch=row.epoch, epochs=row.epochs, error=values.get("error"))
    return {"run_id": run_id, "state": state, "epoch": row.epoch, "epochs": row.epochs, "summary": values["summary"]}


def create_external(
    experiment: str, name: str, params: dict[str, Any], tags: list[str], epochs: int, worker_host: str | None,
    source: str = "api", source_key: str | None = None,
) -> tuple[Run, Experiment, bool]:
    """A running external run (attempt 1) in the experiment named ``experiment``, created on first use.

    With ``source_key``, a run already imported under it is returned instead
    (third value False): an import repeated over the same source changes nothing.
    """
    with session_scope() as session:
        found = session.scalars(select(Experiment).where(Experiment.name == experiment).order_by(Experiment.id)).first()
        if found is None:
            found = Experiment(name=experiment, description="", tags=[], base={}, grid={})
            session.add(found)
            session.flush()
        if source_key is not None:
            for run in session.scalars(select(Run).where(Run.experiment_id == found.id)):
                if is_external(run.spec) and run.spec["external"].get("source_key") == source_key:
                    session.expunge(run)
                    session.expunge(found)
                    return run, found, False
        now = utcnow()
        run = Run(
            experiment_id=found.id, name=name, spec=external_spec(params, source, source_key, tags), tags=list(tags), state=RUNNING,
            epoch=0, epochs=epochs, summary={}, started_at=now, heartbeat_at=now, worker_host=worker_host,
            attempts=1, attempt_errors=[],
        )  # fmt: skip
        session.add(run)
        session.flush()
        session.refresh(run)
        session.expunge(run)
        session.expunge(found)
    events.publish_queued([run.id], [found.id], state="running")
    events.publish_state(run.id, RUNNING, experiment_id=found.id, epoch=0, epochs=epochs, error=None)
    return run, found, True
