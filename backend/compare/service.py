"""Side-by-side comparison of runs: their rows, their series and the spec fields that differ."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from backend.db import session_scope
from backend.errors import InvalidInput, NotFound, field_error
from backend.metrics.downsample import shrink
from backend.metrics.service import read_series
from backend.runs.models import Run
from backend.runs.service import item_from_row, items_query
from backend.trainer.external import run_params

MAX_RUNS = 100
_MISSING = object()


def parse_run_ids(text: str) -> list[int]:
    """``"1,2,3"`` -> ``[1, 2, 3]`` (duplicates dropped, order kept); 422 on anything else."""
    ids: list[int] = []
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        if not part.isdigit() or not 1 <= int(part) <= 2**31 - 1:
            raise InvalidInput([field_error("run_ids", f"must be comma-separated run ids ≥ 1, got {part[:40]!r}")])
        ids.append(int(part))
    ids = list(dict.fromkeys(ids))
    if not ids:
        raise InvalidInput([field_error("run_ids", "must name at least 1 run id, got none")])
    if len(ids) > MAX_RUNS:
        raise InvalidInput([field_error("run_ids", f"must name at most {MAX_RUNS} runs, got {len(ids)}")])
    return ids


def params_diff(specs: dict[int, dict[str, Any]]) -> dict[str, dict[int, Any]]:
    """Flattened spec fields (an external run's params) whose values differ across runs: ``{field: {run_id: value}}``.

    A field one spec lacks (e.g. ``schedule.s`` of a constant schedule) shows as null.
    """
    flat = {run_id: run_params(spec) for run_id, spec in specs.items()}
    fields = list(dict.fromkeys(key for values in flat.values() for key in values))
    diff = {}
    for field in fields:
        values = {run_id: values.get(field, _MISSING) for run_id, values in flat.items()}
        distinct = {repr(v) for v in values.values()}
        if len(distinct) > 1:
            diff[field] = {run_id: (None if v is _MISSING else v) for run_id, v in values.items()}
    return diff


def compare(session: Session, run_ids: list[int], names: list[str] | None, max_points: int) -> dict[str, Any]:
    """Runs, their series and ``params_diff``: one query for the runs, one for every point."""
    rows = session.execute(items_query().add_columns(Run.spec).where(Run.id.in_(run_ids))).all()
    by_id = {row.id: row for row in rows}
    missing = [run_id for run_id in run_ids if run_id not in by_id]
    if missing:
        label = "run" if len(missing) == 1 else "runs"
        raise NotFound(f"{label} {', '.join(map(str, missing))} not found")
    series = read_series(session, run_ids, names)
    return {
        "runs": [item_from_row(by_id[run_id]) for run_id in run_ids],
        "series": {run_id: shrink(series[run_id], max_points) for run_id in run_ids},
        "params_diff": params_diff({run_id: by_id[run_id].spec for run_id in run_ids}),
    }


def compare_runs(run_ids: list[int], names: list[str] | None, max_points: int) -> dict[str, Any]:
    """:func:`compare` in a session of its own, for the async endpoint."""
    with session_scope() as session:
        return compare(session, run_ids, names, max_points)
