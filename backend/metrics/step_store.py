"""Step series in the ``metric_blocks`` table: merge-on-write, level-of-detail reads, truncation on resume.

A downsampled read runs at most four statements: the blocks' scalar columns,
the raw values of the (at most two) blocks per series a window cuts through,
then only the blobs the chosen level needs: summaries of whole blocks, or raw
values when few points are drawn. Zoomed out, that is two statements.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from itertools import groupby
from typing import Any

import numpy as np
from sqlalchemy import Connection, bindparam, delete, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from backend.db import BINARY_ROWS
from backend.metrics import blocks as B
from backend.locks import dialect_of as _dialect
from backend.locks import lock_run as _lock
from backend.metrics.models import MetricBlock

STEP = "step"
TABLE = MetricBlock.__table__

@lru_cache(maxsize=4)
def _upsert(dialect: str):
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    statement = insert(TABLE)
    return statement.on_conflict_do_update(
        index_elements=["run_id", "name", "axis", "block"], set_={c: statement.excluded[c] for c in B.COLUMNS}
    )


# Plain SQL, built once: building a select per write costs more than running it. Every wanted name with every
# wanted block: a superset of the wanted pairs (a batch touches one or two blocks of a few names), filtered after.
_STORED = text("SELECT name, block, vals, ts, present FROM metric_blocks WHERE run_id = :run_id AND axis = 'step' "
               "AND name IN :names AND block IN :blocks").bindparams(bindparam("names", expanding=True),
                                                                     bindparam("blocks", expanding=True))  # fmt: skip


def _blobs(session: Session | Connection, run_id: int, wanted: dict[str, list[int]]) -> dict[tuple[str, int], tuple]:
    """The stored (vals, ts, present) of the ``wanted`` blocks of one run, by (name, block)."""
    blocks = sorted({block for ids in wanted.values() for block in ids})
    rows = session.execute(_STORED, {"run_id": run_id, "names": list(wanted), "blocks": blocks})
    return {(name, block): (vals, ts, present) for name, block, vals, ts, present in rows}


def _store(session: Session | Connection, run_id: int, names: list[str], rows: list[dict[str, Any]]) -> None:
    """Upsert the encoded blocks in one statement; delete those left empty."""
    kept = [{"run_id": run_id, "name": name, "axis": STEP, **row} for name, row in zip(names, rows) if row["n"]]
    gone = [(name, row["block"]) for name, row in zip(names, rows) if not row["n"]]
    if kept:
        session.execute(_upsert(_dialect(session)), kept)
    for name, block in gone:
        session.execute(delete(TABLE).where(TABLE.c.run_id == run_id, TABLE.c.name == name, TABLE.c.axis == STEP,
                                            TABLE.c.block == block))  # fmt: skip


def write_steps(session: Session | Connection, run_id: int, names: Sequence[str], x, y, t) -> None:
    """Merge step points into their blocks: one SELECT of the touched blocks, one upsert.

    A point sent again overwrites itself; within one batch the last of a step wins.
    ``y`` and ``t`` may hold None or NaN for missing.
    """
    if not len(names):
        return
    codes = {name: i for i, name in enumerate(dict.fromkeys(names))}
    code = np.array([codes[name] for name in names], np.int64)
    x = np.asarray(x, np.int64)
    y = np.asarray(y, np.float64).astype("<f4")
    t = np.asarray(t, np.float64).astype("<f4")
    key = (code << 32) | (x // B.BLOCK)
    keys, which = np.unique(key, return_inverse=True)
    offset = x % B.BLOCK
    # The last of a repeated (name, step) wins: the first occurrence in the reversed batch.
    _, last = np.unique((which * B.BLOCK + offset)[::-1], return_index=True)
    last = len(x) - 1 - last
    by_code = list(codes)
    block_names = [by_code[k >> 32] for k in keys.tolist()]
    block_ids = keys & 0xFFFFFFFF
    wanted: dict[str, list[int]] = {}
    for name, block in zip(block_names, block_ids.tolist()):
        wanted.setdefault(name, []).append(block)
    _lock(session, run_id)
    stored = _blobs(session, run_id, wanted)
    values, ts, present = B.dense([stored.get((n, b), (b"", b"", b"")) for n, b in zip(block_names, block_ids.tolist())])
    rows, cols = which[last], offset[last]
    values[rows, cols] = y[last]
    ts[rows, cols] = t[last]
    present[rows, cols] = True
    _store(session, run_id, block_names, B.encode(block_ids, values, ts, present))


def drop_steps_from(session: Session | Connection, run_id: int, step: int) -> None:
    """Delete the run's step points at ``step`` and after (a resumed run replaces what came after its checkpoint)."""
    _lock(session, run_id)
    first_whole = -(-step // B.BLOCK)
    session.execute(delete(TABLE).where(TABLE.c.run_id == run_id, TABLE.c.axis == STEP, TABLE.c.block >= first_whole))
    if step % B.BLOCK == 0:
        return
    cut = step // B.BLOCK
    statement = select(TABLE.c.name, TABLE.c.vals, TABLE.c.ts, TABLE.c.present).where(
        TABLE.c.run_id == run_id, TABLE.c.axis == STEP, TABLE.c.block == cut
    )
    stored = session.execute(statement).all()
    if not stored:
        return
    values, ts, present = B.dense([tuple(row[1:]) for row in stored])
    present[:, step % B.BLOCK :] = False
    rows = B.encode(np.full(len(stored), cut, np.int64), values, ts, present)
    _store(session, run_id, [row[0] for row in stored], rows)


def _series_filter(run_ids: list[int], names: list[str] | None, first_block: int, last_block: int) -> list:
    where = [TABLE.c.run_id.in_(run_ids), TABLE.c.axis == STEP]
    if names:
        where.append(TABLE.c.name.in_(names))
    if first_block > 0:
        where.append(TABLE.c.block >= first_block)
    if last_block < B.X_LIMIT // B.BLOCK:
        where.append(TABLE.c.block <= last_block)
    return where


def _fetch(session: Session | Connection, statement, params: dict | None = None) -> list[tuple]:
    # Plain tuples from the driver: building a Row per block costs more than decoding it.
    result = session.execute(statement, params, execution_options={BINARY_ROWS: True})
    rows = result.cursor.fetchall()
    result.close()
    return rows


def _blocks_of(wanted: dict[tuple[int, str], tuple[int, int] | list[int]]):
    """One WHERE clause for some blocks of some series: a (first, last) range or a list of blocks per series.

    Plain SQL text with its parameters, bound at execution: building it as an expression
    costs more than the query when many series are compared.
    """
    clauses, params = [], {}
    for i, ((run_id, name), blocks) in enumerate(wanted.items()):
        params[f"r{i}"], params[f"n{i}"] = run_id, name
        if isinstance(blocks, tuple):
            params[f"a{i}"], params[f"b{i}"] = blocks
            which = f"block BETWEEN :a{i} AND :b{i}"
        else:
            params.update({f"c{i}_{j}": block for j, block in enumerate(blocks)})
            which = f"block IN ({', '.join(f':c{i}_{j}' for j in range(len(blocks)))})"
        clauses.append(f"(run_id = :r{i} AND name = :n{i} AND {which})")
    return text("(" + " OR ".join(clauses) + ")"), params


def _raw_points(
    session: Session | Connection, wanted: dict[tuple[int, str], tuple[int, int] | list[int]], where: list, lo: int, hi: int
) -> dict[tuple[int, str], tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Decoded points in ``[lo, hi]`` of the wanted blocks: a (first, last) block range or a list, per series."""
    if not wanted:
        return {}
    clause, params = _blocks_of(wanted)
    statement = (
        select(TABLE.c.run_id, TABLE.c.name, TABLE.c.block, TABLE.c.vals, TABLE.c.ts, TABLE.c.present)
        .where(*where, clause)
        .order_by(TABLE.c.run_id, TABLE.c.name, TABLE.c.block)
    )
    points = {}
    for series, rows in groupby(_fetch(session, statement, params), key=lambda row: (row[0], row[1])):
        xs, ys, ts = [], [], []
        for _, _, block, vals, t, present in rows:
            offsets, v, tt = B.decode(vals, t, present)
            xs.append(offsets + block * B.BLOCK)
            ys.append(v)
            ts.append(tt)
        x, y, t = np.concatenate(xs), np.concatenate(ys), np.concatenate(ts)
        inside = (x >= lo) & (x <= hi)
        points[series] = (x[inside], y[inside], t[inside])
    return points


def _series_bounds(run_ids: Sequence[int], names: Sequence[str]) -> list[int]:
    """Where each series begins in rows ordered by (run, name), and their end: ``[0, ..., len(rows)]``."""
    runs, labels = np.asarray(run_ids), np.asarray(names, dtype=object)
    return [0, *(np.flatnonzero((runs[1:] != runs[:-1]) | (labels[1:] != labels[:-1])) + 1).tolist(), len(runs)]


def _summaries(session: Session | Connection, wanted: dict[tuple[int, str], tuple[int, int]], where: list) -> dict:
    """Each series' sub-block units of the wanted block range."""
    if not wanted:
        return {}
    clause, params = _blocks_of(wanted)
    statement = (
        select(TABLE.c.run_id, TABLE.c.name, TABLE.c.block, TABLE.c.summary)
        .where(*where, clause)
        .order_by(TABLE.c.run_id, TABLE.c.name, TABLE.c.block)
    )
    rows = _fetch(session, statement, params)
    if not rows:
        return {}
    run_ids, names, block_ids, blobs = zip(*rows)
    bounds = _series_bounds(run_ids, names)
    units = B.series_summary_units(block_ids, blobs, bounds)
    return {(run_ids[a], names[a]): u for a, u in zip(bounds, units)}


class _Plan:
    """How one series is drawn: its blocks' scalars, the level, and which blocks need which blob.

    Blocks the window cuts through are read raw first, so the count and span of
    the points in the window are exact before the level is chosen.
    """

    def __init__(self, scalars: dict[str, np.ndarray], lo: int, hi: int):
        self.s = scalars
        blocks = scalars["block"]
        # Whole: every point of the block is in the window, so its scalars and summary describe it.
        self.whole = (scalars["first_x"] >= lo) & (scalars["last_x"] <= hi)
        self.whole_ids = blocks[self.whole]
        self.cut: list[int] = blocks[~self.whole].tolist()
        self.raw_whole = False
        self.summary: tuple[int, int] | None = None
        self.unit = self.width = 1

    def decide(self, cut_points: tuple | None, max_points: int) -> None:
        """Choose the level from the exact count and span of the window's points."""
        s, w = self.s, self.whole
        firsts, lasts = list(s["first_x"][w][:1]), list(s["last_x"][w][-1:])
        if cut_points is not None and len(cut_points[0]):
            firsts.append(int(cut_points[0].min()))
            lasts.append(int(cut_points[0].max()))
        if not firsts:
            return
        count = int(s["n"][w].sum()) + (0 if cut_points is None else len(cut_points[0]))
        self.unit, self.width = B.level(max(lasts) - min(firsts) + 1, max_points)
        if not len(self.whole_ids):
            return
        if count <= max_points or self.unit == 1:
            self.raw_whole = True
        elif self.unit == B.SUB:
            self.summary = (int(self.whole_ids[0]), int(self.whole_ids[-1]))

    def draw(self, cut: tuple | None, whole_raw: tuple | None, summary: B.Units | None, max_points: int) -> tuple:
        """What :func:`blocks.draw_many` needs: (units or None, bucket width, points kept as they are)."""
        empty = (np.empty(0, np.int64), np.empty(0, np.float32), np.empty(0, np.float32))
        parts = [p for p in (cut, whole_raw) if p is not None and len(p[0])]
        x, y, t = (np.concatenate(c) for c in zip(*parts)) if parts else empty
        if self.raw_whole or not len(self.whole_ids):
            if len(x) <= max_points:
                return None, 1, x, y, t
            units = B.Units.points(x, y, t)
        else:
            s, w = self.s, self.whole
            pieces = [B.Units.points(x, y, t)]
            if self.unit == B.BLOCK:
                pieces.append(B.Units(s["block"][w].astype(np.int64) * B.BLOCK, s["lo_x"][w].astype(np.int64), s["lo"][w],
                                      s["lo_t"][w], s["hi_x"][w].astype(np.int64), s["hi"][w], s["hi_t"][w]))  # fmt: skip
            elif summary is not None:
                pieces.append(summary)
            units = B.Units.concat(pieces)
            # The first and last points: among the cut blocks' and the first and last whole blocks'.
            a, b = np.flatnonzero(w)[[0, -1]]
            x = np.concatenate([x, [s["first_x"][a], s["last_x"][b]]]).astype(np.int64)
            y = np.concatenate([y, [s["first_y"][a], s["last_y"][b]]])
            t = np.concatenate([t, [s["first_t"][a], s["last_t"][b]]])
        if len(x) == 0:
            return None, 1, *empty
        ends = [int(np.argmin(x)), int(np.argmax(x))]
        return units, self.width, x[ends], y[ends], t[ends]


def read_steps(
    session: Session | Connection,
    run_ids: list[int],
    names: list[str] | None,
    x_min: int | None = None,
    x_max: int | None = None,
    max_points: int | None = None,
    arrays: bool = False,
) -> dict[tuple[int, str], dict[str, Any]]:
    """The step series of ``run_ids`` in ``[x_min, x_max]``, each drawn in at most ``max_points`` points.

    Downsampled series keep each bucket's min and max and their first and last
    points; None for ``max_points`` reads every point. Returns ``{(run_id, name): {"x", "y", "t"}}``,
    without series that have no point in the window; ``arrays``: numpy columns (see blocks.columns).
    """
    lo = 0 if x_min is None else x_min
    hi = B.X_LIMIT if x_max is None else x_max
    where = _series_filter(run_ids, names, lo // B.BLOCK, hi // B.BLOCK)
    if max_points is None:
        statement = select(TABLE.c.run_id, TABLE.c.name, TABLE.c.block).where(*where)
        spans = {}
        for run_id, name, block in _fetch(session, statement):
            first, last = spans.get((run_id, name), (block, block))
            spans[(run_id, name)] = (min(first, block), max(last, block))
        raw = _raw_points(session, spans, where, lo, hi)
        return {series: B.columns(*points, arrays) for series, points in sorted(raw.items()) if len(points[0])}
    statement = (
        select(TABLE.c.run_id, TABLE.c.name, TABLE.c.block, TABLE.c.stats)
        .where(*where)
        .order_by(TABLE.c.run_id, TABLE.c.name, TABLE.c.block)
    )
    rows = _fetch(session, statement)
    plans: dict[tuple[int, str], _Plan] = {}
    if rows:
        # Every block's scalars decoded in one call; each series' plan gets slices (views) of them.
        run_ids_, names_, block_ids, stats = zip(*rows)
        decoded = np.frombuffer(b"".join(stats), B.STATS)
        scalars = {c: decoded[c] for c in B.STATS.names}
        scalars["block"] = np.array(block_ids, np.int64)
        bounds = _series_bounds(run_ids_, names_)
        for start, stop in zip(bounds, bounds[1:]):
            plans[(run_ids_[start], names_[start])] = _Plan({c: a[start:stop] for c, a in scalars.items()}, lo, hi)
    cut = _raw_points(session, {k: p.cut for k, p in plans.items() if p.cut}, where, lo, hi)
    for k, plan in plans.items():
        plan.decide(cut.get(k), max_points)
    whole = {k: (int(p.whole_ids[0]), int(p.whole_ids[-1])) for k, p in plans.items() if p.raw_whole}
    whole_raw = _raw_points(session, whole, where, lo, hi)
    summaries = _summaries(session, {k: p.summary for k, p in plans.items() if p.summary}, where)
    drawings = [p.draw(cut.get(k), whole_raw.get(k), summaries.get(k), max_points) for k, p in plans.items()]
    drawn = zip(plans, B.draw_many(drawings, arrays)) if drawings else ()
    # A block the window cuts through may hold no point inside it: no series, as if nothing was logged there.
    return {k: columns for k, columns in drawn if len(columns["x"])}
