"""Step series as fixed-range blocks: encoding, merging and min/max level-of-detail bucketing.

Pure numpy, no database. A block holds steps ``[block * BLOCK, (block + 1) * BLOCK)``
of one series: float32 values and ``t`` (only up to the last present step), a
presence bitmap, and a summary of per-``SUB``-step minima and maxima. Its row also
carries the block's own count, first, last, min and max (in a 52-byte stats blob),
so a read that draws a bucket spanning whole blocks never opens the larger blobs.

Missing values (None or NaN) are stored as NaN and read back as None; they never
win a bucket's min or max. Values are float32: they read back rounded to it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

# 31 sub-blocks of 32 steps. Not 1,024: PostgreSQL moves a large value out of line in chunks of
# 1,996 bytes, four to a page, and 3,968 bytes of float32 (values, or t) make two chunks that pack
# pages full; 4,096 bytes leave a small third chunk per value and a third of each page empty.
BLOCK = 992
SUB = 32
X_LIMIT = 2**31 - 1  # the last step: x is an int32 in the tables and in STATS
SUBS = BLOCK // SUB
# A summary entry: the min and max of one SUB-step sub-block, their t and offsets in it.
SUMMARY = np.dtype([("lo", "<f4"), ("hi", "<f4"), ("lo_t", "<f4"), ("hi_t", "<f4"), ("lo_off", "u1"), ("hi_off", "u1")])
EMPTY = 255  # lo_off of a sub-block with no point
# A block's scalars packed in one little blob, so a zoomed-out read decodes thousands of blocks in one call.
# The plain columns n, first_x, last_x, lo and hi repeat some of them for SQL (lo/hi None when no valid value).
STATS = np.dtype([("n", "<i4"), ("first_x", "<i4"), ("last_x", "<i4"), ("lo_x", "<i4"), ("hi_x", "<i4"),
                  ("first_y", "<f4"), ("last_y", "<f4"), ("first_t", "<f4"), ("last_t", "<f4"),
                  ("lo", "<f4"), ("hi", "<f4"), ("lo_t", "<f4"), ("hi_t", "<f4")])  # fmt: skip
COLUMNS = ("n", "first_x", "last_x", "lo", "hi", "stats", "summary", "present", "vals", "ts")


def _opt(value: float) -> float | None:
    return None if math.isnan(value) else value


def encode(block_ids: np.ndarray, values: np.ndarray, ts: np.ndarray, present: np.ndarray) -> list[dict[str, Any]]:
    """Rows (without run, name and axis) for K blocks given as ``(K, BLOCK)`` float32/float32/bool arrays.

    A block with no present point comes back with ``n == 0`` and no blobs: the caller deletes it.
    """
    k = len(block_ids)
    values = np.where(present, values, np.float32(np.nan)).astype("<f4", copy=False)
    ts = np.where(present, ts, np.float32(np.nan)).astype("<f4", copy=False)
    valid = present & ~np.isnan(values)
    counts = present.sum(axis=1)
    first = present.argmax(axis=1)
    last = BLOCK - 1 - present[:, ::-1].argmax(axis=1)
    rows_k = np.arange(k)
    lo_off = np.where(valid, values, np.inf).argmin(axis=1)
    hi_off = np.where(valid, values, -np.inf).argmax(axis=1)
    any_valid = valid.any(axis=1)
    # A block with points but no valid value: its "extremes" are its first point, y None.
    lo_off = np.where(any_valid, lo_off, first)
    hi_off = np.where(any_valid, hi_off, first)

    shape = (k, SUBS, SUB)
    sub_present, sub_valid = present.reshape(shape), valid.reshape(shape)
    sub_values = values.reshape(shape)
    sub_first = sub_present.argmax(axis=2)
    s_lo = np.where(sub_valid, sub_values, np.inf).argmin(axis=2)
    s_hi = np.where(sub_valid, sub_values, -np.inf).argmax(axis=2)
    s_any = sub_valid.any(axis=2)
    s_lo = np.where(s_any, s_lo, sub_first)
    s_hi = np.where(s_any, s_hi, sub_first)
    summary = np.empty((k, SUBS), SUMMARY)
    sub_ts = ts.reshape(shape)
    summary["lo"] = np.take_along_axis(sub_values, s_lo[..., None], 2)[..., 0]
    summary["hi"] = np.take_along_axis(sub_values, s_hi[..., None], 2)[..., 0]
    summary["lo_t"] = np.take_along_axis(sub_ts, s_lo[..., None], 2)[..., 0]
    summary["hi_t"] = np.take_along_axis(sub_ts, s_hi[..., None], 2)[..., 0]
    filled = sub_present.any(axis=2)
    summary["lo_off"] = np.where(filled, s_lo, EMPTY)
    summary["hi_off"] = np.where(filled, s_hi, EMPTY)

    base = block_ids.astype(np.int64) * BLOCK
    stats = np.empty(k, STATS)
    stats["n"] = counts
    stats["first_x"], stats["last_x"] = base + first, base + last
    stats["lo_x"], stats["hi_x"] = base + lo_off, base + hi_off
    stats["first_y"], stats["last_y"] = values[rows_k, first], values[rows_k, last]
    stats["first_t"], stats["last_t"] = ts[rows_k, first], ts[rows_k, last]
    stats["lo"], stats["hi"] = values[rows_k, lo_off], values[rows_k, hi_off]
    stats["lo_t"], stats["hi_t"] = ts[rows_k, lo_off], ts[rows_k, hi_off]
    # Python floats for the plain columns, NaN as None (SQLite cannot store NaN).
    lo = [_opt(v) for v in stats["lo"].astype(float).tolist()]
    hi = [_opt(v) for v in stats["hi"].astype(float).tolist()]
    firsts, lasts = stats["first_x"].tolist(), stats["last_x"].tolist()
    rows = []
    for i, block in enumerate(block_ids.tolist()):
        n = int(counts[i])
        row: dict[str, Any] = {"block": block, "n": n}
        if n:
            span = int(last[i]) + 1  # the dense span: nothing stored past the last present step
            row.update(
                first_x=firsts[i], last_x=lasts[i], lo=lo[i], hi=hi[i], stats=stats[i].tobytes(),
                summary=summary[i].tobytes(), present=np.packbits(present[i, :span]).tobytes(),
                vals=values[i, :span].tobytes(), ts=ts[i, :span].tobytes(),
            )  # fmt: skip
        rows.append(row)
    return rows


def decode(vals: bytes, ts: bytes, present: bytes) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One block's blobs as (offsets of present steps, their values, their t), float32 with NaN for missing."""
    v = np.frombuffer(vals, "<f4")
    t = np.frombuffer(ts, "<f4")
    offsets = np.flatnonzero(np.unpackbits(np.frombuffer(present, np.uint8), count=len(v)))
    return offsets, v[offsets], t[offsets]


def dense(rows: list[tuple[bytes, bytes, bytes]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Stored blocks as full ``(K, BLOCK)`` arrays (values, t, presence), ready to merge into."""
    k = len(rows)
    values = np.full((k, BLOCK), np.nan, "<f4")
    ts = np.full((k, BLOCK), np.nan, "<f4")
    present = np.zeros((k, BLOCK), bool)
    for i, (vals, t, bits) in enumerate(rows):
        v = np.frombuffer(vals, "<f4")
        values[i, : len(v)] = v
        ts[i, : len(v)] = np.frombuffer(t, "<f4")
        present[i, : len(v)] = np.unpackbits(np.frombuffer(bits, np.uint8), count=len(v)).astype(bool)
    return values, ts, present


def summary_units(block_ids: list[int], blobs: list[bytes]) -> "Units":
    """The filled sub-blocks of some blocks' summaries (in block order) as bucketing units."""
    return series_summary_units(block_ids, blobs, [0, len(blobs)])[0]


def series_summary_units(block_ids: list[int], blobs: list[bytes], bounds: list[int]) -> list["Units"]:
    """:func:`summary_units` of each series' blocks ``[bounds[i], bounds[i + 1])``, decoded in one call:
    each series gets slices (views) of the same arrays."""
    s = np.frombuffer(b"".join(blobs), SUMMARY)
    start = (np.asarray(block_ids, np.int64)[:, None] * BLOCK + np.arange(SUBS) * SUB).ravel()
    filled = s["lo_off"] != EMPTY
    # Where each series' units begin among the filled ones.
    edges = np.concatenate([[0], np.cumsum(filled)])[np.asarray(bounds) * SUBS].tolist()
    s, start = s[filled], start[filled]
    units = Units(start, start + s["lo_off"], s["lo"], s["lo_t"], start + s["hi_off"], s["hi"], s["hi_t"])
    return [units.part(a, b) for a, b in zip(edges, edges[1:])]


@dataclass
class Units:
    """Aligned pieces of a series (points, sub-blocks or blocks), each with its min and max point, in x order.

    ``start`` is the first step a unit covers: a unit never straddles a bucket
    whose width is a multiple of the unit's size.
    """

    start: np.ndarray
    lo_x: np.ndarray
    lo_y: np.ndarray
    lo_t: np.ndarray
    hi_x: np.ndarray
    hi_y: np.ndarray
    hi_t: np.ndarray

    @classmethod
    def points(cls, x: np.ndarray, y: np.ndarray, t: np.ndarray) -> "Units":
        return cls(x, x, y, t, x, y, t)

    def part(self, a: int, b: int) -> "Units":
        return Units(*(getattr(self, f)[a:b] for f in self.__dataclass_fields__))

    @classmethod
    def concat(cls, parts: list["Units"]) -> "Units":
        # A series drawn from one kind of unit (its summaries, say) keeps them as they are: no copy.
        parts = [p for p in parts if len(p.start)] or parts[:1]
        if len(parts) == 1:
            return parts[0]
        if not parts:
            empty = np.empty(0)
            return cls(empty.astype(np.int64), empty.astype(np.int64), empty, empty, empty.astype(np.int64), empty, empty)
        return cls(*(np.concatenate([getattr(p, f) for p in parts]) for f in cls.__dataclass_fields__))


def level(span: int, max_points: int) -> tuple[int, int]:
    """(unit size, bucket width) for ``span`` steps drawn in at most ``max_points`` points.

    Each bucket gives at most its min and max; the first and last points and one
    bucket more from alignment fit in the rest.
    """
    buckets = max(1, (max_points - 4) // 2)
    width = max(1, -(-span // buckets))
    unit = BLOCK if width >= BLOCK else SUB if width >= SUB else 1
    return unit, -(-width // unit) * unit


def _first_per_bucket(bucket: np.ndarray, key: np.ndarray) -> np.ndarray:
    """Index of the smallest ``key`` in each bucket (the earliest on ties).

    Buckets come nearly sorted (units in x order, per series): a stable sort of them
    and a reduction per bucket cost a fraction of sorting by (bucket, key).
    """
    order = np.argsort(bucket, kind="stable")
    b, k = bucket[order], key[order]
    starts = np.flatnonzero(np.r_[True, b[1:] != b[:-1]])
    lows = np.minimum.reduceat(k, starts)
    hits = np.flatnonzero(k == np.repeat(lows, np.diff(np.r_[starts, len(k)])))
    first = np.r_[True, b[hits[1:]] != b[hits[:-1]]]
    return order[hits[first]]


def columns(x: np.ndarray, y: np.ndarray, t: np.ndarray, arrays: bool = False) -> dict[str, Any]:
    """Points (any order, duplicates allowed) as the sorted JSON-ready columns of a series, NaN as None.

    ``arrays``: numpy arrays (NaN kept) instead of lists, for an answer orjson renders (NaN as null).
    """
    x, index = np.unique(x, return_index=True)
    y = y[index].astype(float)
    t = t[index].astype(float)
    if arrays:
        return {"x": x, "y": y, "t": t}
    ys = [None if v != v else v for v in y.tolist()]
    ts = [None if v != v else v for v in t.tolist()]
    return {"x": x.tolist(), "y": ys, "t": ts}


def draw_many(
    series: list[tuple["Units | None", int, np.ndarray, np.ndarray, np.ndarray]], arrays: bool = False
) -> list[dict[str, Any]]:
    """Columns of many series in one pass: per series, each ``width``-step bucket's min and max unit
    points plus the points given (x, y, t) as they are; ``units`` None draws only those. ``arrays``: as in
    :func:`columns`.

    One sort for all series: per-series numpy calls would cost more than the points.
    """
    kept = [(x, y, t, np.full(len(x), i, np.int64)) for i, (_, _, x, y, t) in enumerate(series)]
    drawn = [(i, units, width) for i, (units, width, *_) in enumerate(series) if units is not None and len(units.start)]
    if drawn:
        units = Units.concat([u for _, u, _ in drawn])
        sid = np.concatenate([np.full(len(u.start), i, np.int64) for i, u, _ in drawn])
        width = np.concatenate([np.full(len(u.start), w, np.int64) for _, u, w in drawn])
        bucket = (sid << 40) | (units.start // width)
        lo = _first_per_bucket(bucket, np.where(np.isnan(units.lo_y), np.inf, units.lo_y))
        hi = _first_per_bucket(bucket, np.where(np.isnan(units.hi_y), np.inf, -units.hi_y))
        kept.append((units.lo_x[lo], units.lo_y[lo], units.lo_t[lo], sid[lo]))
        kept.append((units.hi_x[hi], units.hi_y[hi], units.hi_t[hi], sid[hi]))
    x, y, t, sid = (np.concatenate(c) for c in zip(*kept))
    key, index = np.unique((sid << 32) | x.astype(np.int64), return_index=True)
    bounds = np.searchsorted(key >> 32, np.arange(len(series) + 1)).tolist()
    if arrays:
        xs, ys, ts = key & 0xFFFFFFFF, y[index].astype(float), t[index].astype(float)
        return [{"x": xs[a:b], "y": ys[a:b], "t": ts[a:b]} for a, b in zip(bounds, bounds[1:])]
    xs = (key & 0xFFFFFFFF).tolist()
    ys = [None if v != v else v for v in y[index].astype(float).tolist()]
    ts = [None if v != v else v for v in t[index].astype(float).tolist()]
    return [{"x": xs[a:b], "y": ys[a:b], "t": ts[a:b]} for a, b in zip(bounds, bounds[1:])]
