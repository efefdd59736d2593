"""Writing and reading metric points: epoch series a row each (epoch_store), step series in blocks (step_store)."""

from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import Connection, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from backend.db import get_engine
from backend.errors import NotFound
from backend.metrics.batch import Batch
from backend.metrics.epoch_store import read_epochs, write_epochs
from backend.metrics.step_store import read_steps, write_steps
from backend.runs.models import Run

AXES = ("epoch", "step")


def write_points(session: Session | Connection, run_id: int, points: Iterable[Mapping[str, Any]] | Batch) -> int:
    """Upsert ``points`` (dicts with name, axis, x, value and optional t, or a Batch) for one run.

    Epoch points are merged into their series' rows, step points into their blocks.
    A point already stored at the same (run, name, axis, x) is overwritten, so
    retrying a batch never duplicates. Returns the number of points written.
    """
    batch = points if isinstance(points, Batch) else Batch.of(points)
    if batch.epochs:
        write_epochs(session, run_id, batch.epochs)
    if batch.step_names:
        write_steps(session, run_id, batch.step_names, batch.step_x, batch.step_values, batch.step_t)
    return len(batch)


def read_series(
    session: Session | Connection,
    run_ids: list[int],
    names: list[str] | None = None,
    *,
    x_min: int | None = None,
    x_max: int | None = None,
    max_points: int | None = None,
    arrays: bool = False,
) -> dict[int, dict[str, dict[str, Any]]]:
    """The series of ``run_ids`` (optionally only ``names``) as columns.

    Returns ``{run_id: {key: {"axis", "x", "y", "t"}}}`` where ``key`` is the
    metric name; a name logged on both axes keys its step series ``name@step``.
    Step series keep their steps in ``[x_min, x_max]`` and, longer than
    ``max_points``, are downsampled (each bucket's min and max kept). Epoch
    series are small and always come whole, so a series keeps its key at any
    zoom. One query for the epoch series, at most four for the step blocks.

    ``arrays``: the columns as numpy arrays, NaN where a value or t is missing,
    for an answer orjson renders as it renders the lists (NaN as null); a
    thousand runs' series skip a Python object per point.
    """
    epochs = read_epochs(session, run_ids, names, arrays=arrays)
    steps = read_steps(session, run_ids, names, x_min, x_max, max_points, arrays)
    result: dict[int, dict[str, dict[str, Any]]] = {run_id: {} for run_id in run_ids}
    # In (name, axis) order, "epoch" before "step": the epoch series keeps the plain name.
    for (run_id, name), axis in sorted([*((k, "epoch") for k in epochs), *((k, "step") for k in steps)]):
        runs_series = result[run_id]
        if axis == "epoch":
            runs_series[name] = {"axis": "epoch", **epochs[(run_id, name)]}
        else:
            key = f"{name}@step" if name in runs_series else name
            runs_series[key] = {"axis": "step", **steps[(run_id, name)]}
    return result


def run_series(run_id: int, names: list[str] | None = None, **window: Any) -> dict[str, dict[str, Any]]:
    """:func:`read_series` of one run in a connection of its own, as arrays for the JSON answer; NotFound if the
    run does not exist.

    ``window``: read_series' ``x_min``, ``x_max`` and ``max_points``.
    """
    with get_engine().connect() as connection:
        if connection.scalar(select(Run.id).where(Run.id == run_id)) is None:
            raise NotFound(f"run {run_id} not found")
        return read_series(connection, [run_id], names, **window, arrays=True)[run_id]


def ingest(run_id: int, points: Iterable[Mapping[str, Any]] | Batch) -> int:
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
                connection.exec_driver_sql("SET LOCAL synchronous_commit TO OFF")
            return write_points(connection, run_id, points)
    except IntegrityError:
        with engine.connect() as connection:
            if connection.scalar(select(Run.id).where(Run.id == run_id)) is None:
                raise NotFound(f"run {run_id} not found") from None
        raise
