"""An epoch series as one row of blobs: encoding, merging and decoding. Pure numpy, no database.

A series is ``x`` (int32, sorted, unique), ``vals`` and ``ts`` (float64, exact:
NaN and ±inf survive) and ``flags`` (one byte a point: MISSING_Y, MISSING_T),
so a missing value (None) stays distinct from a NaN that was logged.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Sequence
from typing import Any, NamedTuple

import numpy as np

MISSING_Y = 1
MISSING_T = 2
X_LIMIT = 2**31 - 1  # x is an int32 in the blob
BLOBS = ("xs", "vals", "flags", "ts")


class Series(NamedTuple):
    x: np.ndarray  # int64
    y: np.ndarray  # float64, NaN where missing
    t: np.ndarray  # float64, NaN where missing
    flags: np.ndarray  # uint8

    @classmethod
    def empty(cls) -> Series:
        return cls(np.empty(0, np.int64), np.empty(0), np.empty(0), np.empty(0, np.uint8))

    @classmethod
    def of(cls, points: Iterable[tuple[int, float | None, float | None]]) -> Series:
        """From ``(x, value, t)`` tuples in the order sent (not yet merged: see :func:`merge`)."""
        xs, ys, ts = zip(*points, strict=True)
        y_missing = np.fromiter((v is None for v in ys), bool, len(ys))
        t_missing = np.fromiter((v is None for v in ts), bool, len(ts))
        y = np.array([np.nan if v is None else v for v in ys], np.float64)
        t = np.array([np.nan if v is None else v for v in ts], np.float64)
        flags = (y_missing * MISSING_Y + t_missing * MISSING_T).astype(np.uint8)
        return cls(np.array(xs, np.int64), y, t, flags)

    def take(self, index) -> Series:
        return Series(*(a[index] for a in self))


def merge(stored: Series, new: Series) -> Series:
    """``stored`` with ``new`` written over it, sorted by x; within ``new`` the last point of an x wins."""
    both = Series(*(np.concatenate(pair) for pair in zip(stored, new, strict=True)))
    # np.unique keeps the first occurrence: reversed, that is the last one written.
    _, first = np.unique(both.x[::-1], return_index=True)
    return both.take(len(both.x) - 1 - first)


def encode(series: Series) -> dict[str, Any]:
    """The row's columns (without run and name): n, last_x and the blobs."""
    return {
        "n": len(series.x),
        "last_x": int(series.x[-1]) if len(series.x) else -1,
        "xs": series.x.astype("<i4").tobytes(),
        "vals": series.y.astype("<f8").tobytes(),
        "flags": series.flags.astype("u1").tobytes(),
        "ts": series.t.astype("<f8").tobytes(),
    }


def append(stored: Sequence[Any] | None, points: list[tuple[int, Any, Any]]) -> dict[str, Any] | None:
    """The row of ``stored`` (n, last_x and the blobs, or None) with ``points`` appended; None if they do not all
    come after it, in order, with no repeat.

    Training appends an epoch at a time: that case is a concatenation of bytes,
    without the numpy round trip of :func:`merge`, which costs more on a few points.
    """
    xs = [x for x, _, _ in points]
    last = -1 if stored is None else stored[1]
    if xs[0] <= last or any(a >= b for a, b in zip(xs, xs[1:])):
        return None
    nan = float("nan")
    count = len(xs)
    blobs = (
        struct.pack(f"<{count}i", *xs),
        struct.pack(f"<{count}d", *(nan if y is None else y for _, y, _ in points)),
        bytes((y is None) * MISSING_Y + (t is None) * MISSING_T for _, y, t in points),
        struct.pack(f"<{count}d", *(nan if t is None else t for _, _, t in points)),
    )
    n = count if stored is None else stored[0] + count
    if stored is not None:
        blobs = tuple(bytes(old) + new for old, new in zip(stored[2:], blobs, strict=True))
    return {"n": n, "last_x": xs[-1], **dict(zip(BLOBS, blobs, strict=True))}


def decode(xs: bytes, vals: bytes, flags: bytes, ts: bytes) -> Series:
    return Series(np.frombuffer(xs, "<i4").astype(np.int64), np.frombuffer(vals, "<f8"), np.frombuffer(ts, "<f8"),
                  np.frombuffer(flags, "u1"))  # fmt: skip


def columns(series: Series, arrays: bool = False) -> dict[str, Any]:
    """``{"x", "y", "t"}`` lists, None where missing (a logged NaN stays NaN).

    ``arrays``: the numpy arrays as they are, NaN where missing, for an answer orjson
    renders (NaN, missing and infinity all as null, as the lists render).
    """
    if arrays:
        return {"x": series.x, "y": series.y, "t": series.t}
    y, t = series.y.tolist(), series.t.tolist()
    for i in np.flatnonzero(series.flags & MISSING_Y).tolist():
        y[i] = None
    for i in np.flatnonzero(series.flags & MISSING_T).tolist():
        t[i] = None
    return {"x": series.x.tolist(), "y": y, "t": t}
