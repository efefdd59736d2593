"""Per-layer snapshots: statistics of every Dense and Conv2D layer's weights, activations and gradients.

One snapshot describes the network at one moment (``epoch: -1`` before the
first batch, then after epochs): for each layer, keyed by its Keras ``name``,

* ``weights``: the kernel, with ``max_col_norm`` (the largest L2 norm of one
  unit's incoming weights);
* ``activations``: the layer's output after its activation on a fixed probe
  batch, with ``saturated_fraction`` for sigmoid and tanh;
* ``gradients``: the gradient of the training loss *including the
  regularization penalty* with respect to the kernel, on the probe batch.

Each gets :func:`tensor_stats`: mean, std, l2, abs_max, zero_fraction, the
9 quantiles at TensorBoard's basis points and a 64-bin histogram on edges
every run shares (see :func:`hist_range`). The worker's tracker and
:class:`reglab.keras.RegLabCallback` both record through
:class:`LayerRecorder`, so a run trained anywhere records the same figures.

Cost: one forward and one backward pass on the probe batch (a few hundred
examples, in inference mode) and a handful of vectorised numpy reductions
per tensor; nothing per batch. The pure helpers here need numpy only; Keras
is imported where a model is read.
"""

from __future__ import annotations

import logging
import math
from typing import Any

import numpy as np

log = logging.getLogger("reglab.layer_stats")

# TensorBoard's compressed-histogram basis points (in %): -inf, -2, -1.5, -1, -0.5, 0, ... sigma of a normal.
QUANTILE_POINTS = (0.0, 6.68, 15.87, 30.85, 50.0, 69.15, 84.13, 93.32, 100.0)
HIST_BINS = 64
# The histogram range of an all-zero tensor.
ZERO_RANGE = 2.0**-20
# A kernel weight below this magnitude counts as zero (the epoch metrics' ``sparsity``).
WEIGHT_ZERO_THRESHOLD = 1e-3
# Within 1 % of a bound of the activation's range counts as saturated.
SATURATION = {"sigmoid": lambda a: (a < 0.01) | (a > 0.99), "tanh": lambda a: np.abs(a) > 0.99}
LAYER_TYPES = ("Dense", "Conv2D")


# ---- pure helpers: numpy only ------------------------------------------------------


def _finite(value: Any) -> float | None:
    value = float(value)
    return value if math.isfinite(value) else None


def power_of_two_ceil(value: float) -> float:
    """2 ** ceil(log2(value)) for a positive finite value, exactly (no rounding of log2)."""
    mantissa, exponent = math.frexp(value)  # value = mantissa * 2 ** exponent, mantissa in [0.5, 1)
    return math.ldexp(1.0, exponent - 1) if mantissa == 0.5 else math.ldexp(1.0, exponent)


def hist_range(low: float, high: float) -> tuple[float, float]:
    """The histogram's [start, stop] for values in [low, high] (both finite).

    With m = 2 ** ceil(log2(max |x|)) (``ZERO_RANGE`` when all are 0): [0, m]
    if none is negative, [-m, 0] if none is positive, else [-m, m]. So 64 bins
    have a power-of-two width with 0 on an edge, and the grids of any two
    tensors are nested: one's bins fall each inside one of the other's (or
    are unions of them), which lets the server re-bin runs onto common edges
    exactly, and keeps a spike at 0 in the bins next to it.
    """
    largest = max(abs(low), abs(high))
    m = power_of_two_ceil(largest) if largest > 0 else ZERO_RANGE
    if low >= 0:
        return 0.0, m
    if high <= 0:
        return -m, 0.0
    return -m, m


def hist_edges(start: float, stop: float, bins: int = HIST_BINS) -> np.ndarray:
    """``bins + 1`` equal-width edges from ``start`` to ``stop`` (exact for power-of-two widths)."""
    width = (stop - start) / bins
    return start + width * np.arange(bins + 1, dtype="float64")


def histogram(values: np.ndarray, bins: int = HIST_BINS) -> dict[str, list]:
    """``{"edges", "counts"}`` of ``values`` on the edges of :func:`hist_range`.

    Bins are closed on the left, the last one on both sides (as ``np.histogram``).
    Infinities count in the outermost bins; NaNs are not counted.
    """
    flat = np.asarray(values, dtype="float64").ravel()
    finite = np.isfinite(flat)
    everything_finite = bool(finite.all())
    kept = flat if everything_finite else flat[finite]
    if kept.size:
        start, stop = hist_range(float(kept.min()), float(kept.max()))
    else:
        start, stop = 0.0, ZERO_RANGE
    width = (stop - start) / bins
    # Dividing by a power of two is exact, so each value lands on the right side of 0 and of every edge
    # (subtracting start first would round tiny negative values up onto the 0 edge).
    index = np.floor(kept / width).astype("int64") - int(round(start / width))
    np.clip(index, 0, bins - 1, out=index)
    counts = np.bincount(index, minlength=bins)
    if not everything_finite:
        counts[-1] += int(np.count_nonzero(flat == np.inf))
        counts[0] += int(np.count_nonzero(flat == -np.inf))
    return {"edges": hist_edges(start, stop, bins).tolist(), "counts": counts.tolist()}


def quantiles(values: np.ndarray) -> list[float | None]:
    """The values at ``QUANTILE_POINTS`` (linear interpolation between order statistics)."""
    flat = np.asarray(values, dtype="float64").ravel()
    if not flat.size:
        return [None] * len(QUANTILE_POINTS)
    points = np.quantile(flat, np.asarray(QUANTILE_POINTS) / 100.0)
    return [_finite(point) for point in points]


def tensor_stats(values: np.ndarray, zero_threshold: float | None = None) -> dict[str, Any]:
    """mean, std, l2, abs_max, zero_fraction, quantiles and hist of one tensor.

    ``zero_fraction`` counts |x| < ``zero_threshold``, or x == 0 exactly when it is None.
    Non-finite figures come out as None.
    """
    flat = np.asarray(values, dtype="float64").ravel()
    size = flat.size
    if not size:
        return {"mean": None, "std": None, "l2": None, "abs_max": None, "zero_fraction": None,
                "quantiles": quantiles(flat), "hist": histogram(flat)}  # fmt: skip
    mean = flat.mean()
    centred = flat - mean
    zeros = np.count_nonzero(np.abs(flat) < zero_threshold) if zero_threshold is not None else size - np.count_nonzero(flat)
    return {
        "mean": _finite(mean),
        "std": _finite(math.sqrt(float(np.dot(centred, centred)) / size)),
        "l2": _finite(math.sqrt(float(np.dot(flat, flat)))),
        "abs_max": _finite(max(abs(flat.min()), abs(flat.max()))),
        "zero_fraction": int(zeros) / size,
        "quantiles": quantiles(flat),
        "hist": histogram(flat),
    }


def max_col_norm(kernel: np.ndarray) -> float | None:
    """The largest L2 norm of one output unit's incoming weights: kernel as (-1, units), norm over axis 0."""
    kernel = np.asarray(kernel, dtype="float64")
    columns = kernel.reshape(-1, kernel.shape[-1])
    return _finite(np.sqrt(np.einsum("ij,ij->j", columns, columns)).max())


def weight_stats(kernel: np.ndarray) -> dict[str, Any]:
    return {**tensor_stats(kernel, WEIGHT_ZERO_THRESHOLD), "max_col_norm": max_col_norm(kernel)}


def activation_stats(output: np.ndarray, activation: str | None) -> dict[str, Any]:
    stats = tensor_stats(output)
    saturated = SATURATION.get(activation or "")
    if saturated is not None:
        output = np.asarray(output)
        stats["saturated_fraction"] = int(np.count_nonzero(saturated(output))) / output.size if output.size else None
    return stats


def should_record(epoch: int, every: int, last_epoch: int | None) -> bool:
    """Whether the snapshot after ``epoch`` (-1: before training) is kept with ``layer_stats_every=every``.

    0 keeps none; otherwise -1, every ``every``-th epoch (counting completed
    epochs: with 5, epochs 4, 9, 14...) and the last one.
    """
    if every <= 0:
        return False
    return epoch == -1 or epoch == last_epoch or (epoch + 1) % every == 0


# ---- reading a Keras model -------------------------------------------------------


def _activation_name(function: Any) -> str | None:
    if function is None:
        return None
    import keras

    try:
        name = keras.activations.serialize(function)
    except Exception:  # a custom activation Keras cannot name
        name = None
    if isinstance(name, dict):
        name = name.get("config", name.get("class_name"))
    if not isinstance(name, str):
        name = getattr(function, "__name__", None)
    return name


# Layers that are nothing but an activation: a linear Dense or Conv2D followed by one of these
# (batch norm in between, as "batch norm before the activation" builds it) has it as its activation.
_ACTIVATION_LAYERS = {"LeakyReLU": "leaky_relu", "PReLU": "prelu", "ReLU": "relu", "ELU": "elu", "Softmax": "softmax"}


def _separate_activation(model: Any, layer: Any) -> tuple[Any, str] | None:
    """(the activation layer, its name) that follows a linear ``layer`` in ``model``, or None."""
    layers = list(model.layers)
    position = layers.index(layer)
    current = layer
    for following in layers[position + 1 :]:
        try:
            if following.input is not current.output:  # not fed by it: not its activation
                return None
        except (AttributeError, ValueError):  # several inbound nodes, or unbuilt
            return None
        kind = type(following).__name__
        if kind == "BatchNormalization":
            current = following
            continue
        if kind == "Activation":
            return following, _activation_name(following.activation)
        if kind in _ACTIVATION_LAYERS:
            return following, _ACTIVATION_LAYERS[kind]
        return None
    return None


def recorded_layers(model: Any) -> list[Any]:
    """The model's Dense and Conv2D layers (subclasses included), input side first."""
    import keras

    return [layer for layer in model.layers if isinstance(layer, (keras.layers.Dense, keras.layers.Conv2D))]


def _layer_type(layer: Any) -> str:
    import keras

    return "Conv2D" if isinstance(layer, keras.layers.Conv2D) else "Dense"


class LayerRecorder:
    """Takes snapshots of one model; the sub-model that outputs every layer's activation is built once.

    Args:
        model: a built Keras model (Sequential or functional; a subclassed model
            has no graph to read activations from, so its snapshots hold weights
            and gradients only).
        loss: the training loss: a Keras loss name, ``keras.losses.Loss`` or
            ``fn(y_true, y_pred)``; None takes the model's compiled loss.
    """

    def __init__(self, model: Any, loss: Any = None):
        import keras

        self.model = model
        self.layers = recorded_layers(model)
        loss = loss if loss is not None else getattr(model, "loss", None)
        self.loss = keras.losses.get(loss) if loss is not None else None
        self.activations: list[str | None] = []
        self.activation_sources: list[Any] = []
        for layer in self.layers:
            name = _activation_name(getattr(layer, "activation", None))
            source = layer
            if name in (None, "linear"):
                found = _separate_activation(model, layer)
                if found is not None:
                    source, name = found
            self.activations.append(name)
            self.activation_sources.append(source)
        self._probe_model = None
        self._probe_model_failed = False

    def describe(self) -> list[dict[str, Any]]:
        """The layer descriptions: index, name, type, units, activation, params."""
        return [
            {
                "index": index,
                "name": layer.name,
                "type": _layer_type(layer),
                "units": int(layer.units if _layer_type(layer) == "Dense" else layer.filters),
                "activation": activation,
                "params": int(layer.count_params()),
            }
            for index, (layer, activation) in enumerate(zip(self.layers, self.activations))
        ]

    def probe_model(self) -> Any:
        """A model from the inputs to [each layer's activation..., the model's output], or None."""
        if self._probe_model is None and not self._probe_model_failed:
            import keras

            try:
                outputs = [source.output for source in self.activation_sources] + list(self.model.outputs)
                inputs = self.model.inputs
                # One input as itself, so calling the sub-model with an array matches its structure.
                self._probe_model = keras.Model(inputs[0] if len(inputs) == 1 else inputs, outputs)
            except (AttributeError, ValueError, TypeError) as error:  # subclassed: no symbolic graph
                log.info("no activations recorded for %s: %s", self.model.name, error)
                self._probe_model_failed = True
        return self._probe_model

    def snapshot(self, epoch: int, x: Any = None, y: Any = None) -> dict[str, Any]:
        """One snapshot at ``epoch``; without a probe batch ``x``, ``y`` it holds weights only."""
        import keras

        kernels = [np.asarray(keras.ops.convert_to_numpy(layer.kernel)) for layer in self.layers]
        entries: list[dict[str, Any]] = [{"weights": weight_stats(kernel)} for kernel in kernels]
        if x is not None and y is not None and self.layers:
            activations, gradients = self._forward_backward(x, y)
            if activations is not None:
                for entry, output, activation in zip(entries, activations, self.activations):
                    entry["activations"] = activation_stats(output, activation)
            if gradients is not None:
                for entry, gradient in zip(entries, gradients):
                    entry["gradients"] = tensor_stats(gradient)
        return {"epoch": int(epoch), "layers": {layer.name: entry for layer, entry in zip(self.layers, entries)}}

    def _forward_backward(self, x: Any, y: Any) -> tuple[list[np.ndarray] | None, list[np.ndarray] | None]:
        """The layers' activations and the loss gradients w.r.t. their kernels, on (x, y) in inference mode."""
        import keras

        probe = self.probe_model()
        count = len(self.layers)
        backend = keras.backend.backend()
        if backend == "tensorflow":
            import tensorflow as tf

            kernels = [layer.kernel.value for layer in self.layers]
            with tf.GradientTape(watch_accessed_variables=False) as tape:
                tape.watch(kernels)
                outputs, total = self._loss(probe, x, y)
            if total is None:
                return self._numpy(outputs, count), None
            gradients = tape.gradient(total, kernels, unconnected_gradients=tf.UnconnectedGradients.ZERO)
            return self._numpy(outputs, count), [gradient.numpy() for gradient in gradients]
        if backend == "torch":
            import torch

            kernels = [layer.kernel.value for layer in self.layers]
            with torch.enable_grad():
                outputs, total = self._loss(probe, x, y)
                if total is None or not total.requires_grad:
                    return self._numpy(outputs, count), None
                gradients = torch.autograd.grad(total, kernels, allow_unused=True)
            return self._numpy(outputs, count), [
                np.zeros(tuple(kernel.shape), dtype="float32") if gradient is None else gradient.detach().cpu().numpy()
                for kernel, gradient in zip(kernels, gradients)
            ]
        # jax and others: no tape; activations only.
        outputs, _ = self._loss(probe, x, y, with_loss=False)
        return self._numpy(outputs, count), None

    def _loss(self, probe: Any, x: Any, y: Any, with_loss: bool = True) -> tuple[Any, Any]:
        """(the probe model's outputs or None, the training loss plus penalties or None)."""
        import keras

        if probe is not None:
            outputs = probe(x, training=False)
            predictions = outputs[len(self.layers) :]
            prediction = predictions[0] if len(predictions) == 1 else predictions
        else:
            outputs = None
            prediction = self.model(x, training=False)
        if not with_loss or self.loss is None:
            return outputs, None
        # The call above refreshed the layers' activity penalties; model.losses adds the weight penalties,
        # as the training step does.
        total = keras.ops.mean(self.loss(y, prediction))
        for penalty in self.model.losses:
            total = total + keras.ops.cast(keras.ops.sum(penalty), total.dtype)
        return outputs, total

    @staticmethod
    def _numpy(outputs: Any, count: int) -> list[np.ndarray] | None:
        if outputs is None:
            return None
        import keras

        return [np.asarray(keras.ops.convert_to_numpy(output)) for output in outputs[:count]]


def layer_snapshot(model: Any, x: Any, y: Any, loss: Any = None, epoch: int = -1) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """(the layer descriptions, one snapshot) of ``model`` on the probe batch ``(x, y)``.

    A one-off; to snapshot the same model repeatedly, keep a :class:`LayerRecorder`.
    """
    recorder = LayerRecorder(model, loss)
    return recorder.describe(), recorder.snapshot(epoch, x, y)
