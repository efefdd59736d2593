"""Per-epoch aggregation of a group's series: the mean, a band and n at each x.

Runs of different lengths count where they have a value; the band is given
only where n ≥ 2. Step series are averaged per run into shared buckets first,
so runs logged at different steps line up.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy import stats


def _matrix(columns: Sequence[tuple[Sequence[int], Sequence[float | None]]]) -> tuple[np.ndarray, np.ndarray]:
    """The runs' values on the union of their x: a (runs × x) array, NaN where a run has no value."""
    xs = np.unique(np.concatenate([np.asarray(x, dtype=np.int64) for x, _ in columns]))
    matrix = np.full((len(columns), xs.size), np.nan)
    for row, (x, y) in enumerate(columns):
        # None becomes NaN in a float array.
        matrix[row, np.searchsorted(xs, np.asarray(x, dtype=np.int64))] = np.asarray(y, dtype=float)
    return xs, matrix


def aggregate(xs: np.ndarray, matrix: np.ndarray, band: str) -> dict[str, Any]:
    """``{"x", "mean", "lo", "hi", "n"}`` of the columns of ``matrix``; lo/hi null where n < 2.

    NaN entries go out as null (the JSON renderer maps them).
    """
    matrix = np.where(np.isfinite(matrix), matrix, np.nan)
    n = np.sum(~np.isnan(matrix), axis=0)
    with warnings.catch_warnings(), np.errstate(invalid="ignore", divide="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        mean = np.nanmean(matrix, axis=0)
        std = np.nanstd(matrix, axis=0, ddof=1)
    if band == "ci95":
        half = np.full(n.shape, np.nan)
        many = n >= 2
        half[many] = stats.t.ppf(0.975, n[many] - 1) * std[many] / np.sqrt(n[many])
    else:
        half = std
    half = np.where(n >= 2, half, np.nan)
    return {
        "x": xs.tolist(),
        "mean": mean.tolist(),
        "lo": (mean - half).tolist(),
        "hi": (mean + half).tolist(),
        "n": n.tolist(),
    }


def epoch_band(columns: Sequence[tuple[Sequence[int], Sequence[float | None]]], band: str) -> dict[str, Any]:
    """The band of epoch series given as (x, y) pairs, one per run."""
    columns = [c for c in columns if len(c[0])]
    if not columns:
        return {"x": [], "mean": [], "lo": [], "hi": [], "n": []}
    xs, matrix = _matrix(columns)
    return aggregate(xs, matrix, band)


def step_band(
    columns: Sequence[tuple[Sequence[int], Sequence[float | None]]], band: str, buckets: int
) -> dict[str, Any]:
    """The band of step series: each run's mean per bucket of equal width over the group's step range."""
    columns = [c for c in columns if len(c[0])]
    if not columns:
        return {"x": [], "mean": [], "lo": [], "hi": [], "n": []}
    low = min(int(min(x)) for x, _ in columns)
    high = max(int(max(x)) for x, _ in columns)
    count = max(1, min(buckets, high - low + 1))
    width = (high - low + 1) / count
    matrix = np.full((len(columns), count), np.nan)
    for row, (x, y) in enumerate(columns):
        values = np.asarray(y, dtype=float)
        keep = np.isfinite(values)
        index = np.minimum(((np.asarray(x, dtype=float)[keep] - low) / width).astype(np.int64), count - 1)
        sums = np.bincount(index, weights=values[keep], minlength=count)
        counts = np.bincount(index, minlength=count)
        with np.errstate(invalid="ignore", divide="ignore"):
            matrix[row] = np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
    centers = np.floor(low + (np.arange(count) + 0.5) * width).astype(np.int64)
    used = ~np.all(np.isnan(matrix), axis=0)
    return aggregate(centers[used], matrix[:, used], band)
