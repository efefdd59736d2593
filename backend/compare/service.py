"""Side-by-side comparison of runs: their rows, their series and the spec fields that differ."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from backend.compare.params import params_diff
from backend.db import session_scope
from backend.errors import NotFound
from backend.metrics.service import read_series
from backend.runs.models import Run
from backend.runs.service import item_from_row, items_query


def compare(
    session: Session,
    run_ids: list[int],
    names: list[str] | None,
    max_points: int,
    x_min: int | None = None,
    x_max: int | None = None,
) -> dict[str, Any]:
    """Runs, their series (step series downsampled, in ``[x_min, x_max]``) and ``params_diff``."""
    rows = session.execute(items_query().add_columns(Run.spec).where(Run.id.in_(run_ids))).all()
    by_id = {row.id: row for row in rows}
    missing = [run_id for run_id in run_ids if run_id not in by_id]
    if missing:
        label = "run" if len(missing) == 1 else "runs"
        raise NotFound(f"{label} {', '.join(map(str, missing))} not found")
    # Numpy columns: the answer goes to orjson (NaN as null, as the lists of read_series render).
    series = read_series(session, run_ids, names, x_min=x_min, x_max=x_max, max_points=max_points, arrays=True)
    return {
        "runs": [item_from_row(by_id[run_id]) for run_id in run_ids],
        "series": {run_id: series[run_id] for run_id in run_ids},
        "params_diff": params_diff({run_id: by_id[run_id].spec for run_id in run_ids}),
    }


def compare_runs(
    run_ids: list[int], names: list[str] | None, max_points: int, x_min: int | None = None, x_max: int | None = None
) -> dict[str, Any]:
    """:func:`compare` in a session of its own, for the async endpoint."""
    with session_scope() as session:
        return compare(session, run_ids, names, max_points, x_min, x_max)
