"""Descriptive statistics and two-group tests, on scipy and numpy.

Pure functions of lists of floats; no database, no HTTP. A group with fewer
than two values gets no test, and the reason says why.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy import stats

ALPHA = 0.05
LOW_POWER_N = 3


def _clean(values: Sequence[float | None]) -> np.ndarray:
    array = np.array([v for v in values if v is not None], dtype=float)
    return array[np.isfinite(array)]


def _num(value: float) -> float | None:
    """A float for JSON, or None for NaN and infinity."""
    value = float(value)
    return value if math.isfinite(value) else None


def t_interval(mean: float, sem: float, df: float, level: float = 0.95) -> list[float | None]:
    """``mean ± t(df) · sem``: the t-distribution confidence interval."""
    if not (df > 0 and math.isfinite(sem)):
        return [None, None]
    half = float(stats.t.ppf(0.5 + level / 2, df)) * sem
    return [_num(mean - half), _num(mean + half)]


def describe(values: Sequence[float | None]) -> dict[str, Any]:
    """n, mean, std (ddof 1), sem, 95 % t interval, min and max of the finite values."""
    data = _clean(values)
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


def welch(a: np.ndarray, b: np.ndarray) -> dict[str, Any]:
    """Welch's t-test of mean(b) − mean(a), with the Welch–Satterthwaite df and its 95 % interval."""
    result = stats.ttest_ind(b, a, equal_var=False)
    var_a, var_b = a.var(ddof=1) / a.size, b.var(ddof=1) / b.size
    se = math.sqrt(var_a + var_b)
    df = (var_a + var_b) ** 2 / (var_a**2 / (a.size - 1) + var_b**2 / (b.size - 1)) if se > 0 else math.nan
    diff = float(b.mean() - a.mean())
    return {"test": "welch", "diff": diff, "t": _num(result.statistic), "df": _num(df),
            "p_value": _num(result.pvalue), "ci95": t_interval(diff, se, df)}


def paired(a: np.ndarray, b: np.ndarray) -> dict[str, Any]:
    """Paired t-test of b − a (same seeds, matched in order) and the 95 % interval of the mean difference."""
    result = stats.ttest_rel(b, a)
    d = b - a
    diff = float(d.mean())
    se = float(d.std(ddof=1)) / math.sqrt(d.size)
    return {"test": "paired", "diff": diff, "t": _num(result.statistic), "df": float(d.size - 1),
            "p_value": _num(result.pvalue), "ci95": t_interval(diff, se, d.size - 1)}


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


def compare(
    base: Sequence[float | None],
    other: Sequence[float | None],
    pairs: tuple[Sequence[float | None], Sequence[float | None]] | None = None,
) -> dict[str, Any]:
    """``other`` against ``base``: diff of means, its 95 % CI, Hedges' g, a p-value and the test used.

    ``pairs`` holds the two groups' values matched by seed when both groups have
    the same seeds; the paired test is used then, Welch's otherwise.
    """
    a, b = _clean(base), _clean(other)
    empty = {"diff": None, "ci95": [None, None], "hedges_g": None, "p_value": None, "test": None}
    if a.size == 0 or b.size == 0:
        return {**empty, "reason": "no values to compare"}
    diff = float(b.mean() - a.mean())
    if a.size < 2 or b.size < 2:
        return {**empty, "diff": diff, "reason": "needs at least 2 seeds in each group for a test"}
    result: dict[str, Any]
    no_spread = {**empty, "diff": diff, "hedges_g": None, "reason": "no spread within the groups: the t-test is undefined"}
    if np.ptp(a) == 0 and np.ptp(b) == 0:
        return no_spread
    if pairs is not None:
        pa, pb = np.array(pairs[0], dtype=float), np.array(pairs[1], dtype=float)
        keep = np.isfinite(pa) & np.isfinite(pb)
        pa, pb = pa[keep], pb[keep]
    if pairs is not None and pa.size >= 2:
        if np.ptp(pb - pa) == 0:
            return no_spread
        result = paired(pa, pb)
    else:
        result = welch(a, b)
    reason = None
    if result["p_value"] is None:
        reason = "no spread within the groups: the t-test is undefined"
    elif min(a.size, b.size) <= LOW_POWER_N:
        reason = f"low power: n ≤ {LOW_POWER_N} in a group, only large differences are detectable"
    return {"diff": result["diff"], "ci95": result["ci95"], "hedges_g": hedges_g(a, b),
            "p_value": result["p_value"], "test": result["test"], "reason": reason}


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
