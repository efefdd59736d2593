"""Min-max thinning of a list of values (the live step points): long series shrink, their spikes survive."""

from __future__ import annotations

import math
from collections.abc import Sequence


def _key(value: float | None) -> float:
    # Missing and NaN values never win a bucket's min or max.
    return math.nan if value is None else value


def _extremes(y: Sequence[float | None], start: int, stop: int) -> tuple[int | None, int | None]:
    """Indices of the min and max of ``y[start:stop]``, skipping missing and NaN values."""
    low = high = None
    for i in range(start, stop):
        value = _key(y[i])
        if value != value:
            continue
        if low is None or value < _key(y[low]):
            low = i
        if high is None or value > _key(y[high]):
            high = i
    return low, high


def min_max_indices(y: Sequence[float | None], max_points: int) -> list[int]:
    """Indices to keep so that at most ``max_points`` remain: each bucket's min and max, in order.

    The first and last points are always kept, so the x range does not shrink.

    >>> min_max_indices([0, 5, 0, 0, -3, 0, 0, 0], 4)
    [0, 1, 4, 7]
    """
    n = len(y)
    if n <= max_points:
        return list(range(n))
    if max_points < 4:
        raise ValueError(f"max_points must be at least 4, got {max_points}")
    clean = not any(value is None or value != value for value in y)
    inner = range(1, n - 1)
    buckets = (max_points - 2) // 2
    size = len(inner) / buckets
    keep = [0]
    for b in range(buckets):
        start = 1 + int(b * size)
        stop = 1 + int((b + 1) * size) if b < buckets - 1 else n - 1
        if start >= stop:
            continue
        if clean:
            # No gaps: min and max run their loops in C.
            low = min(range(start, stop), key=y.__getitem__)
            high = max(range(start, stop), key=y.__getitem__)
        else:
            low, high = _extremes(y, start, stop)
        if low is None:
            keep.append(start)
        else:
            keep.extend(sorted({low, high}))
    keep.append(n - 1)
    return keep
