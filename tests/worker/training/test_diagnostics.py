"""The regularization diagnostics recorded each epoch."""

import keras
import numpy as np
import pytest

from tests.worker.helpers import fit
from worker.training import diagnostics


def test_data_loss_is_loss_minus_reg_loss_and_reg_loss_matches_keras():
    result, sink = fit({"regularization": {"kernel_l2": 0.01, "bias_l1": 0.01, "activity_l2": 0.001}})
    loss, reg, data = sink.series("loss"), sink.series("reg_loss"), sink.series("data_loss")
    assert all(r > 0 for r in reg)
    assert data == pytest.approx([a - b for a, b in zip(loss, reg)])
    probe = np.ones((4, 8, 8), dtype="float32")
    result.model(probe, training=False)
    keras_total = sum(float(keras.ops.convert_to_numpy(x)) for x in result.model.losses)
    assert diagnostics.penalty(result.model, probe) == pytest.approx(keras_total, rel=1e-5)


def test_unregularized_run_has_zero_reg_loss():
    _, sink = fit({})
    assert sink.series("reg_loss") == [0.0, 0.0, 0.0]
    assert sink.series("data_loss") == sink.series("loss")


def test_max_col_norm_stays_under_max_norm():
    _, free = fit({"optimizer": {"learning_rate": 0.05}})
    _, constrained = fit({"optimizer": {"learning_rate": 0.05}, "regularization": {"max_norm": 1.0}})
    assert max(free.series("max_col_norm")) > 1.0
    assert all(norm <= 1.0 + 1e-5 for norm in constrained.series("max_col_norm"))


def test_strong_l1_makes_weights_sparse():
    _, plain = fit({})
    _, l1 = fit({"regularization": {"kernel_l1": 0.01}})
    sparsity = l1.series("sparsity")
    assert sparsity[-1] > sparsity[0] and sparsity[-1] > 2 * plain.series("sparsity")[-1]


def test_weight_stats_by_hand():
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(2), keras.layers.Dense(1, name="output")])
    model.layers[0].kernel.assign(np.array([[3.0, 0.0], [4.0, 0.0005]], dtype="float32"))
    model.layers[1].kernel.assign(np.array([[1.0], [0.0]], dtype="float32"))
    stats = diagnostics.weight_stats(model)
    assert stats["weight_l2"] == pytest.approx(np.sqrt(9 + 16 + 0.0005**2 + 1))
    assert stats["sparsity"] == pytest.approx(3 / 6)
    assert stats["max_col_norm"] == pytest.approx(5.0)  # hidden units only: column (3, 4)
