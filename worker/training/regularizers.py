"""Spec regularization factors -> Keras regularizers and constraints.

Keras-style ``get(identifier)``: a name (``"l1"``, ``"l2"``, ``"l1_l2"``) or a
dict ``{"l1": .., "l2": ..}`` of factors gives the Keras object; zero factors
give ``None``, so an unregularized layer carries no regularizer at all.
"""

from __future__ import annotations

from typing import Any

import keras

REGULARIZERS = {
    "l1": lambda l1=0.0, l2=0.0: keras.regularizers.L1(l1),
    "l2": lambda l1=0.0, l2=0.0: keras.regularizers.L2(l2),
    "l1_l2": lambda l1=0.0, l2=0.0: keras.regularizers.L1L2(l1=l1, l2=l2),
}


def name_for(l1: float, l2: float) -> str | None:
    """Which Keras regularizer fits these factors (None when both are 0)."""
    if l1 and l2:
        return "l1_l2"
    if l1:
        return "l1"
    if l2:
        return "l2"
    return None


def get(identifier: Any) -> keras.regularizers.Regularizer | None:
    """``get("l2", ...)``-style lookup.

    Args:
        identifier: ``None``, a Keras regularizer (returned as is), or a dict of
            factors ``{"l1": 0.0, "l2": 0.01}``; the regularizer class follows
            from which factors are non-zero.

    Example:
        >>> get({"l1": 0.0, "l2": 0.01}).get_config()
        {'l2': 0.01}
    """
    if identifier is None or isinstance(identifier, keras.regularizers.Regularizer):
        return identifier
    if isinstance(identifier, dict):
        l1, l2 = float(identifier.get("l1", 0.0)), float(identifier.get("l2", 0.0))
        name = name_for(l1, l2)
        return None if name is None else REGULARIZERS[name](l1=l1, l2=l2)
    raise ValueError(f"cannot build a regularizer from {identifier!r}; expected None or a dict of l1/l2 factors")


def layer_kwargs(reg: Any) -> dict[str, Any]:
    """Dense keyword arguments for a spec ``regularization`` section."""
    return {
        "kernel_regularizer": get({"l1": reg.kernel_l1, "l2": reg.kernel_l2}),
        "bias_regularizer": get({"l1": reg.bias_l1, "l2": reg.bias_l2}),
        "activity_regularizer": get({"l1": reg.activity_l1, "l2": reg.activity_l2}),
        "kernel_constraint": None if reg.max_norm is None else keras.constraints.MaxNorm(reg.max_norm),
    }
