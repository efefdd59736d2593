"""Epoch series of many runs as one array: ``values[run, metric, epoch]``, NaN where a run has no value.

The analysis reads every epoch point of a study in one query straight into this
form, so grouping, bands and summaries are array operations, not loops over
points.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
import orjson
from sqlalchemy import Connection, bindparam, select, text
from sqlalchemy.orm import Session

from backend.metrics.models import MetricPoint


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


def _build(run_ids: list[int], rid: np.ndarray, codes: np.ndarray, names: list[str], xs: np.ndarray,
           values: np.ndarray) -> Dense:
    if not rid.size:
        return Dense(list(run_ids), [], np.zeros(0, dtype=np.int64), np.zeros((len(run_ids), 0, 0)))
    order = np.argsort(np.asarray(run_ids, dtype=np.int64), kind="stable")
    sorted_ids = np.asarray(run_ids, dtype=np.int64)[order]
    rows = order[np.searchsorted(sorted_ids, rid)]
    epochs, columns = np.unique(xs, return_inverse=True)
    array = np.full((len(run_ids), len(names), epochs.size), np.nan)
    array[rows, codes, columns] = values
    array[~np.isfinite(array)] = np.nan
    return Dense(list(run_ids), list(names), epochs, array)


def from_columns(run_ids: list[int], rid: Any, names: Any, xs: Any, values: Any) -> Dense:
    """Build from parallel columns of points (run id, metric name, epoch, value; None for a missing value)."""
    metric_names = sorted(set(names))
    lookup = {name: i for i, name in enumerate(metric_names)}
    codes = np.fromiter(map(lookup.__getitem__, names), dtype=np.int64, count=len(names))
    return _build(run_ids, np.asarray(rid, dtype=np.int64), codes, metric_names, np.asarray(xs, dtype=np.int64),
                  np.asarray(values, dtype=float))


# One row per (run, metric) with its epochs and values as JSON arrays: a study's
# 166,000 points arrive as 3,300 rows that orjson parses in C, instead of one
# Python tuple per point. Both aggregates walk the same rows, so the arrays line up.
# Infinities (which JSON cannot hold), NaN and magnitudes from 1e308 up go out as null,
# a missing value: SQLite prints 15 significant digits, so the largest doubles would
# come back rounded past the float range.
_AGGREGATE = {
    "sqlite": (
        "SELECT run_id, name, json_group_array(x), json_group_array(CASE WHEN abs(value) < 1e308 "
        "THEN value END) FROM metric_points "
        "WHERE run_id IN :ids AND axis = 'epoch' GROUP BY run_id, name"
    ),
    "postgresql": (
        "SELECT run_id, name, json_agg(x ORDER BY x)::text, "
        "json_agg(CASE WHEN abs(value) < 1e308 THEN value END ORDER BY x)::text FROM metric_points "
        "WHERE run_id IN :ids AND axis = 'epoch' GROUP BY run_id, name"
    ),
}


@lru_cache(maxsize=4)
def _statement(dialect: str) -> Any:
    return text(_AGGREGATE[dialect]).bindparams(bindparam("ids", expanding=True))


def _empty(run_ids: list[int]) -> Dense:
    return _build(run_ids, np.zeros(0, np.int64), np.zeros(0, np.int64), [], np.zeros(0, np.int64), np.zeros(0))


def read_dense(session: Session | Connection, run_ids: list[int]) -> Dense:
    """Every epoch point of ``run_ids`` in ONE query.

    SQLite writes a REAL into JSON with 15 significant digits, more than the
    float32 values training produces carry.
    """
    if not run_ids:
        return _empty([])
    dialect = session.get_bind().dialect.name if isinstance(session, Session) else session.dialect.name
    if dialect not in _AGGREGATE:
        return _read_points(session, run_ids)
    rows = session.execute(_statement(dialect), {"ids": list(run_ids)}).all()
    if not rows:
        return _empty(run_ids)
    names = sorted({row[1] for row in rows})
    lookup = {name: i for i, name in enumerate(names)}
    xs = orjson.loads("[" + ",".join(row[2] for row in rows) + "]")
    values = orjson.loads("[" + ",".join(row[3] for row in rows) + "]")
    counts = np.fromiter(map(len, xs), dtype=np.int64, count=len(xs))
    rid = np.repeat(np.array([row[0] for row in rows], dtype=np.int64), counts)
    codes = np.repeat(np.array([lookup[row[1]] for row in rows], dtype=np.int64), counts)
    flat_x = np.fromiter(itertools.chain.from_iterable(xs), dtype=np.int64, count=int(counts.sum()))
    # None (a missing value) becomes NaN in a float array.
    flat_values = np.array(list(itertools.chain.from_iterable(values)), dtype=float)
    return _build(run_ids, rid, codes, names, flat_x, flat_values)


def _read_points(session: Session | Connection, run_ids: list[int]) -> Dense:
    """The same, point by point, for a database without a string aggregate."""
    table = MetricPoint.__table__
    statement = select(table.c.run_id, table.c.name, table.c.x, table.c.value).where(
        table.c.run_id.in_(run_ids), table.c.axis == "epoch"
    )
    rows = session.execute(statement).all()
    columns = list(zip(*rows, strict=True)) if rows else [(), (), (), ()]
    return from_columns(run_ids, *columns)


def from_series(run_ids: list[int], series: dict[int, dict[str, dict[str, Any]]]) -> Dense:
    """Build from read_series' ``{run_id: {name: {"axis", "x", "y"}}}``, its epoch series only."""
    rid: list[int] = []
    names: list[str] = []
    xs: list[int] = []
    values: list[float | None] = []
    for run_id in run_ids:
        for name, data in series.get(run_id, {}).items():
            if data.get("axis", "epoch") != "epoch":
                continue
            count = len(data["x"])
            rid.extend([run_id] * count)
            names.extend([name] * count)
            xs.extend(data["x"])
            values.extend(data["y"])
    return from_columns(run_ids, rid, names, xs, values)
