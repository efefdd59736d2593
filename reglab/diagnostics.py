"""Regularization diagnostics of a model's current weights, once per epoch.

Everything here runs at an epoch's end, never per batch: a handful of numpy
reductions over the kernels (a few milliseconds for the default MLP). The
worker's tracker and :class:`reglab.keras.RegLabCallback` both call
:func:`regularization_values`, so a run trained anywhere records the same figures.
"""

from __future__ import annotations

import math
from typing import Any

import keras
import numpy as np

# A kernel weight below this magnitude counts as zero for ``sparsity``.
SPARSITY_THRESHOLD = 1e-3


def finite(value: Any) -> float | None:
    """A float for the store and JSON; None for NaN, inf, None or anything not a number (JSON has no NaN)."""
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def read_rate(optimizer: Any) -> float:
    """The rate the optimizer applies to its next update."""
    return float(keras.ops.convert_to_numpy(optimizer.learning_rate))


def dense_layers(model: keras.Model) -> list[keras.layers.Dense]:
    return [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)]


def has_regularizers(model: keras.Model) -> tuple[bool, bool]:
    """(any weight regularizer, any activity regularizer) among the model's layers."""
    weights = any(
        getattr(layer, "kernel_regularizer", None) is not None or getattr(layer, "bias_regularizer", None) is not None
        for layer in model.layers
    )
    activity = any(getattr(layer, "activity_regularizer", None) is not None for layer in model.layers)
    return weights, activity


def penalty(model: keras.Model, probe: Any = None) -> float:
    """The regularization part of the loss at the current weights (``reg_loss``).

    Weight penalties (kernel and bias L1/L2) are exact for these weights.
    Activity penalties depend on the inputs: they are measured on ``probe``
    (a fixed slice of training examples) in inference mode, which Keras
    averages per example like the batch penalty it adds during training. The
    ``loss`` logged for an epoch is the mean over its batches, whose weights
    moved during the epoch, so ``loss - reg_loss`` is an estimate of the
    data term, exact only for a constant penalty.
    """
    weights, activity = has_regularizers(model)
    if activity and probe is not None:
        # An eager call refreshes every layer's activity loss; model.losses then
        # holds them plus the weight penalties recomputed from the variables.
        model(probe, training=False)
        return float(sum(float(keras.ops.convert_to_numpy(loss)) for loss in model.losses))
    if not weights:
        return 0.0
    total = 0.0
    for layer in model.layers:
        for regularizer, variable in (
            (getattr(layer, "kernel_regularizer", None), getattr(layer, "kernel", None)),
            (getattr(layer, "bias_regularizer", None), getattr(layer, "bias", None)),
        ):
            if regularizer is not None and variable is not None:
                total += float(keras.ops.convert_to_numpy(regularizer(variable)))
    return total


def weight_stats(model: keras.Model) -> dict[str, float | None]:
    """``weight_l2``, ``sparsity`` (all Dense kernels) and ``max_col_norm`` (hidden units).

    ``max_col_norm`` is the largest L2 norm of one unit's incoming weights
    (a column of a Dense kernel, the axis MaxNorm constrains) over the hidden
    layers; None for a model without hidden layers.
    """
    squares, small, count = 0.0, 0, 0
    max_col_norm = None
    for layer in dense_layers(model):
        kernel = np.asarray(keras.ops.convert_to_numpy(layer.kernel), dtype="float64")
        squares += float(np.sum(kernel * kernel))
        small += int(np.count_nonzero(np.abs(kernel) < SPARSITY_THRESHOLD))
        count += kernel.size
        if layer.name != "output":
            norm = float(np.sqrt(np.sum(kernel * kernel, axis=0)).max())
            max_col_norm = norm if max_col_norm is None else max(max_col_norm, norm)
    return {
        "weight_l2": float(np.sqrt(squares)),
        "sparsity": small / count if count else 0.0,
        "max_col_norm": max_col_norm,
    }


def _finite(value: Any) -> float | None:
    if value is None:
        return None
    value = float(value)
    return value if np.isfinite(value) else None


def _minus(value: float | None, penalty: float | None) -> float | None:
    return None if value is None or penalty is None else value - penalty


def regularization_values(model: keras.Model, logs: dict[str, Any], probe: Any = None) -> dict[str, float | None]:
    """``reg_loss``, ``data_loss``, ``val_data_loss``, ``weight_l2``, ``sparsity`` and ``max_col_norm`` for an epoch.

    ``logs`` are the epoch's Keras logs (``loss``, ``val_loss``). Keras adds
    the penalty to ``val_loss`` too, so the generalization gap is ``data_loss``
    vs ``val_data_loss``; both subtract the penalty at the epoch-end weights,
    the weights validation ran with.
    """
    reg_loss = _finite(penalty(model, probe))
    values: dict[str, float | None] = {
        "reg_loss": reg_loss,
        "data_loss": _minus(_finite(logs.get("loss")), reg_loss),
        "val_data_loss": _minus(_finite(logs.get("val_loss")), reg_loss),
    }
    values.update({key: _finite(value) for key, value in weight_stats(model).items()})
    return values
