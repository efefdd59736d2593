"""reglab.layer_stats on real Keras models: figures checked against numpy, Keras and GradientTape in the test,
and the effects the course notes describe (L1 sparsity, SELU self-normalization, sigmoid saturation)."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from reglab.layer_stats import LayerRecorder, layer_snapshot


def digits(standardize=False):
    from sklearn.datasets import load_digits

    data = load_digits()
    x = data.images.reshape(len(data.images), -1).astype("float32")
    if standardize:
        x = (x - x.mean(axis=0)) / (x.std(axis=0) + 1e-7)
    else:
        x = x / 16.0
    return x[:1400], data.target[:1400], x[1400:], data.target[1400:]


def regularized_model():
    keras.utils.set_random_seed(3)
    model = keras.Sequential([
        keras.Input((64,)),
        keras.layers.Dense(32, activation="relu", kernel_regularizer=keras.regularizers.L2(0.05),
                           activity_regularizer=keras.regularizers.L1(0.01)),
        # Batch norm before the activation: the Dense is linear, its activation is the layer after BN.
        keras.layers.Dense(16, use_bias=False, kernel_regularizer=keras.regularizers.L1(0.02)),
        keras.layers.BatchNormalization(),
        keras.layers.Activation("tanh"),
        keras.layers.Dropout(0.3),
        keras.layers.Dense(10, activation="softmax", name="output"),
    ])  # fmt: skip
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    return model


def test_descriptions_name_every_dense_layer_from_the_input_side():
    model = regularized_model()
    layers, snapshot = layer_snapshot(model, None, None)
    assert [(d["index"], d["type"], d["units"], d["activation"]) for d in layers] == [
        (0, "Dense", 32, "relu"), (1, "Dense", 16, "tanh"), (2, "Dense", 10, "softmax"),
    ]  # fmt: skip
    assert [d["params"] for d in layers] == [64 * 32 + 32, 32 * 16, 16 * 10 + 10]
    assert [d["name"] for d in layers] == list(snapshot["layers"]) and layers[-1]["name"] == "output"
    # No probe batch: weights only.
    assert all(set(entry) == {"weights"} for entry in snapshot["layers"].values())


@pytest.mark.slow
def test_weight_stats_equal_numpy_on_the_kernels():
    model = regularized_model()
    x, y, xv, yv = digits()
    model.fit(x, y, epochs=1, batch_size=100, verbose=0)
    _, snapshot = layer_snapshot(model, xv[:64], yv[:64])
    assert snapshot["epoch"] == -1
    for layer in (model.layers[0], model.layers[1], model.get_layer("output")):
        kernel = layer.get_weights()[0].astype("float64")
        weights = snapshot["layers"][layer.name]["weights"]
        assert weights["std"] == pytest.approx(np.std(kernel), rel=1e-6)
        assert weights["l2"] == pytest.approx(np.sqrt(np.sum(kernel**2)), rel=1e-6)
        assert weights["mean"] == pytest.approx(np.mean(kernel), rel=1e-6, abs=1e-9)
        assert weights["zero_fraction"] == pytest.approx(np.mean(np.abs(kernel) < 1e-3))
        assert weights["quantiles"][4] == pytest.approx(np.median(kernel), rel=1e-6, abs=1e-9)
        assert sum(weights["hist"]["counts"]) == kernel.size
        assert weights["max_col_norm"] == pytest.approx(np.linalg.norm(kernel, axis=0).max(), rel=1e-6)


def test_activation_stats_equal_a_keras_sub_model_on_the_probe_batch():
    model = regularized_model()
    x, y, xv, yv = digits()
    probe_x, probe_y = xv[:128], yv[:128]
    _, snapshot = layer_snapshot(model, probe_x, probe_y)
    # The layers whose outputs are "after the activation": the relu Dense, the tanh layer after BN, the softmax.
    tanh = model.layers[3]
    outputs = keras.Model(model.inputs[0], [model.layers[0].output, tanh.output, model.get_layer("output").output])
    relu_out, tanh_out, soft_out = (np.asarray(a, dtype="float64") for a in outputs.predict(probe_x, verbose=0))
    for name, expected in ((model.layers[0].name, relu_out), (model.layers[1].name, tanh_out), ("output", soft_out)):
        activations = snapshot["layers"][name]["activations"]
        assert activations["mean"] == pytest.approx(expected.mean(), rel=1e-5)
        assert activations["std"] == pytest.approx(expected.std(), rel=1e-5)
        assert activations["zero_fraction"] == pytest.approx(np.mean(expected == 0))
        assert sum(activations["hist"]["counts"]) == expected.size
    assert snapshot["layers"][model.layers[0].name]["activations"]["zero_fraction"] > 0.1  # dead ReLU outputs, exactly 0
    assert snapshot["layers"][model.layers[1].name]["activations"]["saturated_fraction"] == pytest.approx(
        np.mean(np.abs(tanh_out) > 0.99)
    )
    assert "saturated_fraction" not in snapshot["layers"][model.layers[0].name]["activations"]


@pytest.mark.slow
def test_gradients_are_those_of_the_training_loss_with_its_penalties():
    model = regularized_model()
    x, y, xv, yv = digits()
    model.fit(x, y, epochs=1, batch_size=100, verbose=0)
    probe_x, probe_y = xv[:100], yv[:100]
    _, snapshot = layer_snapshot(model, probe_x, probe_y)
    kernels = [model.layers[0].kernel, model.layers[1].kernel, model.get_layer("output").kernel]
    loss = keras.losses.SparseCategoricalCrossentropy()
    with tf.GradientTape(persistent=True) as tape:
        prediction = model(probe_x, training=False)
        data = loss(probe_y, prediction)
        total = data + tf.add_n(model.losses)
    expected = [tape.gradient(total, kernel).numpy().astype("float64") for kernel in kernels]
    without_penalty = [tape.gradient(data, kernel).numpy() for kernel in kernels]
    for layer, gradient, plain in zip((model.layers[0].name, model.layers[1].name, "output"), expected, without_penalty):
        gradients = snapshot["layers"][layer]["gradients"]
        assert gradients["l2"] == pytest.approx(np.linalg.norm(gradient), rel=1e-4)
        assert gradients["abs_max"] == pytest.approx(np.abs(gradient).max(), rel=1e-4)
        assert gradients["mean"] == pytest.approx(gradient.mean(), rel=1e-3, abs=1e-9)
        assert sum(gradients["hist"]["counts"]) == gradient.size
    # The penalties change the regularized layers' gradients: leaving them out would be seen.
    for index in (0, 1):
        assert abs(np.linalg.norm(expected[index]) - np.linalg.norm(without_penalty[index])) > 1e-3


@pytest.mark.slow
def test_a_recorder_snapshots_the_weights_as_they_change():
    model = regularized_model()
    x, y, xv, yv = digits()
    recorder = LayerRecorder(model)
    before = recorder.snapshot(-1, xv[:32], yv[:32])
    model.fit(x, y, epochs=1, batch_size=100, verbose=0)
    after = recorder.snapshot(0, xv[:32], yv[:32])
    assert after["epoch"] == 0
    assert after["layers"]["output"]["weights"]["l2"] != before["layers"]["output"]["weights"]["l2"]
    assert after["layers"]["output"]["weights"]["l2"] == pytest.approx(
        np.linalg.norm(model.get_layer("output").get_weights()[0]), rel=1e-6
    )


def test_conv2d_layers_are_recorded_with_filters_as_units():
    keras.utils.set_random_seed(0)
    model = keras.Sequential([
        keras.Input((8, 8, 1)), keras.layers.Conv2D(4, 3, activation="sigmoid"), keras.layers.Flatten(),
        keras.layers.Dense(10, activation="softmax"),
    ])  # fmt: skip
    x, y, _, _ = digits()
    layers, snapshot = layer_snapshot(model, x[:16].reshape(-1, 8, 8, 1), y[:16], "sparse_categorical_crossentropy")
    assert (layers[0]["type"], layers[0]["units"], layers[0]["params"]) == ("Conv2D", 4, 3 * 3 * 4 + 4)
    conv = snapshot["layers"][layers[0]["name"]]
    kernel = model.layers[0].get_weights()[0]
    assert conv["weights"]["max_col_norm"] == pytest.approx(np.linalg.norm(kernel.reshape(-1, 4), axis=0).max(), rel=1e-6)
    assert sum(conv["activations"]["hist"]["counts"]) == 16 * 6 * 6 * 4
    assert 0 <= conv["activations"]["saturated_fraction"] <= 1


# ---- the effects seed 004 and the regularization notes describe ---------------------


def deep_model(depth, units, activation, initializer):
    return keras.Sequential(
        [keras.Input((64,))]
        + [keras.layers.Dense(units, activation=activation, kernel_initializer=initializer) for _ in range(depth)]
        + [keras.layers.Dense(10, activation="softmax", name="output")]
    )


def test_selu_with_lecun_normal_keeps_activations_standardized_through_depth():
    keras.utils.set_random_seed(42)
    x, y, xv, yv = digits(standardize=True)
    model = deep_model(12, 100, "selu", "lecun_normal")
    layers, snapshot = layer_snapshot(model, xv[:256], yv[:256], "sparse_categorical_crossentropy")
    stds = [snapshot["layers"][d["name"]]["activations"]["std"] for d in layers if d["name"] != "output"]
    assert len(stds) == 12
    assert all(0.6 <= std <= 1.6 for std in stds), stds


def test_sigmoid_with_a_badly_scaled_init_saturates_more_with_depth():
    x, y, xv, yv = digits()

    def saturation(initializer):
        keras.utils.set_random_seed(42)
        model = deep_model(6, 100, "sigmoid", initializer)
        layers, snapshot = layer_snapshot(model, xv[:256], yv[:256], "sparse_categorical_crossentropy")
        hidden = [snapshot["layers"][d["name"]] for d in layers[:-1]]
        return [h["activations"]["saturated_fraction"] for h in hidden], [h["gradients"]["l2"] for h in hidden]

    # Unit-variance weights over 100 inputs multiply the pre-activations' variance by ~100 x E[a^2] per layer:
    # past the first layer about half the units sit within 1 % of 0 or 1.
    saturated, gradients = saturation(keras.initializers.RandomNormal(stddev=1.0))
    assert all(deeper > saturated[0] for deeper in saturated[1:]), saturated
    assert np.mean(saturated[1:]) > saturated[0] + 0.15, saturated
    # Saturated units pass little gradient back: the first layer's is the smallest.
    assert gradients[0] == min(gradients), gradients
    # Glorot's scaling keeps the same network out of saturation.
    glorot, _ = saturation("glorot_uniform")
    assert max(glorot) < 0.02, glorot


@pytest.mark.slow
def test_an_l1_run_zeroes_far_more_first_layer_weights_than_an_unregularized_one():
    x, y, xv, yv = digits()

    def zero_fraction(l1):
        keras.utils.set_random_seed(7)
        regularizer = keras.regularizers.L1(l1) if l1 else None
        model = keras.Sequential([
            keras.Input((64,)), keras.layers.Dense(64, activation="relu", kernel_regularizer=regularizer),
            keras.layers.Dense(10, activation="softmax", name="output"),
        ])  # fmt: skip
        model.compile(optimizer=keras.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy")
        model.fit(x, y, epochs=5, batch_size=64, verbose=0)
        _, snapshot = layer_snapshot(model, xv[:256], yv[:256])
        return snapshot["layers"][model.layers[0].name]["weights"]["zero_fraction"]

    plain, l1 = zero_fraction(0.0), zero_fraction(0.01)
    assert l1 > plain + 0.3, (plain, l1)
