"""Writing and reading metric points."""

from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from backend.metrics.models import MetricPoint

AXES = ("epoch", "step")


def write_points(session: Session | Connection, run_id: int, points: Iterable[Mapping[str, Any]]) -> int:
    """Upsert ``points`` (dicts with name, axis, x, value and optional t) for one run.

    One multi-row statement per call; a point already stored at the same
    (run, name, axis, x) is overwritten, so retrying a batch never duplicates.
    Returns the number of points written.
    """
    rows = [
        {
            "run_id": run_id,
            "name": p["name"],
            "axis": p.get("axis", "epoch"),
            "x": int(p["x"]),
            "value": None if p.get("value") is None else float(p["value"]),
            "t": None if p.get("t") is None else float(p["t"]),
        }
        for p in points
    ]
    if not rows:
        return 0
    dialect = session.get_bind().dialect.name if isinstance(session, Session) else session.dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    statement = insert(MetricPoint)
    statement = statement.on_conflict_do_update(
        index_elements=["run_id", "name", "axis", "x"],
        set_={"value": statement.excluded.value, "t": statement.excluded.t},
    )
    # SQLite caps bound parameters per statement; 6 per row keeps chunks well under it.
    for start in range(0, len(rows), 5000):
        session.execute(statement, rows[start : start + 5000])
    return len(rows)
