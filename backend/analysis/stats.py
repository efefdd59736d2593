"""Descriptive statistics and two-group tests, on scipy and numpy.

Pure functions of numbers; no database, no HTTP. A group with fewer than two
values gets no test, and the reason says why. :func:`compare_many` runs every
test of an analysis in a few vectorized scipy calls (one per sample size),
since a study compares each of its groups on every summary metric.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
from scipy import stats

ALPHA = 0.05
LOW_POWER_N = 3
NO_SPREAD = "no spread within the groups: the t-test is undefined"


def _num(value: float) -> float | None:
    """A float for JSON, or None for NaN and infinity."""
    value = float(value)
    return value if math.isfinite(value) else None


@lru_cache(maxsize=4096)
def t_quantile(df: float, level: float = 0.95) -> float:
    """The two-sided ``level`` quantile of Student's t with ``df`` degrees of freedom."""
    return float(stats.t.ppf(0.5 + level / 2, df))


def t_interval(mean: float, sem: float, df: float, level: float = 0.95) -> list[float | None]:
    """``mean ± t(df) · sem``: the t-distribution confidence interval."""
    if not (df > 0 and math.isfinite(sem)):
        return [None, None]
    half = t_quantile(float(df), level) * sem
    return [_num(mean - half), _num(mean + half)]


def describe(values: Sequence[float | None] | np.ndarray) -> dict[str, Any]:
    """n, mean, std (ddof 1), sem, 95 % t interval, min and max of the finite values."""
    return describe_rows(np.array([np.asarray(values, dtype=float)]).reshape(1, -1))[0]


def _finite_or_nan(values: np.ndarray) -> np.ndarray:
    """NaN for every value that is not finite, and at least one column (NaN) so row reductions are defined."""
    if values.shape[1] == 0:
        return np.full((values.shape[0], 1), np.nan)
    return np.where(np.isfinite(values), values, np.nan)


def describe_rows(values: np.ndarray) -> list[dict[str, Any]]:
    """:func:`describe` of each row of ``values`` (NaN, infinity: no value), in a few array operations.

    An analysis describes every group on every summary metric: one call for all.
    """
    data = _finite_or_nan(np.asarray(values, dtype=float))
    n = np.sum(~np.isnan(data), axis=1)
    with warnings.catch_warnings(), np.errstate(invalid="ignore", divide="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)  # rows of fewer than two values
        mean = np.nanmean(data, axis=1)
        std = np.nanstd(data, axis=1, ddof=1)
        low, high = np.nanmin(data, axis=1), np.nanmax(data, axis=1)
        sem = std / np.sqrt(n)
        half = stats.t.ppf(0.975, np.maximum(n - 1, 1)) * sem
    out = []
    for count, m, s, e, h, lo, hi in zip(n.tolist(), mean.tolist(), std.tolist(), sem.tolist(), half.tolist(),
                                         low.tolist(), high.tolist(), strict=True):
        if count == 0:
            out.append({"n": 0, "mean": None, "std": None, "sem": None, "ci95": [None, None], "min": None, "max": None})
        elif count == 1:
            out.append({"n": 1, "mean": m, "std": None, "sem": None, "ci95": [None, None], "min": m, "max": m})
        else:
            ci = [_num(m - h), _num(m + h)] if math.isfinite(e) else [None, None]
            out.append({"n": count, "mean": m, "std": s, "sem": e, "ci95": ci, "min": lo, "max": hi})
    return out


def hedges_g(a: np.ndarray, b: np.ndarray) -> float | None:
    """Standardized difference (b − a) / pooled sd, with Hedges' small-sample correction J = 1 − 3 / (4·df − 1)."""
    return _num(_hedges_rows(padded([a]), padded([b]))[0])


def _hedges_rows(base: np.ndarray, other: np.ndarray) -> np.ndarray:
    """:func:`hedges_g` of each row pair (NaN: no value); NaN where a group has < 2 values or no spread."""
    base, other = _finite_or_nan(base), _finite_or_nan(other)
    n_a, n_b = np.sum(~np.isnan(base), axis=1), np.sum(~np.isnan(other), axis=1)
    df = n_a + n_b - 2
    with warnings.catch_warnings(), np.errstate(invalid="ignore", divide="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)  # rows of fewer than two values
        var_a, var_b = np.nanvar(base, axis=1, ddof=1), np.nanvar(other, axis=1, ddof=1)
        pooled = np.sqrt(((n_a - 1) * var_a + (n_b - 1) * var_b) / df)
        diff = np.nanmean(other, axis=1) - np.nanmean(base, axis=1)
        return np.where((pooled > 0) & (n_a >= 2) & (n_b >= 2), diff / pooled * (1 - 3 / (4 * df - 1)), np.nan)


def _result(kind: str, diff: float, t: float, df: float, p: float, low: float, high: float) -> dict[str, Any]:
    return {"test": kind, "diff": diff, "t": _num(t), "df": _num(df), "p_value": _num(p),
            "ci95": [_num(low), _num(high)]}


def welch(a: np.ndarray, b: np.ndarray) -> dict[str, Any]:
    """Welch's t-test of mean(b) − mean(a), with the Welch–Satterthwaite df and its 95 % interval."""
    result = stats.ttest_ind(b, a, equal_var=False)
    ci = result.confidence_interval(0.95)
    return _result("welch", float(b.mean() - a.mean()), result.statistic, result.df, result.pvalue, ci.low, ci.high)


def paired(a: np.ndarray, b: np.ndarray) -> dict[str, Any]:
    """Paired t-test of b − a (same seeds, matched in order) and the 95 % interval of the mean difference."""
    result = stats.ttest_rel(b, a)
    ci = result.confidence_interval(0.95)
    return _result("paired", float((b - a).mean()), result.statistic, result.df, result.pvalue, ci.low, ci.high)


def holm(p_values: Sequence[float | None]) -> list[float | None]:
    """Holm's step-down adjustment; None entries (no test) stay None and do not count.

    The i-th smallest of m p-values becomes max over j ≤ i of min(1, (m − j + 1) · p_(j)).
    """
    indexed = sorted((p, i) for i, p in enumerate(p_values) if p is not None)
    m = len(indexed)
    adjusted: list[float | None] = [None] * len(p_values)
    running = 0.0
    for rank, (p, i) in enumerate(indexed):
        running = max(running, min(1.0, (m - rank) * p))
        adjusted[i] = running
    return adjusted


@dataclass
class Pair:
    """One comparison: ``other`` against ``base``; ``matched`` are both groups' values ordered by seed, if they match."""

    base: Sequence[float | None] | np.ndarray
    other: Sequence[float | None] | np.ndarray
    matched: tuple[Sequence[float | None], Sequence[float | None]] | None = None


def compare(
    base: Sequence[float | None],
    other: Sequence[float | None],
    pairs: tuple[Sequence[float | None], Sequence[float | None]] | None = None,
) -> dict[str, Any]:
    """``other`` against ``base``: diff of means, its 95 % CI, Hedges' g, a p-value and the test used.

    ``pairs`` holds the two groups' values matched by seed when both groups have
    the same seeds; the paired test is used then, Welch's otherwise.
    """
    return compare_many([Pair(base, other, pairs)])[0]


def padded(rows: Sequence[Sequence[float | None] | np.ndarray]) -> np.ndarray:
    """Rows of different lengths as one ``(len(rows), longest)`` array, NaN after each row's end."""
    out = np.full((len(rows), max((len(r) for r in rows), default=0)), np.nan)
    for i, row in enumerate(rows):
        out[i, : len(row)] = np.asarray(row, dtype=float)
    return out


def compare_many(pairs: list[Pair]) -> list[dict[str, Any]]:
    """:func:`compare` of many pairs (see :func:`compare_rows`)."""
    matched = np.array([pair.matched is not None for pair in pairs], dtype=bool)
    return compare_rows(
        padded([pair.base for pair in pairs]),
        padded([pair.other for pair in pairs]),
        padded([pair.matched[0] if pair.matched is not None else () for pair in pairs]),
        padded([pair.matched[1] if pair.matched is not None else () for pair in pairs]),
        matched,
    )


def _compact(values: np.ndarray, keep: np.ndarray, size: int) -> np.ndarray:
    """Each row's kept values, in order, the first ``size`` of them (every row keeps exactly ``size``)."""
    order = np.argsort(~keep, axis=1, kind="stable")[:, :size]
    return np.take_along_axis(values, order, axis=1)


def compare_rows(
    base: np.ndarray, other: np.ndarray, first: np.ndarray, second: np.ndarray, matched: np.ndarray
) -> list[dict[str, Any]]:
    """Row i of ``other`` against row i of ``base`` (NaN: no value), as :func:`compare` does for one pair.

    ``first``/``second`` row i: both groups' values ordered by seed where ``matched[i]``
    (the groups hold the same seeds): those rows get the paired test, the others
    Welch's. The t-tests run in one vectorized scipy call per sample size, since a
    study compares each of its groups on every summary metric.
    """
    base, other = _finite_or_nan(base), _finite_or_nan(other)
    first, second = _finite_or_nan(first), _finite_or_nan(second)
    n_a, n_b = np.sum(~np.isnan(base), axis=1), np.sum(~np.isnan(other), axis=1)
    pair_kept = ~np.isnan(first) & ~np.isnan(second)
    n_pairs = pair_kept.sum(axis=1)
    with warnings.catch_warnings(), np.errstate(invalid="ignore", divide="ignore"):
        # Empty rows and nearly constant samples warn; their results are NaN or still reported.
        warnings.simplefilter("ignore", RuntimeWarning)
        mean_a, mean_b = np.nanmean(base, axis=1), np.nanmean(other, axis=1)
        flat = (np.nanmax(base, axis=1) == np.nanmin(base, axis=1)) & (np.nanmax(other, axis=1) == np.nanmin(other, axis=1))
        gaps = second - first
        flat_gaps = np.nanmax(gaps, axis=1) == np.nanmin(gaps, axis=1)
        none = (n_a == 0) | (n_b == 0)
        few = ~none & ((n_a < 2) | (n_b < 2))
        testable = ~none & ~few & ~flat
        paired = testable & matched & (n_pairs >= 2)
        flat |= paired & flat_gaps
        paired &= ~flat_gaps
        welch = testable & ~(matched & (n_pairs >= 2))
        tests: dict[int, tuple[str, float, Any, Any, int]] = {}  # row -> (test, diff, result, its CI, its row)
        for size in np.unique(n_pairs[paired]).tolist():
            rows = np.flatnonzero(paired & (n_pairs == size))
            a = _compact(first[rows], pair_kept[rows], size)
            b = _compact(second[rows], pair_kept[rows], size)
            result = stats.ttest_rel(b, a, axis=1)
            ci = result.confidence_interval(0.95)
            for j, (row, d) in enumerate(zip(rows.tolist(), (b - a).mean(axis=1).tolist(), strict=True)):
                tests[row] = ("paired", d, result, ci, j)
        for size_a, size_b in {(int(x), int(y)) for x, y in zip(n_a[welch], n_b[welch], strict=True)}:
            rows = np.flatnonzero(welch & (n_a == size_a) & (n_b == size_b))
            a = _compact(base[rows], ~np.isnan(base[rows]), size_a)
            b = _compact(other[rows], ~np.isnan(other[rows]), size_b)
            result = stats.ttest_ind(b, a, axis=1, equal_var=False)
            ci = result.confidence_interval(0.95)
            for j, (row, d) in enumerate(zip(rows.tolist(), (b.mean(axis=1) - a.mean(axis=1)).tolist(), strict=True)):
                tests[row] = ("welch", d, result, ci, j)
    diffs, gs = (mean_b - mean_a).tolist(), _hedges_rows(base, other).tolist()
    out = []
    empty = {"diff": None, "ci95": [None, None], "hedges_g": None, "p_value": None, "test": None}
    for i in range(base.shape[0]):
        if none[i]:
            out.append({**empty, "reason": "no values to compare"})
        elif few[i]:
            out.append({**empty, "diff": diffs[i], "reason": "needs at least 2 seeds in each group for a test"})
        elif i not in tests:
            out.append({**empty, "diff": diffs[i], "reason": NO_SPREAD})
        else:
            kind, d, result, ci, j = tests[i]
            p = _num(result.pvalue[j])
            if p is None:
                reason = NO_SPREAD
            elif min(n_a[i], n_b[i]) <= LOW_POWER_N:
                reason = f"low power: n ≤ {LOW_POWER_N} in a group, only large differences are detectable"
            else:
                reason = None
            out.append({"diff": d, "ci95": [_num(ci.low[j]), _num(ci.high[j])], "hedges_g": _num(gs[i]),
                        "p_value": p, "test": kind, "reason": reason})
    return out


def verdict(diff: float | None, p_adjusted: float | None, direction: str, alpha: float = ALPHA) -> str | None:
    """The verdict in words: direction ``higher``/``lower`` (which is better) or ``diagnostic``.

    None when there was no test.
    """
    if p_adjusted is None or diff is None:
        return None
    if p_adjusted >= alpha or diff == 0:
        return "no detectable difference"
    if direction == "diagnostic":
        return "higher" if diff > 0 else "lower"
    better = diff > 0 if direction == "higher" else diff < 0
    return "better" if better else "worse"
