"""What the run paths call so search studies follow their runs at once, not only on the next dispatcher pass."""

from __future__ import annotations

import logging

from backend.dispatch import dispatch_runs
from backend.search.coordinator import on_run_final

log = logging.getLogger(__name__)


def refill_slot(run_id: int) -> None:
    """Tell the finished run's trial and queue the next ones; best effort (the dispatcher pass retries)."""
    try:
        dispatch_runs(on_run_final(run_id))
    except Exception:  # the run's own outcome is stored; the study catches up on the next pass
        log.exception("run %s: its search study was not stepped", run_id)
