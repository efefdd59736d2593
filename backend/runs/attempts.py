"""A run whose attempt was lost (its worker died): back to the queue, or failed after the last one.

Each start of a run by a worker is one attempt (``Run.attempts`` counts them).
An attempt is lost when its worker stops sending heartbeats (the API's reaper)
or its worker process dies under ``reglab up``. The run then goes back to
``queued`` to resume from its last checkpoint, until ``REGLAB_MAX_ATTEMPTS``
attempts were lost; then it is ``failed`` with every attempt's reason. The
update is guarded by the state and the attempt number, so of two reapers (or a
reaper and a worker claiming it) only one acts on one attempt.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import update

from backend.runs.models import Run
from reglab.states import FAILED, QUEUED, RUNNING


def failed_message(errors: list[str], max_attempts: int, epoch: int) -> str:
    attempts = f"{len(errors)} attempt{'s' if len(errors) != 1 else ''}"
    return (
        f"the run lost its worker on {attempts} (REGLAB_MAX_ATTEMPTS={max_attempts}); its metrics up to "
        f"epoch {epoch} are kept — clone the run to train it again. " + " ".join(errors)
    )


def lose_attempt(
    executor: Any, row: Any, reason: str, now: datetime, max_attempts: int, *guards: Any
) -> str | None:
    """Re-queue or fail the running run ``row`` (id, attempts, attempt_errors, epoch) after a lost attempt.

    ``executor`` is a Session or a Connection (the caller commits); ``guards``
    are extra WHERE conditions (e.g. the heartbeat still stale). Returns the
    new state, or None when the run had moved on (finished, taken over).
    """
    errors = [*(row.attempt_errors or []), f"attempt {max(row.attempts, 1)}: {reason}."]
    if len(errors) >= max_attempts:
        values: dict[str, Any] = {
            "state": FAILED,
            "finished_at": now,
            "error": failed_message(errors, max_attempts, row.epoch),
        }
    else:
        # dispatched_at NULL: the API's dispatcher sends it again at its next pass.
        values = {"state": QUEUED, "dispatched_at": None, "started_at": None, "heartbeat_at": None,
                  "worker_host": None, "error": None}  # fmt: skip
    result = executor.execute(
        update(Run)
        .where(Run.id == row.id, Run.state == RUNNING, Run.attempts == row.attempts, *guards)
        .values(attempt_errors=errors, **values)
        .execution_options(synchronize_session=False)
    )
    return values["state"] if result.rowcount == 1 else None
