"""Build the Sequential network a run spec describes.

An MLP: Flatten; optional input BatchNormalization and input dropout; for each hidden
layer a Dense (activation, initializer, regularizers, MaxNorm) with batch norm
before or after the activation and dropout after it; a softmax output (sigmoid
for the binary imdb task), regularized only when ``apply_to_output``.

With ``model.conv`` blocks first, Conv2D layers (same padding) get the same
initializer, activation, batch norm, dropout (SpatialDropout2D when
``regularization.spatial_dropout``) and regularizers as the dense part, each
block optionally followed by 2x2 max-pooling, then Flatten and the dense part.
"""

from __future__ import annotations

import functools
from typing import Any, Callable

import keras

from worker.training import regularizers
from worker.training.layers import get_dropout, get_spatial_dropout

# leaky_relu and prelu are layers of their own, as in the notebook
# (PReLU has weights; LeakyReLU keeps Keras' default slope).
ACTIVATION_LAYERS = {"leaky_relu": keras.layers.LeakyReLU, "prelu": keras.layers.PReLU}
ACTIVATIONS = ("relu", "elu", "selu", "tanh", "sigmoid", "gelu", "swish", "linear")


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
    layers: list[keras.layers.Layer] = [keras.Input(shape=input_shape)]
    if model_spec.conv:
        if len(input_shape) == 2:
            layers.append(keras.layers.Reshape((*input_shape, 1)))  # grayscale: one channel
        layers.extend(_input_layers(spec, dropout))
        map_dropout = get_spatial_dropout(reg.dropout_kind) if reg.spatial_dropout else dropout
        for block in model_spec.conv:
            conv = functools.partial(
                keras.layers.Conv2D, block.filters, block.kernel_size, padding="same", **hidden_kwargs
            )
            layers.extend(_hidden_block(conv, model_spec, map_dropout, reg.dropout))
            if block.pool:
                layers.append(keras.layers.MaxPooling2D(block.pool))
        layers.append(keras.layers.Flatten())
    else:
        layers.append(keras.layers.Flatten())
        layers.extend(_input_layers(spec, dropout))
    for units in model_spec.hidden_layers:
        dense = functools.partial(keras.layers.Dense, units, **hidden_kwargs)
        layers.extend(_hidden_block(dense, model_spec, dropout, reg.dropout))
    output_kwargs = hidden_kwargs if reg.apply_to_output else {}
    if classes == 2:
        layers.append(keras.layers.Dense(1, activation="sigmoid", name="output", **output_kwargs))
    else:
        layers.append(keras.layers.Dense(classes, activation="softmax", name="output", **output_kwargs))
    return keras.Sequential(layers, name="reglab_conv" if model_spec.conv else "reglab_mlp")


def _input_layers(spec: Any, dropout: type) -> list[keras.layers.Layer]:
    """Input batch norm and input dropout: after Flatten for an MLP, on the image for a conv net."""
    layers: list[keras.layers.Layer] = []
    if spec.model.input_batch_norm:
        layers.append(keras.layers.BatchNormalization())
    if spec.regularization.input_dropout > 0:
        layers.append(dropout(spec.regularization.input_dropout))
    return layers


def _hidden_block(
    make_layer: Callable[..., keras.layers.Layer], model_spec: Any, dropout: type, rate: float
) -> list[keras.layers.Layer]:
    """One hidden Dense or Conv2D with its activation, batch norm and dropout."""
    initializer = get_initializer(model_spec.initializer)
    layers: list[keras.layers.Layer] = []
    if model_spec.batch_norm == "before_activation":
        # BN's beta replaces the bias, so the layer drops it.
        layers.append(make_layer(kernel_initializer=initializer, use_bias=False))
        layers.append(keras.layers.BatchNormalization())
        layers.extend(activation_layers(model_spec.activation))
    elif model_spec.activation in ACTIVATION_LAYERS:
        layers.append(make_layer(kernel_initializer=initializer))
        layers.extend(activation_layers(model_spec.activation))
    else:
        layers.append(make_layer(activation=model_spec.activation, kernel_initializer=initializer))
    if model_spec.batch_norm == "after_activation":
        layers.append(keras.layers.BatchNormalization())
    if rate > 0:
        layers.append(dropout(rate))
    return layers


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
