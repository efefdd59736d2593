"""What the run paths call so studies follow their runs at once, not only on the next dispatcher pass."""

from __future__ import annotations

import logging
from typing import Any

from backend.dispatch import dispatch_runs
from backend.search.coordinator import on_run_final
from backend.search.pruning import report_epoch, tell_grid_run

log = logging.getLogger(__name__)


def run_ended(run_id: int) -> None:
    """Tell the finished run's trial and queue the next ones; best effort (the dispatcher pass retries)."""
    try:
        tell_grid_run(run_id)
        on_run_final(run_id, send=dispatch_runs)
    except Exception:  # the run's own outcome is stored; the study catches up on the next pass
        log.exception("run %s: its study was not told how it ended", run_id)


def epoch_recorded(run_id: int, points: list[dict[str, Any]]) -> None:
    """Ask the study's pruner about the run's new epoch; best effort (a missed report only prunes later)."""
    try:
        report_epoch(run_id, points)
    except Exception:
        log.exception("run %s: pruner not asked", run_id)
