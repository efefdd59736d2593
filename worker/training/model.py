"""Build the Sequential MLP a run spec describes.

Flatten; optional input BatchNormalization and input dropout; for each hidden
layer a Dense (activation, initializer, regularizers, MaxNorm) with batch norm
before or after the activation and dropout after it; a softmax output (sigmoid
for the binary imdb task), regularized only when ``apply_to_output``.
"""

from __future__ import annotations

from typing import Any

import keras

from worker.training import regularizers
from worker.training.layers import get_dropout

# leaky_relu and prelu are layers of their own, as in the notebook
# (PReLU has weights; LeakyReLU keeps Keras' default slope).
ACTIVATION_LAYERS = {"leaky_relu": keras.layers.LeakyReLU, "prelu": keras.layers.PReLU}
ACTIVATIONS = ("relu", "elu", "selu", "tanh", "sigmoid", "gelu", "swish")


def get_initializer(identifier: str) -> keras.initializers.Initializer:
    """Spec initializer name -> Keras initializer.

    ``variance_scaling_fan_avg`` is the notebook's He initialization over
    fan_avg: VarianceScaling(scale=2, mode="fan_avg", distribution="uniform").
    """
    if identifier == "variance_scaling_fan_avg":
        return keras.initializers.VarianceScaling(scale=2.0, mode="fan_avg", distribution="uniform")
    return keras.initializers.get(identifier)


def activation_layers(name: str) -> list[keras.layers.Layer]:
    if name in ACTIVATION_LAYERS:
        return [ACTIVATION_LAYERS[name]()]
    if name not in ACTIVATIONS:
        raise ValueError(f"unknown activation {name!r}")
    return [keras.layers.Activation(name)]


def build_model(spec: Any, input_shape: tuple[int, ...], classes: int) -> keras.Sequential:
    """The uncompiled model for ``spec`` (a :class:`reglab.spec.RunSpec`)."""
    model_spec, reg = spec.model, spec.regularization
    dropout = get_dropout(reg.dropout_kind)
    hidden_kwargs = regularizers.layer_kwargs(reg)
    layers: list[keras.layers.Layer] = [keras.Input(shape=input_shape), keras.layers.Flatten()]
    if model_spec.input_batch_norm:
        layers.append(keras.layers.BatchNormalization())
    if reg.input_dropout > 0:
        layers.append(dropout(reg.input_dropout))
    for units in model_spec.hidden_layers:
        initializer = get_initializer(model_spec.initializer)
        if model_spec.batch_norm == "before_activation":
            # BN's beta replaces the bias, so the Dense drops it.
            layers.append(
                keras.layers.Dense(units, kernel_initializer=initializer, use_bias=False, **hidden_kwargs)
            )
            layers.append(keras.layers.BatchNormalization())
            layers.extend(activation_layers(model_spec.activation))
        elif model_spec.activation in ACTIVATION_LAYERS:
            layers.append(keras.layers.Dense(units, kernel_initializer=initializer, **hidden_kwargs))
            layers.extend(activation_layers(model_spec.activation))
        else:
            layers.append(
                keras.layers.Dense(
                    units, activation=model_spec.activation, kernel_initializer=initializer, **hidden_kwargs
                )
            )
        if model_spec.batch_norm == "after_activation":
            layers.append(keras.layers.BatchNormalization())
        if reg.dropout > 0:
            layers.append(dropout(reg.dropout))
    output_kwargs = hidden_kwargs if reg.apply_to_output else {}
    if classes == 2:
        layers.append(keras.layers.Dense(1, activation="sigmoid", name="output", **output_kwargs))
    else:
        layers.append(keras.layers.Dense(classes, activation="softmax", name="output", **output_kwargs))
    return keras.Sequential(layers, name="reglab_mlp")


def loss_for(classes: int) -> str:
    return "binary_crossentropy" if classes == 2 else "sparse_categorical_crossentropy"


def hidden_dense_layers(model: keras.Model) -> list[keras.layers.Dense]:
    """The hidden Dense layers (every Dense but the output)."""
    return [layer for layer in model.layers if isinstance(layer, keras.layers.Dense) and layer.name != "output"]


def describe(model: keras.Model) -> dict[str, Any]:
    """The layer table stored as the run's ``model_summary``."""
    layers = []
    for layer in model.layers:
        shape = getattr(layer, "output", None)
        shape = list(shape.shape) if shape is not None else None
        layers.append(
            {
                "name": layer.name,
                "class_name": type(layer).__name__,
                "output_shape": shape,
                "params": layer.count_params(),
            }
        )
    trainable = sum(int(keras.ops.size(w)) for w in model.trainable_weights)
    return {"layers": layers, "total_params": model.count_params(), "trainable_params": trainable}
