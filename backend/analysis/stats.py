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


def clean(values: Sequence[float | None] | np.ndarray) -> np.ndarray:
    """The finite values as a float array (None and NaN dropped)."""
    array = np.array(values, dtype=float) if not isinstance(values, np.ndarray) else values.astype(float, copy=False)
    return array[np.isfinite(array)]


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
    data = clean(values)
    n = int(data.size)
    if n == 0:
        return {"n": 0, "mean": None, "std": None, "sem": None, "ci95": [None, None], "min": None, "max": None}
    mean = float(data.mean())
    if n < 2:
        return {"n": 1, "mean": mean, "std": None, "sem": None, "ci95": [None, None], "min": mean, "max": mean}
    std = float(data.std(ddof=1))
    sem = std / math.sqrt(n)
    return {
        "n": n,
        "mean": mean,
        "std": std,
        "sem": sem,
        "ci95": t_interval(mean, sem, n - 1),
        "min": float(data.min()),
        "max": float(data.max()),
    }


def hedges_g(a: np.ndarray, b: np.ndarray) -> float | None:
    """Standardized difference (b − a) / pooled sd, with Hedges' small-sample correction J = 1 − 3 / (4·df − 1)."""
    n_a, n_b = a.size, b.size
    df = n_a + n_b - 2
    if n_a < 2 or n_b < 2:
        return None
    pooled = math.sqrt(((n_a - 1) * a.var(ddof=1) + (n_b - 1) * b.var(ddof=1)) / df)
    if pooled == 0:
        return None
    return _num((b.mean() - a.mean()) / pooled * (1 - 3 / (4 * df - 1)))


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


def compare_many(pairs: list[Pair]) -> list[dict[str, Any]]:
    """:func:`compare` of many pairs, the t-tests batched by sample size into one scipy call each."""
    out: list[dict[str, Any] | None] = [None] * len(pairs)
    paired_jobs: dict[int, list[tuple[int, np.ndarray, np.ndarray]]] = {}
    welch_jobs: dict[tuple[int, int], list[tuple[int, np.ndarray, np.ndarray]]] = {}
    cleaned = []
    for i, pair in enumerate(pairs):
        a, b = clean(pair.base), clean(pair.other)
        cleaned.append((a, b))
        empty = {"diff": None, "ci95": [None, None], "hedges_g": None, "p_value": None, "test": None}
        if a.size == 0 or b.size == 0:
            out[i] = {**empty, "reason": "no values to compare"}
            continue
        diff = float(b.mean() - a.mean())
        if a.size < 2 or b.size < 2:
            out[i] = {**empty, "diff": diff, "reason": "needs at least 2 seeds in each group for a test"}
            continue
        no_spread = {**empty, "diff": diff, "reason": NO_SPREAD}
        if np.ptp(a) == 0 and np.ptp(b) == 0:
            out[i] = no_spread
            continue
        if pair.matched is not None:
            pa, pb = np.array(pair.matched[0], dtype=float), np.array(pair.matched[1], dtype=float)
            keep = np.isfinite(pa) & np.isfinite(pb)
            pa, pb = pa[keep], pb[keep]
            if pa.size >= 2:
                if np.ptp(pb - pa) == 0:
                    out[i] = no_spread
                else:
                    paired_jobs.setdefault(pa.size, []).append((i, pa, pb))
                continue
        welch_jobs.setdefault((a.size, b.size), []).append((i, a, b))
    with warnings.catch_warnings():
        # Nearly constant samples make scipy warn about precision; their p-values are still reported.
        warnings.simplefilter("ignore", RuntimeWarning)
        for jobs in paired_jobs.values():
            first, second = np.stack([job[1] for job in jobs]), np.stack([job[2] for job in jobs])
            result = stats.ttest_rel(second, first, axis=1)
            _fill(out, jobs, "paired", (second - first).mean(axis=1), result)
        for jobs in welch_jobs.values():
            first, second = np.stack([job[1] for job in jobs]), np.stack([job[2] for job in jobs])
            result = stats.ttest_ind(second, first, axis=1, equal_var=False)
            _fill(out, jobs, "welch", second.mean(axis=1) - first.mean(axis=1), result)
    for i, (a, b) in enumerate(cleaned):
        entry = out[i]
        if entry is None or entry.get("reason") is not None or entry["test"] is None:
            continue
        entry["hedges_g"] = hedges_g(a, b)
        if entry["p_value"] is None:
            entry["reason"] = NO_SPREAD
        elif min(a.size, b.size) <= LOW_POWER_N:
            entry["reason"] = f"low power: n ≤ {LOW_POWER_N} in a group, only large differences are detectable"
    return out  # type: ignore[return-value]


def _fill(out: list, jobs: list, kind: str, diffs: np.ndarray, result: Any) -> None:
    ci = result.confidence_interval(0.95)
    for row, (i, _, _) in enumerate(jobs):
        entry = _result(kind, float(diffs[row]), result.statistic[row], result.df[row], result.pvalue[row],
                        ci.low[row], ci.high[row])
        out[i] = {"diff": entry["diff"], "ci95": entry["ci95"], "hedges_g": None, "p_value": entry["p_value"],
                  "test": kind, "reason": None}


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
