"""Summary metrics of runs from their epoch series and stored summaries, against hand-worked values."""

import math

import pytest

from backend.analysis.dense import from_columns
from backend.analysis.summaries import run_metrics


def dense_of(points_by_run):
    """``{run_id: {name: [(x, value), ...]}}`` -> Dense."""
    rid, names, xs, values = [], [], [], []
    for run_id, series in points_by_run.items():
        for name, points in series.items():
            for x, value in points:
                rid.append(run_id)
                names.append(name)
                xs.append(x)
                values.append(value)
    return from_columns(list(points_by_run), rid, names, xs, values)


def test_derived_from_the_series_of_a_running_run():
    dense = dense_of({
        7: {
            "val_accuracy": [(0, 0.5), (1, 0.8), (2, 0.8), (3, None)],
            "sparsity": [(0, 0.1), (1, 0.2), (2, 0.3)],
            "data_loss": [(0, 1.0), (1, 0.5), (2, 0.4)],
            "val_data_loss": [(0, 1.2), (1, 0.9)],
            "epoch_time": [(0, 2.0), (1, 4.0)],
        },
        8: {"loss": [(0, 1.0)]},
    })

    metrics = run_metrics(dense, [{}, {}], [None, 3.5])

    # Run 7: the best val accuracy first reached at epoch 1; the gap at epoch 1, the last with both losses.
    assert metrics["best_val_accuracy"][0] == 0.8 and metrics["best_epoch"][0] == 1
    assert metrics["final_val_accuracy"][0] == 0.8  # epoch 3 has no value
    assert metrics["final_sparsity"][0] == 0.3
    assert metrics["final_gap"][0] == pytest.approx(0.4)
    assert metrics["epoch_time"][0] == 3.0
    # Run 8 has no such series: NaN, and the epoch time falls back to the run's epoch_seconds.
    assert math.isnan(metrics["best_val_accuracy"][1]) and math.isnan(metrics["final_gap"][1])
    assert metrics["epoch_time"][1] == 3.5


def test_the_stored_summary_wins_where_it_has_the_figure():
    dense = dense_of({1: {"val_accuracy": [(0, 0.5), (1, 0.6)]}})

    metrics = run_metrics(dense, [{"best_val_accuracy": 0.9, "test_accuracy": 0.7, "best_epoch": 4}], [None])

    assert metrics["best_val_accuracy"][0] == 0.9 and metrics["best_epoch"][0] == 4
    assert metrics["test_accuracy"][0] == 0.7
    assert metrics["final_val_accuracy"][0] == 0.6
    assert math.isnan(metrics["mc_test_accuracy"][0])
