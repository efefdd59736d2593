"""Epoch series of many runs as one array: ``values[run, metric, epoch]``, NaN where a run has no value.

The analysis reads every epoch point of a study in one query straight into this
form, so grouping, bands and summaries are array operations, not loops over
points.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import Connection, Engine, and_, case, func, null, select
from sqlalchemy.orm import Session

from backend.db import BINARY_ROWS
from backend.metrics.models import MetricSeries
from backend.runs.models import Run

TABLE = MetricSeries.__table__
RUNS = Run.__table__  # Core tables: the query's rows come straight from the driver
# A series' epochs, or NULL when they are 0..n-1 (n epochs, the first 0, the last n-1: x is sorted
# and unique), as nearly every series of a study: a third less to read, and fewer blobs to key on.
_SPARSE_XS = case(
    (and_(TABLE.c.n == TABLE.c.last_x + 1, func.substr(TABLE.c.xs, 1, 4) == bytes(4)), null()), else_=TABLE.c.xs
)


@dataclass
class Dense:
    run_ids: list[int]
    names: list[str]
    x: np.ndarray  # (epochs,) the sorted epoch indices any run has
    values: np.ndarray  # (runs, metrics, epochs)

    def metric(self, name: str) -> np.ndarray:
        """``(runs, epochs)`` of one metric; all NaN when no run logged it."""
        if name in self.names:
            return self.values[:, self.names.index(name), :]
        return np.full((len(self.run_ids), self.x.size), np.nan)

    def rows(self, run_ids: list[int]) -> np.ndarray:
        index = {run_id: i for i, run_id in enumerate(self.run_ids)}
        return np.array([index[run_id] for run_id in run_ids], dtype=np.int64)


def _columns(xs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The sorted distinct epochs and each point's column among them.

    Epochs are small non-negative integers: a table lookup is several times
    faster than np.unique's sort of every point.
    """
    if xs.min() < 0 or xs.max() > 4 * xs.size + 1024:
        return np.unique(xs, return_inverse=True)
    seen = np.zeros(int(xs.max()) + 1, dtype=bool)
    seen[xs] = True
    epochs = np.flatnonzero(seen)
    column_of = np.cumsum(seen) - 1
    return epochs, column_of[xs]


def _build(run_ids: list[int], rows: np.ndarray, codes: np.ndarray, names: list[str], xs: np.ndarray,
           values: np.ndarray) -> Dense:
    """``rows``: each point's position in ``run_ids``; ``codes``: its position in ``names``."""
    if not rows.size:
        return Dense(list(run_ids), [], np.zeros(0, dtype=np.int64), np.zeros((len(run_ids), 0, 0)))
    epochs, columns = _columns(xs)
    array = np.full((len(run_ids), len(names), epochs.size), np.nan)
    array[rows, codes, columns] = values
    array[~np.isfinite(array)] = np.nan
    return Dense(list(run_ids), list(names), epochs, array)


def from_columns(run_ids: list[int], rid: Any, names: Any, xs: Any, values: Any) -> Dense:
    """Build from parallel columns of points (run id, metric name, epoch, value; None for a missing value)."""
    metric_names = sorted(set(names))
    lookup = {name: i for i, name in enumerate(metric_names)}
    codes = np.fromiter(map(lookup.__getitem__, names), dtype=np.int64, count=len(names))
    position = {run_id: i for i, run_id in enumerate(run_ids)}
    rows = np.fromiter(map(position.__getitem__, rid), dtype=np.int64, count=len(rid))
    return _build(run_ids, rows, codes, metric_names, np.asarray(xs, dtype=np.int64), np.asarray(values, dtype=float))


def _empty(run_ids: list[int]) -> Dense:
    return _build(run_ids, np.zeros(0, np.int64), np.zeros(0, np.int64), [], np.zeros(0, np.int64), np.zeros(0))


def _statement(run_ids: list[int], experiment_id: int | None, names: list[str] | None):
    if experiment_id is not None:
        runs = select(RUNS.c.id).where(RUNS.c.experiment_id == experiment_id).scalar_subquery()
        where = TABLE.c.run_id.in_(runs)
    else:
        where = TABLE.c.run_id.in_(list(run_ids))
    statement = select(TABLE.c.run_id, TABLE.c.name, TABLE.c.n, _SPARSE_XS, TABLE.c.vals).where(where)
    if names:
        statement = statement.where(TABLE.c.name.in_(list(names)))
    return statement


def _fetch(session: Session | Connection, statement) -> list[tuple]:
    # Plain tuples from the driver: the blobs need no type processing (and, on
    # PostgreSQL, arrive in the binary format: see backend.db.BINARY_ROWS).
    result = session.execute(statement, execution_options={BINARY_ROWS: True})
    fetched = result.cursor.fetchall()
    result.close()
    return fetched


def experiment_rows(engine: Engine, experiment_id: int) -> list[tuple]:
    """The rows :func:`read_dense` reads for an experiment's runs, on a connection of its own, so the
    read can run beside another (pass them to it as ``fetched``)."""
    with engine.connect() as connection:
        return _fetch(connection, _statement([], experiment_id, None))


def read_dense(
    session: Session | Connection,
    run_ids: list[int],
    experiment_id: int | None = None,
    names: list[str] | None = None,
    fetched: list[tuple] | None = None,
) -> Dense:
    """Every epoch point of ``run_ids`` in ONE query: a row per (run, metric), its blobs read with np.frombuffer.

    A study's 166,000 points arrive as 3,300 rows; missing values are NaN in the
    stored values already (epoch_series), so the flags need not be read.
    ``experiment_id``: ``run_ids`` are that experiment's runs, selected by it (a
    thousand ids bound one by one cost more than the query); rows of runs not in
    ``run_ids`` (created since) are left out. ``names``: only these metrics.
    ``fetched``: that experiment's rows, read already by :func:`experiment_rows`.
    """
    if not run_ids:
        return _empty([])
    if fetched is None:
        fetched = _fetch(session, _statement(run_ids, experiment_id, names))
    position = {run_id: i for i, run_id in enumerate(run_ids)}
    if experiment_id is not None:
        fetched = [row for row in fetched if row[0] in position]
    if not fetched:
        return _empty(run_ids)
    rid_, names_, counts_, xs, vals = zip(*fetched, strict=True)
    names = sorted(set(names_))
    lookup = {name: i for i, name in enumerate(names)}
    rows = np.array([position[run_id] for run_id in rid_], dtype=np.int64)
    codes = np.array([lookup[name] for name in names_], dtype=np.int64)
    # Series of a study mostly share their epochs (0..49): each distinct set of
    # epochs is placed once, its series as one (series, epochs) block, instead of
    # placing every point on its own. A series over 0..n-1 is keyed by n.
    layouts: dict[bytes | int, int] = {}
    layout = np.array([layouts.setdefault(n if x is None else x, len(layouts)) for n, x in zip(counts_, xs)], np.int64)
    epochs_of = [np.arange(x) if isinstance(x, int) else np.frombuffer(x, "<i4").astype(np.int64) for x in layouts]
    epochs, _ = _columns(np.concatenate(epochs_of))
    values = np.full((len(run_ids), len(names), epochs.size), np.nan)
    flat = np.frombuffer(b"".join(vals), "<f8")
    if not np.isfinite(flat).all():  # a logged infinity; missing values are NaN already
        flat = np.where(np.isfinite(flat), flat, np.nan)
    if len(epochs_of) == 1 and epochs_of[0].size == epochs.size:
        # The usual study: every series over the same epochs, copied row by row.
        values[rows, codes] = flat.reshape(len(rows), epochs.size)
        return Dense(list(run_ids), names, epochs, values)
    counts = np.array([len(v) for v in vals], dtype=np.int64) // 8
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    for index, x in enumerate(epochs_of):
        if not x.size:
            continue
        members = np.flatnonzero(layout == index)
        block = flat[starts[members, None] + np.arange(x.size)]
        if x.size == epochs.size:
            values[rows[members], codes[members]] = block
        else:
            values[rows[members, None], codes[members, None], np.searchsorted(epochs, x)] = block
    return Dense(list(run_ids), names, epochs, values)
