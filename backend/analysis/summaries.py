"""The summary metrics of runs, from their stored summaries and their epoch series.

A finished run's summary (written by the worker) wins; a running run, whose
summary is still empty, gets the same figures from the epochs it has so far.
Computed for all runs at once on the :class:`~backend.analysis.dense.Dense` array.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np

from backend.analysis.dense import Dense

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
# Stored summary keys that already hold a metric (the worker writes these).
FROM_SUMMARY = ("best_val_accuracy", "best_epoch", "final_val_accuracy", "final_val_loss", "test_accuracy",
                "mc_test_accuracy", "final_accuracy")
# Summary metrics that are a series' value at the last epoch that has one.
LAST_OF = {
    "final_val_accuracy": "val_accuracy",
    "final_val_loss": "val_loss",
    "final_sparsity": "sparsity",
    "final_weight_l2": "weight_l2",
    "final_accuracy": "accuracy",
    "final_data_loss": "data_loss",
    "final_val_data_loss": "val_data_loss",
}


def _last_index(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per row, the index of the last True of ``mask`` and whether there is one."""
    has = mask.any(axis=1)
    last = mask.shape[1] - 1 - np.argmax(mask[:, ::-1], axis=1) if mask.shape[1] else np.zeros(mask.shape[0], int)
    return last, has


def _last(values: np.ndarray) -> np.ndarray:
    last, has = _last_index(np.isfinite(values))
    if not values.shape[1]:
        return np.full(values.shape[0], np.nan)
    picked = values[np.arange(values.shape[0]), last]
    return np.where(has, picked, np.nan)


def derived(dense: Dense, epoch_seconds: list[float | None]) -> dict[str, np.ndarray]:
    """Every summary metric of every run from its series alone: ``{name: (runs,)}``, NaN where it has none."""
    runs = len(dense.run_ids)
    out = {name: _last(dense.metric(series)) for name, series in LAST_OF.items()}
    val = dense.metric("val_accuracy")
    has = np.isfinite(val).any(axis=1) if val.shape[1] else np.zeros(runs, bool)
    # argmax takes the first maximum: the earliest epoch wins a tie, as in the worker's summary.
    best = np.argmax(np.where(np.isfinite(val), val, -np.inf), axis=1) if val.shape[1] else np.zeros(runs, int)
    out["best_val_accuracy"] = np.where(has, val[np.arange(runs), best] if val.shape[1] else np.nan, np.nan)
    out["best_epoch"] = np.where(has, dense.x[best] if dense.x.size else np.nan, np.nan).astype(float)
    train, valid = dense.metric("data_loss"), dense.metric("val_data_loss")
    both = np.isfinite(train) & np.isfinite(valid)
    last, any_both = _last_index(both)
    gap = (valid - train)[np.arange(runs), last] if both.shape[1] else np.full(runs, np.nan)
    out["final_gap"] = np.where(any_both, gap, np.nan)
    times = dense.metric("epoch_time")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a run without epoch_time: mean of nothing
        mean_time = np.nanmean(times, axis=1) if times.shape[1] else np.full(runs, np.nan)
    fallback = np.array([np.nan if s is None else s for s in epoch_seconds], dtype=float)
    out["epoch_time"] = np.where(np.isfinite(mean_time), mean_time, fallback)
    out["test_accuracy"] = np.full(runs, np.nan)
    out["mc_test_accuracy"] = np.full(runs, np.nan)
    return out


def _finite(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def run_metrics(dense: Dense, summaries: list[dict[str, Any]], epoch_seconds: list[float | None]) -> dict[str, np.ndarray]:
    """Every summary metric of every run: the stored summary's value where it has one, else the derived one."""
    out = derived(dense, epoch_seconds)
    # Floats pass as they are (NaN and infinity fall to the derived value below); anything else is checked.
    rows = [[v if type(v) is float else _finite(v) for v in map((s or {}).get, FROM_SUMMARY)] for s in summaries]
    stored = np.array(rows, dtype=float).reshape(len(summaries), len(FROM_SUMMARY))
    for i, name in enumerate(FROM_SUMMARY):
        out[name] = np.where(np.isfinite(stored[:, i]), stored[:, i], out[name])
    return out
