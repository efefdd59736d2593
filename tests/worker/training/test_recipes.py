"""The notes' recipes as written: linear Dense layers, Keras' ExponentialDecay, conv nets, IMDB multi-hot."""

import keras
import numpy as np
import pytest

from reglab import schedule_math
from reglab.spec import DatasetSpec, build_spec
from tests.worker.helpers import TINY_STEPS_PER_EPOCH, fit, tiny_spec
from tests.worker.training.test_schedules import RateProbe
from worker.training import datasets
from worker.training.layers import MCSpatialDropout2D
from worker.training.model import build_model

# Seeds 000/001: Dense(64) with no activation, L2 0.01, activity L1 0.01, MaxNorm(2.), dropout 0.5.
SEED_000 = {
    "dataset": {"name": "fashion_mnist"},
    "model": {"hidden_layers": [64], "activation": "linear"},
    "regularization": {"kernel_l2": 0.01, "activity_l1": 0.01, "max_norm": 2.0, "dropout": 0.5},
    "optimizer": {"name": "adam"},
    "training": {"batch_size": 30},
}


def test_seed_000_weight_decay_model_is_linear_and_has_keras_parameter_count():
    model = build_model(build_spec(SEED_000), (28, 28), 10)
    hidden = model.get_layer(index=1)
    assert isinstance(hidden, keras.layers.Dense) and hidden.get_config()["activation"] == "linear"
    # 784 * 64 + 64 + 64 * 10 + 10, the notes' model.
    assert model.count_params() == 50_890
    x = np.random.default_rng(0).normal(size=(4, 28, 28)).astype("float32")
    # Linear: the hidden output of -x is minus that of x, which no nonlinearity allows.
    probe = keras.Model(model.inputs, hidden.output)
    np.testing.assert_allclose(probe(-x) - probe.get_layer(index=-1).bias, -(probe(x) - hidden.bias), atol=1e-5)


@pytest.mark.parametrize("staircase", [False, True])
def test_keras_form_of_exponential_decay_trains_with_keras_own_rates(staircase):
    schedule = {"name": "exponential", "decay_steps": 3, "decay_rate": 0.5, "staircase": staircase}
    overrides = {"schedule": schedule, "optimizer": {"name": "sgd", "learning_rate": 0.02}}
    probe = RateProbe()
    result, sink = fit(overrides, extra_callbacks=[probe])
    assert result.state == "completed"
    keras_schedule = keras.optimizers.schedules.ExponentialDecay(0.02, 3, 0.5, staircase=staircase)
    steps = range(3 * TINY_STEPS_PER_EPOCH)
    expected = [float(keras.ops.convert_to_numpy(keras_schedule(step))) for step in steps]
    assert probe.rates == pytest.approx(expected, rel=1e-6)
    assert sink.series("batch_learning_rate") == pytest.approx(expected, rel=1e-6)
    spec = tiny_spec(overrides)
    assert [schedule_math.step_rate_at(spec, step, TINY_STEPS_PER_EPOCH) for step in steps] == pytest.approx(
        expected, rel=1e-6
    )


def test_seed_001_exponential_decay_at_its_own_numbers():
    spec = build_spec({"schedule": {"name": "exponential", "decay_steps": 10000, "decay_rate": 0.9}, "optimizer": {"learning_rate": 0.01}})
    keras_schedule = keras.optimizers.schedules.ExponentialDecay(1e-2, decay_steps=10000, decay_rate=0.9)
    for step in (0, 1, 9_999, 10_000, 218_543, 1_000_000):
        expected = float(keras.ops.convert_to_numpy(keras_schedule(step)))
        assert schedule_math.step_rate_at(spec, step) == pytest.approx(expected, rel=1e-5)


def conv_spec(**regularization):
    return tiny_spec(
        {
            "model": {"conv": [{"filters": 4, "kernel_size": 3, "pool": 2}, {"filters": 6, "kernel_size": 2}],
                      "hidden_layers": [8], "batch_norm": "after_activation"},
            "regularization": {"kernel_l2": 0.01, "max_norm": 3.0, "dropout": 0.25, **regularization},
        }
    )


def test_conv_blocks_carry_the_dense_parts_options():
    model = build_model(conv_spec(spatial_dropout=True), (8, 8), 10)
    convs = [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
    assert [(c.filters, c.kernel_size) for c in convs] == [(4, (3, 3)), (6, (2, 2))]
    for conv in convs:
        assert isinstance(conv.kernel_regularizer, keras.regularizers.L2)
        assert isinstance(conv.kernel_constraint, keras.constraints.MaxNorm)
        assert conv.get_config()["kernel_initializer"]["class_name"] == "HeNormal"
    kinds = [type(layer).__name__ for layer in model.layers]
    assert kinds.count("SpatialDropout2D") == 2 and kinds.count("Dropout") == 1
    assert kinds.count("MaxPooling2D") == 1 and kinds.count("BatchNormalization") == 3
    # 8x8 -> conv (same) -> pool -> 4x4x4 -> conv -> 4x4x6 -> 96 features into Dense(8).
    assert model.get_layer(index=kinds.index("Flatten")).output.shape[-1] == 96
    mc = build_model(conv_spec(spatial_dropout=True, dropout_kind="mc"), (8, 8), 10)
    assert any(isinstance(layer, MCSpatialDropout2D) for layer in mc.layers)


def test_conv_net_trains_on_digits():
    result, sink = fit({"model": {"conv": [{"filters": 8, "kernel_size": 3, "pool": 2}], "hidden_layers": [16]},
                        "regularization": {"dropout": 0.1, "spatial_dropout": True}})
    assert result.state == "completed"
    assert len(sink.series("val_accuracy")) == 3


@pytest.mark.slow
def test_conv_net_trains_on_fashion_mnist():
    overrides = {
        "dataset": {"name": "fashion_mnist", "validation_samples": 200, "train_samples": 400},
        "model": {"conv": [{"filters": 8, "kernel_size": 3, "pool": 2}], "hidden_layers": [16]},
        "training": {"epochs": 2, "batch_size": 64},
    }
    result, sink = fit(overrides)
    assert result.state == "completed"
    accuracy = sink.series("val_accuracy")
    assert len(accuracy) == 2 and accuracy[-1] > 0.3  # ten classes: chance is 0.1


def test_imdb_multi_hot_from_the_keras_cache(tmp_path, monkeypatch):
    import keras.src.backend.config as keras_config
    from keras.src.utils import file_utils

    # Keras checks the cached file against the published archive's hash; this one is generated.
    monkeypatch.setattr(file_utils, "validate_file", lambda *args, **kwargs: True)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    monkeypatch.setattr(keras_config, "_KERAS_DIR", str(tmp_path))
    datasets.raw.cache_clear()
    (tmp_path / "datasets").mkdir()
    # Keras' imdb.npz stores reviews as ragged word-index lists (an object array, by Keras' own format).
    reviews = [[1, 5, 5, 2], [7], [3, 150, 4], [9, 2]]
    ragged = np.empty(len(reviews), dtype=object)
    ragged[:] = reviews
    np.savez(tmp_path / "datasets" / "imdb.npz", x_train=ragged, y_train=np.array([1, 0, 1, 0]),
             x_test=ragged[:2], y_test=np.array([1, 0]))
    try:
        (x_train, y_train), (x_test, _) = datasets.raw("imdb", 20)
    finally:
        datasets.raw.cache_clear()
    assert x_train.shape == (4, 20) and x_test.shape == (2, 20) and x_train.dtype == np.uint8
    # Keras shifts word w to w + 3, marks the start with 1 and words beyond num_words with 2.
    rows = {tuple(np.flatnonzero(row)) for row in x_train}
    assert rows == {(1, 4, 5, 8), (1, 10), (1, 2, 6, 7), (1, 5, 12)}
    assert set(y_train.tolist()) == {0, 1}
    assert DatasetSpec(name="imdb", num_words=100).num_words == 100
