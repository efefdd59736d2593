"""Writing and reading metric points: epoch series row per point, step series in blocks (step_store)."""

from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import Any

from sqlalchemy import Connection, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from backend.db import get_engine
from backend.errors import NotFound
from backend.metrics.models import MetricPoint
from backend.metrics.step_store import read_steps, write_steps
from backend.runs.models import Run

AXES = ("epoch", "step")


@lru_cache(maxsize=4)
def _upsert(dialect: str):
    """The upsert statement, built once per dialect: building it costs more than running a small batch."""
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    # On the Core table, not the ORM class, so a batch skips the ORM's bulk-insert bookkeeping.
    statement = insert(MetricPoint.__table__)
    return statement.on_conflict_do_update(
        index_elements=["run_id", "name", "axis", "x"],
        set_={"value": statement.excluded.value, "t": statement.excluded.t},
    )


def write_points(session: Session | Connection, run_id: int, points: Iterable[Mapping[str, Any]]) -> int:
    """Upsert ``points`` (dicts with name, axis, x, value and optional t) for one run.

    Epoch points: one multi-row statement; step points: merged into their blocks.
    A point already stored at the same (run, name, axis, x) is overwritten, so
    retrying a batch never duplicates. Returns the number of points written.
    """
    points = points if isinstance(points, list) else list(points)
    steps = [p for p in points if p.get("axis") == "step"]
    rows = [
        {
            "run_id": run_id,
            "name": p["name"],
            "axis": "epoch",
            "x": int(p["x"]),
            "value": None if p.get("value") is None else float(p["value"]),
            "t": None if p.get("t") is None else float(p["t"]),
        }
        for p in points
        if p.get("axis", "epoch") != "step"
    ]
    if rows:
        dialect = session.get_bind().dialect.name if isinstance(session, Session) else session.dialect.name
        statement = _upsert(dialect)
        # SQLite caps bound parameters per statement; 6 per row keeps chunks well under it.
        for start in range(0, len(rows), 5000):
            session.execute(statement, rows[start : start + 5000])
    if steps:
        # Columns for numpy (None becomes NaN there): a comprehension per column beats a loop per point.
        write_steps(session, run_id, [p["name"] for p in steps], [p["x"] for p in steps],
                    [p.get("value") for p in steps], [p.get("t") for p in steps])  # fmt: skip
    return len(rows) + len(steps)


def read_series(
    session: Session | Connection,
    run_ids: list[int],
    names: list[str] | None = None,
    *,
    x_min: int | None = None,
    x_max: int | None = None,
    max_points: int | None = None,
) -> dict[int, dict[str, dict[str, Any]]]:
    """The series of ``run_ids`` (optionally only ``names``) as columns.

    Returns ``{run_id: {key: {"axis", "x", "y", "t"}}}`` where ``key`` is the
    metric name; a name logged on both axes keys its step series ``name@step``.
    Step series keep their steps in ``[x_min, x_max]`` and, longer than
    ``max_points``, are downsampled (each bucket's min and max kept). Epoch
    series are small and always come whole, so a series keeps its key at any
    zoom. One query for the epoch points, at most four for the step blocks.
    """
    table = MetricPoint.__table__
    statement = select(table.c.run_id, table.c.name, table.c.x, table.c.value, table.c.t)
    statement = statement.where(table.c.run_id.in_(run_ids), table.c.axis == "epoch")
    if names:
        statement = statement.where(table.c.name.in_(names))
    statement = statement.order_by(table.c.run_id, table.c.name, table.c.axis, table.c.x)
    cursor_result = session.execute(statement)
    # Plain tuples from the driver: these columns need no type processing, and
    # building a Row per point costs more than the query itself.
    rows = cursor_result.cursor.fetchall()
    cursor_result.close()
    epochs: dict[tuple[int, str], dict[str, Any]] = {}
    # Split the sorted rows into series, then transpose each slice at C speed.
    start = 0
    for end in range(1, len(rows) + 1):
        if end < len(rows) and rows[end][:2] == rows[start][:2]:
            continue
        run_id, name = rows[start][:2]
        _, _, xs, ys, ts = zip(*rows[start:end], strict=True)
        epochs[(run_id, name)] = {"axis": "epoch", "x": list(xs), "y": list(ys), "t": list(ts)}
        start = end
    steps = read_steps(session, run_ids, names, x_min, x_max, max_points)
    result: dict[int, dict[str, dict[str, Any]]] = {run_id: {} for run_id in run_ids}
    # In (name, axis) order, "epoch" before "step": the epoch series keeps the plain name.
    for (run_id, name), axis in sorted([*((k, "epoch") for k in epochs), *((k, "step") for k in steps)]):
        runs_series = result[run_id]
        if axis == "epoch":
            runs_series[name] = epochs[(run_id, name)]
        else:
            key = f"{name}@step" if name in runs_series else name
            runs_series[key] = {"axis": "step", **steps[(run_id, name)]}
    return result


def run_series(run_id: int, names: list[str] | None = None, **window: Any) -> dict[str, dict[str, Any]]:
    """:func:`read_series` of one run in a connection of its own; NotFound if the run does not exist.

    ``window``: read_series' ``x_min``, ``x_max`` and ``max_points``.
    """
    with get_engine().connect() as connection:
        if connection.scalar(select(Run.id).where(Run.id == run_id)) is None:
            raise NotFound(f"run {run_id} not found")
        return read_series(connection, [run_id], names, **window)[run_id]


def ingest(run_id: int, points: Iterable[Mapping[str, Any]]) -> int:
    """Store a batch for ``run_id`` in one transaction; NotFound if the run does not exist.

    The run's existence is left to the foreign key, so a batch costs one
    statement; only a failing batch pays for the lookup that explains it.
    """
    engine = get_engine()
    try:
        with engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                # Points are idempotent and re-sendable: a crash may lose the last instant of
                # them, never corrupt anything, and each batch stops waiting for a disk flush.
                connection.execute(text("SET LOCAL synchronous_commit TO OFF"))
            return write_points(connection, run_id, points)
    except IntegrityError:
        with engine.connect() as connection:
            if connection.scalar(select(Run.id).where(Run.id == run_id)) is None:
                raise NotFound(f"run {run_id} not found") from None
        raise
