"""The regularization diagnostics recorded each epoch."""

import keras
import numpy as np
import pytest

from tests.worker.helpers import fit, tiny_spec
from reglab import diagnostics


def test_data_loss_is_loss_minus_reg_loss_and_reg_loss_matches_keras():
    result, sink = fit({"regularization": {"kernel_l2": 0.01, "bias_l1": 0.01, "activity_l2": 0.001}})
    loss, reg, data = sink.series("loss"), sink.series("reg_loss"), sink.series("data_loss")
    assert all(r > 0 for r in reg)
    assert data == pytest.approx([a - b for a, b in zip(loss, reg)])
    val_data = [a - b for a, b in zip(sink.series("val_loss"), reg)]
    assert sink.series("val_data_loss") == pytest.approx(val_data)
    probe = np.ones((4, 8, 8), dtype="float32")
    result.model(probe, training=False)
    keras_total = sum(float(keras.ops.convert_to_numpy(x)) for x in result.model.losses)
    assert diagnostics.penalty(result.model, probe) == pytest.approx(keras_total, rel=1e-5)


def test_unregularized_run_has_zero_reg_loss():
    _, sink = fit({})
    assert sink.series("reg_loss") == [0.0, 0.0, 0.0]
    assert sink.series("data_loss") == sink.series("loss")
    assert sink.series("val_data_loss") == sink.series("val_loss")


def test_val_data_loss_is_the_plain_cross_entropy_on_the_validation_set():
    """Keras adds the weight penalty to val_loss; val_data_loss takes it out again."""
    from worker.training import datasets

    result, sink = fit({"regularization": {"kernel_l2": 0.05}})
    data = datasets.load(tiny_spec().dataset)
    probabilities = result.model.predict(data.x_val, verbose=0)
    cross_entropy = keras.losses.sparse_categorical_crossentropy(data.y_val, probabilities)
    expected = float(np.mean(keras.ops.convert_to_numpy(cross_entropy)))
    assert sink.series("val_data_loss")[-1] == pytest.approx(expected, rel=1e-4)
    assert sink.series("val_loss")[-1] > expected + 0.01


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
