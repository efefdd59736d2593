"""Every spec option is really in the built Keras model and optimizer."""

import keras
import numpy as np
import pytest

from tests.worker.helpers import tiny_spec
from worker.training import optimizers
from worker.training.layers import MCAlphaDropout, MCDropout
from worker.training.model import build_model, describe, hidden_dense_layers


def build(overrides, classes=10):
    return build_model(tiny_spec(overrides), (8, 8), classes)


def dense(model):
    return [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)]


def test_regularizers_and_max_norm_on_hidden_layers_only():
    model = build(
        {
            "model": {"hidden_layers": [16, 8]},
            "regularization": {
                "kernel_l1": 0.01, "kernel_l2": 0.02, "bias_l2": 0.03, "activity_l1": 0.04, "max_norm": 2.0,
            },
        }
    )
    hidden, output = hidden_dense_layers(model), dense(model)[-1]
    assert len(hidden) == 2
    for layer in hidden:
        assert isinstance(layer.kernel_regularizer, keras.regularizers.L1L2)
        assert layer.kernel_regularizer.get_config() == pytest.approx({"l1": 0.01, "l2": 0.02})
        assert isinstance(layer.bias_regularizer, keras.regularizers.L2)
        assert layer.bias_regularizer.get_config()["l2"] == pytest.approx(0.03)
        assert isinstance(layer.activity_regularizer, keras.regularizers.L1)
        assert layer.activity_regularizer.get_config()["l1"] == pytest.approx(0.04)
        assert isinstance(layer.kernel_constraint, keras.constraints.MaxNorm)
        assert layer.kernel_constraint.get_config()["max_value"] == 2.0
    assert output.kernel_regularizer is None and output.kernel_constraint is None
    assert output.activity_regularizer is None and output.bias_regularizer is None


def test_apply_to_output_regularizes_the_output_layer():
    model = build({"regularization": {"kernel_l2": 0.01, "max_norm": 1.0, "apply_to_output": True}})
    output = dense(model)[-1]
    assert isinstance(output.kernel_regularizer, keras.regularizers.L2)
    assert isinstance(output.kernel_constraint, keras.constraints.MaxNorm)
    assert output.get_config()["activation"] == "softmax" and output.units == 10


def test_no_regularization_means_no_regularizer_objects():
    layer = hidden_dense_layers(build({}))[0]
    assert layer.kernel_regularizer is None and layer.bias_regularizer is None
    assert layer.activity_regularizer is None and layer.kernel_constraint is None


DROPOUT_KINDS = [
    ("standard", keras.layers.Dropout),
    ("alpha", keras.layers.AlphaDropout),
    ("mc", MCDropout),
    ("mc_alpha", MCAlphaDropout),
]


@pytest.mark.parametrize("kind, cls", DROPOUT_KINDS)
def test_dropout_kinds(kind, cls):
    regularization = {"dropout": 0.3, "input_dropout": 0.1, "dropout_kind": kind}
    model = build({"model": {"hidden_layers": [16, 8]}, "regularization": regularization})
    drops = [layer for layer in model.layers if isinstance(layer, keras.layers.Dropout | keras.layers.AlphaDropout)]
    assert [type(layer) for layer in drops] == [cls] * 3
    assert [layer.rate for layer in drops] == [0.1, 0.3, 0.3]
    assert isinstance(model.layers[1], cls), "input dropout comes right after Flatten"
    x = np.ones((4, 8, 8), dtype="float32")
    differs = not np.allclose(model(x, training=False), model(x, training=False))
    assert differs == kind.startswith("mc"), "only the MC variants stay active at inference"


@pytest.mark.parametrize("name", ["he_normal", "he_uniform", "lecun_normal", "glorot_uniform", "glorot_normal"])
def test_named_initializers(name):
    layer = hidden_dense_layers(build({"model": {"initializer": name}}))[0]
    expected = type(keras.initializers.get(name))
    assert type(layer.kernel_initializer) is expected


def test_variance_scaling_fan_avg():
    layer = hidden_dense_layers(build({"model": {"initializer": "variance_scaling_fan_avg"}}))[0]
    config = layer.kernel_initializer.get_config()
    assert type(layer.kernel_initializer) is keras.initializers.VarianceScaling
    assert (config["scale"], config["mode"], config["distribution"]) == (2.0, "fan_avg", "uniform")


def test_batch_norm_before_activation_drops_the_bias():
    model = build({"model": {"hidden_layers": [16], "batch_norm": "before_activation", "activation": "elu"}})
    names = [type(layer).__name__ for layer in model.layers]
    assert names == ["Flatten", "Dense", "BatchNormalization", "Activation", "Dense"]
    assert model.layers[1].use_bias is False
    assert model.layers[1].get_config()["activation"] == "linear"
    assert model.layers[3].get_config()["activation"] == "elu"


def test_batch_norm_after_activation_and_input_batch_norm():
    model = build({"model": {"hidden_layers": [16], "batch_norm": "after_activation", "input_batch_norm": True}})
    names = [type(layer).__name__ for layer in model.layers]
    assert names == ["Flatten", "BatchNormalization", "Dense", "BatchNormalization", "Dense"]
    assert model.layers[2].use_bias is True and model.layers[2].get_config()["activation"] == "elu"


@pytest.mark.parametrize("activation, cls", [("leaky_relu", keras.layers.LeakyReLU), ("prelu", keras.layers.PReLU)])
def test_leaky_relu_and_prelu_are_layers(activation, cls):
    model = build({"model": {"hidden_layers": [16], "activation": activation}})
    assert isinstance(model.layers[2], cls)
    assert model.layers[1].get_config()["activation"] == "linear"


@pytest.mark.parametrize("activation", ["relu", "elu", "selu", "tanh", "sigmoid", "gelu", "swish"])
def test_plain_activations(activation):
    layer = hidden_dense_layers(build({"model": {"activation": activation}}))[0]
    # Keras names swish by its other name, silu.
    assert layer.get_config()["activation"] == {"swish": "silu"}.get(activation, activation)


def test_binary_output_for_imdb_classes():
    model = build({}, classes=2)
    output = dense(model)[-1]
    assert output.units == 1 and output.get_config()["activation"] == "sigmoid"


def test_describe_lists_layers_and_parameters():
    summary = describe(build({"model": {"hidden_layers": [16]}}))
    assert [layer["class_name"] for layer in summary["layers"]] == ["Flatten", "Dense", "Dense"]
    assert summary["layers"][1]["output_shape"] == [None, 16]
    assert summary["total_params"] == 64 * 16 + 16 + 16 * 10 + 10 == summary["trainable_params"]


OPTIMIZER_CASES = [
    ({"name": "sgd", "momentum": 0.9, "nesterov": True}, keras.optimizers.SGD, {"momentum": 0.9, "nesterov": True}),
    ({"name": "adagrad"}, keras.optimizers.Adagrad, {}),
    ({"name": "rmsprop", "rho": 0.8, "momentum": 0.5}, keras.optimizers.RMSprop, {"rho": 0.8, "momentum": 0.5}),
    ({"name": "adam", "beta_1": 0.8, "beta_2": 0.99}, keras.optimizers.Adam, {"beta_1": 0.8, "beta_2": 0.99}),
    ({"name": "adamax", "beta_1": 0.7}, keras.optimizers.Adamax, {"beta_1": 0.7}),
    ({"name": "nadam", "beta_2": 0.95}, keras.optimizers.Nadam, {"beta_2": 0.95}),
    ({"name": "adamw", "weight_decay": 0.01}, keras.optimizers.AdamW, {"weight_decay": 0.01}),
    (
        {"name": "sgd", "clipnorm": 1.5, "weight_decay": 0.001},
        keras.optimizers.SGD,
        {"clipnorm": 1.5, "weight_decay": 0.001},
    ),
    ({"name": "adam", "clipvalue": 0.5}, keras.optimizers.Adam, {"clipvalue": 0.5}),
]


@pytest.mark.parametrize("spec_args, cls, expected", OPTIMIZER_CASES)
def test_optimizers(spec_args, cls, expected):
    spec = tiny_spec({"optimizer": {"learning_rate": 0.03, **spec_args}})
    optimizer = optimizers.get(spec.optimizer, spec.optimizer.learning_rate)
    assert type(optimizer) is cls
    config = optimizer.get_config()
    assert config["learning_rate"] == pytest.approx(0.03)
    for key, value in expected.items():
        assert config[key] == pytest.approx(value), key
    if "clipnorm" not in expected:
        assert config["clipnorm"] is None


def test_saved_model_loads_with_custom_layers_and_schedules(tmp_path):
    from tests.worker.helpers import fit

    result, _ = fit({"regularization": {"dropout": 0.2, "dropout_kind": "mc"}, "schedule": {"name": "one_cycle"},
                     "training": {"epochs": 1}})
    path = tmp_path / "model.keras"
    result.model.save(path)
    loaded = keras.models.load_model(path)
    assert any(isinstance(layer, MCDropout) for layer in loaded.layers)
    x = np.ones((2, 8, 8), dtype="float32")
    assert loaded(x).shape == (2, 10)


# What each loader yields per example (digits: scikit-learn's 8x8 images, imdb: multi-hot over num_words).
LOADER_SHAPES = {"fashion_mnist": (28, 28), "mnist": (28, 28), "cifar10": (32, 32, 3), "digits": (8, 8)}


@pytest.mark.parametrize(
    "overrides",
    [
        {"dataset": {"name": "digits", "validation_samples": 100}, "model": {"hidden_layers": [16, 8]}},
        {"dataset": {"name": "digits", "validation_samples": 100}, "model": {"hidden_layers": [7], "activation": "prelu", "batch_norm": "after_activation", "input_batch_norm": True}},
        {"dataset": {"name": "fashion_mnist"}, "model": {"hidden_layers": [30, 10], "batch_norm": "before_activation", "activation": "prelu"}},
        {"dataset": {"name": "cifar10"}, "model": {"hidden_layers": [5], "activation": "leaky_relu"}, "regularization": {"dropout": 0.2}},
        {"dataset": {"name": "imdb", "num_words": 50}, "model": {"hidden_layers": [4, 3], "batch_norm": "before_activation"}},
        {"dataset": {"name": "mnist"}, "model": {"hidden_layers": []}},
        {"dataset": {"name": "fashion_mnist"}, "model": {"hidden_layers": [64], "activation": "linear"},
         "regularization": {"kernel_l2": 0.01, "activity_l1": 0.01, "max_norm": 2.0, "dropout": 0.5}},
        {"dataset": {"name": "cifar10"}, "model": {"conv": [{"filters": 6, "kernel_size": 3, "pool": 2}, {"filters": 4, "kernel_size": 5}],
                                                 "hidden_layers": [9], "batch_norm": "before_activation", "input_batch_norm": True}},
        {"dataset": {"name": "digits", "validation_samples": 100},
         "model": {"conv": [{"filters": 3, "kernel_size": 2, "pool": 2}, {"filters": 5, "pool": 2}], "hidden_layers": [],
                   "activation": "prelu", "batch_norm": "after_activation"}, "regularization": {"spatial_dropout": True, "dropout": 0.1}},
    ],
)
def test_param_count_from_the_spec_matches_keras(overrides):
    from backend.model_size import param_count
    from reglab.spec import DATASET_CLASSES, build_spec

    spec = build_spec(overrides)
    shape = (spec.dataset.num_words,) if spec.dataset.name == "imdb" else LOADER_SHAPES[spec.dataset.name]

    model = build_model(spec, shape, DATASET_CLASSES[spec.dataset.name])

    assert param_count(spec) == model.count_params()


def test_digits_loader_shape_is_the_one_counted():
    from worker.training.datasets import raw

    (x_train, _), _ = raw("digits")
    assert x_train.shape[1:] == LOADER_SHAPES["digits"]


def test_describe_has_the_shape_the_api_declares():
    from backend.runs.schemas import ModelSummary

    summary = describe(build({"model": {"hidden_layers": [16], "activation": "prelu", "batch_norm": "after_activation"}}))

    # GET /api/runs/{id}/summary serves this as stored; its response model must describe it exactly.
    assert ModelSummary.model_validate(summary).model_dump() == summary
