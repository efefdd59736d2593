"""The worker's side of a run's record: claim it, report progress, finish it.

Every change is one short transaction guarded by the run's state, so a
redelivered or duplicate task is harmless: a final run is never touched, a
run another live worker holds (fresh heartbeat) is left alone, and a run
left ``running`` by a dead worker (stale heartbeat) is taken over. A
taken-over or re-queued run keeps its stored points: the runner resumes it
from its last checkpoint, and its first write replaces only what came after.

Each claim is a new attempt (``Run.attempts`` + 1), and every later write of
the worker is guarded by its attempt number too: a worker that was taken for
dead (its run re-queued and claimed by another) but comes back can no longer
write points, progress or an outcome, so a run is never trained twice at once.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import and_, delete, func, or_, select, update

import backend.models  # noqa: F401  every table, so Run's relationships resolve in a worker process
from backend.db import session_scope
from backend.metrics.models import MetricPoint
from backend.metrics.service import write_points
from backend.runs.models import Run
from backend.runs.states import QUEUED, RUNNING
from backend.settings import get_settings


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


@dataclasses.dataclass(frozen=True)
class Claim:
    run_id: int
    spec: dict[str, Any]
    restarted: bool
    attempt: int = 1


class ClaimLost(RuntimeError):
    """The run is no longer this attempt's to train (re-queued after its worker went silent, deleted, ...)."""


def claim(run_id: int, worker_host: str) -> Claim | None:
    """Move the run to ``running`` for this worker, or return None if it is not ours to train.

    Claimable: ``queued``, or ``running`` with a heartbeat older than
    HEARTBEAT_TIMEOUT_S (its worker died; the broker redelivered the task).
    Stored points are kept for a resume (see :func:`record_epoch`).
    """
    now = utcnow()
    stale = now - timedelta(seconds=get_settings().HEARTBEAT_TIMEOUT_S)
    with session_scope() as session:
        previous = session.execute(
            select(Run.state, Run.spec, Run.attempts, Run.attempt_errors, Run.epoch).where(Run.id == run_id)
        ).one_or_none()
        if previous is None:
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
                state=RUNNING,
                started_at=now,
                finished_at=None,
                heartbeat_at=now,
                error=None,
                worker_host=worker_host,
                epoch=0,
                epoch_seconds=None,
                summary={},
                artifact_path=None,
                model_summary=None,
                attempts=attempt,
                attempt_errors=errors,
            )
            .execution_options(synchronize_session=False)
        )
        if result.rowcount != 1:
            return None
        return Claim(run_id=run_id, spec=previous.spec, restarted=previous.state == RUNNING, attempt=attempt)


def stored_epochs(run_id: int, epochs: int) -> tuple[list[dict[str, float | None]], float]:
    """The stored per-epoch values of epochs ``0..epochs-1`` (one dict per epoch) and the last ``t``.

    A resumed run's summary covers these epochs; its ``t`` offsets continue after the last one.
    """
    with session_scope() as session:
        rows = session.execute(
            select(MetricPoint.name, MetricPoint.x, MetricPoint.value).where(
                MetricPoint.run_id == run_id, MetricPoint.axis == "epoch", MetricPoint.x < epochs
            )
        ).all()
        last_t = session.scalar(
            select(func.max(MetricPoint.t)).where(
                MetricPoint.run_id == run_id, MetricPoint.axis == "epoch", MetricPoint.x < epochs
            )
        )
    history: list[dict[str, float | None]] = [
        dict.fromkeys(("loss", "accuracy", "val_loss", "val_accuracy")) for _ in range(epochs)
    ]
    for name, x, value in rows:
        history[int(x)][name] = value
    return history, float(last_t or 0.0)


def _ours(run_id: int, attempt: int | None):
    """The WHERE of a write by the worker of ``attempt`` (None: whichever attempt is running)."""
    conditions = [Run.id == run_id, Run.state == RUNNING]
    if attempt is not None:
        conditions.append(Run.attempts == attempt)
    return conditions


def _update_running(run_id: int, attempt: int | None = None, **values: Any) -> bool:
    with session_scope() as session:
        result = session.execute(
            update(Run)
            .where(*_ours(run_id, attempt))
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        return result.rowcount == 1


def set_progress(run_id: int, attempt: int | None = None, **values: Any) -> bool:
    """Update fields of a running run (epochs, device, backend, ...)."""
    return _update_running(run_id, attempt, **values)


def heartbeat(run_id: int, attempt: int | None = None) -> bool:
    """Touch ``heartbeat_at``; False once the run is no longer running (as this attempt)."""
    return _update_running(run_id, attempt, heartbeat_at=utcnow())


def record_epoch(
    run_id: int,
    points: list[dict[str, Any]],
    progress: dict[str, Any],
    drop_from: tuple[int, int | None] | None = None,
    attempt: int | None = None,
) -> None:
    """One transaction per epoch: the epoch's points (idempotent upsert), progress and heartbeat.

    ``drop_from=(epoch, step)`` first deletes the points an interrupted attempt
    stored at or after that epoch and step (step None: epoch points only).
    With ``attempt``, raises :class:`ClaimLost` and writes nothing once the run
    is no longer that attempt's; the run's row is updated first, so its lock
    keeps a reaper from re-queuing it while the points go in.
    """
    with session_scope() as session:
        result = session.execute(
            update(Run)
            .where(*_ours(run_id, attempt))
            .values(heartbeat_at=utcnow(), **progress)
            .execution_options(synchronize_session=False)
        )
        if attempt is not None and result.rowcount != 1:
            raise ClaimLost(f"run {run_id} is no longer attempt {attempt}'s to train; stopping")
        if drop_from is not None:
            _drop_points_from(session, run_id, *drop_from)
        write_points(session, run_id, points)


def _drop_points_from(session, run_id: int, epoch: int, step: int | None) -> None:
    later = and_(MetricPoint.axis == "epoch", MetricPoint.x >= epoch)
    if step is not None:
        later = or_(later, and_(MetricPoint.axis == "step", MetricPoint.x >= step))
    session.execute(delete(MetricPoint).where(MetricPoint.run_id == run_id, later))


def finish(run_id: int, state: str, attempt: int | None = None, **values: Any) -> bool:
    """Move a running run to its final ``state``; False if it was no longer running (as this attempt)."""
    return _update_running(run_id, attempt, state=state, finished_at=utcnow(), heartbeat_at=utcnow(), **values)


def current(run_id: int) -> dict[str, Any] | None:
    """The run's state fields, for logging and tests."""
    with session_scope() as session:
        run = session.get(Run, run_id)
        if run is None:
            return None
        return {
            "state": run.state,
            "epoch": run.epoch,
            "epochs": run.epochs,
            "error": run.error,
            "attempts": run.attempts,
            "attempt_errors": run.attempt_errors,
        }
