"""Per-epoch aggregation of a group's series: the mean, a band and n at each x.

Runs of different lengths count where they have a value; the band is given
only where n ≥ 2. Step series are averaged per run into shared buckets first,
so runs logged at different steps line up.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import numpy as np
from scipy import stats

from backend.analysis.dense import Dense


@lru_cache(maxsize=16)
def _t975(size: int) -> np.ndarray:
    """``t.ppf(0.975, df)`` for df = 0..size-1 (NaN at 0), one scipy call per table size."""
    table = np.full(size, np.nan)
    table[1:] = stats.t.ppf(0.975, np.arange(1, size))
    return table


def _half(std: np.ndarray, n: np.ndarray, band: str) -> np.ndarray:
    """Half the band's width: t(0.975, n − 1) · std / √n for ``ci95``, std for ``std``; NaN where n < 2."""
    with np.errstate(invalid="ignore", divide="ignore"):
        if band == "ci95":
            half = _t975(max(64, 1 << int(n.max(initial=1)).bit_length()))[np.maximum(n - 1, 0)] * std / np.sqrt(n)
        else:
            half = std
    return np.where(n >= 2, half, np.nan)


def _reduce(stack: np.ndarray, band: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """mean, lo, hi and n over axis 0 of ``stack`` (NaN = no value); lo/hi NaN where n < 2."""
    n = np.sum(~np.isnan(stack), axis=0)
    with warnings.catch_warnings(), np.errstate(invalid="ignore", divide="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        mean = np.nanmean(stack, axis=0)
        std = np.nanstd(stack, axis=0, ddof=1)
    half = _half(std, n, band)
    return mean, mean - half, mean + half, n


def column_band(stack: np.ndarray, band: str = "ci95") -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """mean, lo, hi and n of each column of ``stack`` (rows: runs, NaN: no value); lo/hi NaN where n < 2."""
    return _reduce(stack, band)


def _reduce_groups(values: np.ndarray, sizes: np.ndarray, band: str):
    """:func:`_reduce` of consecutive blocks of ``values`` along axis 0 (``sizes`` rows each), all at once.

    Sums per block with ``np.add.reduceat`` instead of one padded array per group:
    groups of very different sizes would pad to groups × the largest.
    """
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    present = ~np.isnan(values)
    n = np.add.reduceat(present, starts, axis=0)
    # A finished study has every value: no masking then (each pass is the whole array).
    complete = bool(present.all())
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.add.reduceat(values if complete else np.where(present, values, 0.0), starts, axis=0) / n
        # Two passes, as np.nanstd does: squared deviations from each group's mean.
        deviation = values - np.repeat(mean, sizes, axis=0)
        if not complete:
            deviation[~present] = 0.0
        deviation *= deviation
        std = np.sqrt(np.add.reduceat(deviation, starts, axis=0) / (n - 1))
    half = _half(std, n, band)
    return mean, mean - half, mean + half, n


def _out(x: np.ndarray, mean: np.ndarray, lo: np.ndarray, hi: np.ndarray, n: np.ndarray) -> dict[str, Any]:
    # Arrays, rendered by orjson as they are; NaN goes out as JSON null.
    return {"x": x, "mean": mean, "lo": lo, "hi": hi, "n": n}


def group_bands(dense: Dense, rows: np.ndarray, band: str) -> dict[str, dict[str, Any]]:
    """Bands of every epoch metric for the runs at ``rows`` of ``dense``, over the epochs where n ≥ 1."""
    return groups_bands(dense, [rows], band)[0]


def groups_bands(dense: Dense, members: list[np.ndarray], band: str) -> list[dict[str, dict[str, Any]]]:
    """:func:`group_bands` of several groups (each an array of rows of ``dense``), reduced together."""
    out: list[dict[str, dict[str, Any]]] = [{} for _ in members]
    filled = [g for g, rows in enumerate(members) if rows.size]
    if not dense.names or not filled:
        return out
    sizes = np.array([members[g].size for g in filled], dtype=np.int64)
    rows = np.concatenate([members[g] for g in filled])
    # A grid's runs come condition by condition: groups already in row order need no copy of the array.
    in_order = rows.size == len(dense.values) and bool((rows == np.arange(rows.size)).all())
    mean, lo, hi, n = _reduce_groups(dense.values if in_order else dense.values[rows], sizes, band)
    for g, group in enumerate(filled):
        bands = out[group]
        for i, name in enumerate(dense.names):
            keep = n[g, i] > 0
            if keep.all():
                bands[name] = _out(dense.x, mean[g, i], lo[g, i], hi[g, i], n[g, i])
            elif keep.any():
                bands[name] = _out(dense.x[keep], mean[g, i][keep], lo[g, i][keep], hi[g, i][keep], n[g, i][keep])
    return out


def step_band(
    columns: Sequence[tuple[Sequence[int], Sequence[float | None]]], band: str, buckets: int
) -> dict[str, Any]:
    """The band of step series: each run's mean per bucket of equal width over the group's step range."""
    columns = [c for c in columns if len(c[0])]
    if not columns:
        return {"x": [], "mean": [], "lo": [], "hi": [], "n": []}
    low = min(int(np.min(x)) for x, _ in columns)
    high = max(int(np.max(x)) for x, _ in columns)
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
    return _out(centers[used], *_reduce(matrix[:, used], band))
