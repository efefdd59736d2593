"""Every group's statistics on every summary metric, and its tests against the baseline group.

The groups are stacked into padded arrays (a NaN column pads them), so describing
and testing a study's groups is a few array operations, not a loop per group.
"""

from __future__ import annotations

import numpy as np

from backend.analysis import stats
from backend.analysis.summaries import SUMMARY_METRICS


def _matched(base_rows: list[int], other_rows: list[int], replicate: list[str]) -> tuple[list[int], list[int]] | None:
    """Both groups' rows ordered by replicate key, when both hold exactly the same replicates (seeds)."""
    base_keys = {replicate[r]: r for r in base_rows}
    other_keys = {replicate[r]: r for r in other_rows}
    if len(base_keys) != len(base_rows) or len(other_keys) != len(other_rows) or set(base_keys) != set(other_keys):
        return None
    order = sorted(base_keys)
    return [base_keys[k] for k in order], [other_keys[k] for k in order]


def _index(rows: list[list[int]]) -> np.ndarray:
    """Row lists as one int array, padded with -1 (the NaN column :func:`group_statistics` appends)."""
    out = np.full((len(rows), max((len(r) for r in rows), default=0)), -1, dtype=np.int64)
    for i, r in enumerate(rows):
        out[i, : len(r)] = r
    return out


def _chunks(count: int, longest: int, metrics: int = len(SUMMARY_METRICS)) -> list[slice]:
    """Groups in slices small enough that groups × longest × metrics stays around a million values."""
    step = max(1, (1 << 20) // max(1, longest * metrics))
    return [slice(start, start + step) for start in range(0, count, step)]


def group_statistics(
    table: np.ndarray, members: list[list[int]], base: int | None, replicate: list[str],
    metrics: dict[str, str] | None = None,
) -> tuple[list[dict[str, dict]], list[dict[str, dict]]]:
    """Every group's :func:`stats.describe` and its comparison with group ``base`` on every summary metric.

    ``table`` is ``(metrics, runs)``, its rows the metrics of ``metrics`` (name -> direction; the summary
    metrics when None), in order. The groups are stacked into padded arrays, so
    describing and testing them is a few array operations per chunk, not one per group.
    """
    metrics = SUMMARY_METRICS if metrics is None else metrics
    names = list(metrics)
    table = np.concatenate([table, np.full((len(names), 1), np.nan)], axis=1)

    def gather(index: np.ndarray) -> np.ndarray:
        """``(metrics × groups, width)``: row m·groups + g holds group g's values of metric m."""
        return table[:, index].reshape(len(names) * index.shape[0], index.shape[1])

    described: list[dict[str, dict]] = [{} for _ in members]
    longest = max((len(m) for m in members), default=0)
    for part in _chunks(len(members), longest, len(names)):
        index = _index(members[part])
        rows = stats.describe_rows(gather(index))
        for m, name in enumerate(names):
            for g in range(index.shape[0]):
                described[part.start + g][name] = rows[m * index.shape[0] + g]
    versus: list[dict[str, dict]] = [{} for _ in members]
    if base is None:
        return described, versus
    others = [g for g in range(len(members)) if g != base]
    results: dict[str, list[dict]] = {name: [] for name in names}
    for part in _chunks(len(others), longest + len(members[base]), len(names)):
        chunk = others[part]
        matched = [_matched(members[base], members[g], replicate) for g in chunk]
        first = _index([m[0] if m else [] for m in matched])
        second = _index([m[1] if m else [] for m in matched])
        other = _index([members[g] for g in chunk])
        base_values = np.repeat(table[:, members[base]], len(chunk), axis=0)
        results_of = stats.compare_rows(
            base_values, gather(other), gather(first), gather(second), np.tile([m is not None for m in matched], len(names))
        )
        for m, name in enumerate(names):
            results[name].extend(results_of[m * len(chunk):(m + 1) * len(chunk)])
    for name, direction in metrics.items():
        adjusted = stats.holm([r["p_value"] for r in results[name]])
        for g, result, p_adj in zip(others, results[name], adjusted, strict=True):
            versus[g][name] = {**result, "p_adjusted": p_adj, "verdict": stats.verdict(result["diff"], p_adj, direction)}
    return described, versus
