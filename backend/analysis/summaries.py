"""The summary metrics of a run, from its stored summary and its epoch series.

A finished run's summary (written by the worker) wins; a running run, whose
summary is still empty, gets the same figures from the epochs it has so far.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

# name -> which way is better: "higher", "lower", or "diagnostic" (more is not better in itself).
SUMMARY_METRICS: dict[str, str] = {
    "best_val_accuracy": "higher",
    "final_val_accuracy": "higher",
    "test_accuracy": "higher",
    "mc_test_accuracy": "higher",
    "final_val_loss": "lower",
    "final_gap": "lower",
    "final_sparsity": "diagnostic",
    "final_weight_l2": "diagnostic",
    "best_epoch": "diagnostic",
    "epoch_time": "diagnostic",
    # The training side of the path chart's train-vs-validation pairs.
    "final_accuracy": "higher",
    "final_data_loss": "lower",
    "final_val_data_loss": "lower",
}

Series = dict[str, dict[str, Any]]


def _finite(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _epoch_values(series: Series, name: str) -> tuple[list[int], list[float]]:
    data = series.get(name)
    if not data or data.get("axis", "epoch") != "epoch":
        return [], []
    pairs = [(x, y) for x, y in zip(data["x"], data["y"], strict=True) if _finite(y) is not None]
    return [p[0] for p in pairs], [float(p[1]) for p in pairs]


def _last(series: Series, name: str) -> float | None:
    _, ys = _epoch_values(series, name)
    return ys[-1] if ys else None


def _best_val(series: Series) -> tuple[float | None, int | None]:
    xs, ys = _epoch_values(series, "val_accuracy")
    if not ys:
        return None, None
    # The earliest epoch wins a tie, as in the worker's summary.
    best = max(range(len(ys)), key=lambda i: (ys[i], -xs[i]))
    return ys[best], xs[best]


def _final_gap(series: Series) -> float | None:
    """val_data_loss − data_loss at the last epoch that has both."""
    train = dict(zip(*_epoch_values(series, "data_loss"), strict=True))
    val = dict(zip(*_epoch_values(series, "val_data_loss"), strict=True))
    common = sorted(set(train) & set(val))
    return val[common[-1]] - train[common[-1]] if common else None


def _epoch_time(series: Series, epoch_seconds: float | None) -> float | None:
    _, ys = _epoch_values(series, "epoch_time")
    return sum(ys) / len(ys) if ys else _finite(epoch_seconds)


DERIVED: dict[str, Callable[[Series, float | None], float | None]] = {
    "best_val_accuracy": lambda s, _: _best_val(s)[0],
    "best_epoch": lambda s, _: _best_val(s)[1],
    "final_val_accuracy": lambda s, _: _last(s, "val_accuracy"),
    "final_val_loss": lambda s, _: _last(s, "val_loss"),
    "final_gap": lambda s, _: _final_gap(s),
    "final_sparsity": lambda s, _: _last(s, "sparsity"),
    "final_weight_l2": lambda s, _: _last(s, "weight_l2"),
    "epoch_time": _epoch_time,
    "test_accuracy": lambda s, _: None,
    "mc_test_accuracy": lambda s, _: None,
    "final_accuracy": lambda s, _: _last(s, "accuracy"),
    "final_data_loss": lambda s, _: _last(s, "data_loss"),
    "final_val_data_loss": lambda s, _: _last(s, "val_data_loss"),
}
# Stored summary keys that already hold a metric (the worker writes these).
FROM_SUMMARY = ("best_val_accuracy", "best_epoch", "final_val_accuracy", "final_val_loss", "test_accuracy",
                "mc_test_accuracy", "final_accuracy")


def run_metrics(summary: dict[str, Any] | None, series: Series, epoch_seconds: float | None = None) -> dict[str, float | None]:
    """Every summary metric of one run (None where it has no value)."""
    summary = summary or {}
    values: dict[str, float | None] = {}
    for name in SUMMARY_METRICS:
        stored = _finite(summary.get(name)) if name in FROM_SUMMARY else None
        values[name] = stored if stored is not None else DERIVED[name](series, epoch_seconds)
    return values
