"""Spec optimizer section -> Keras optimizer.

Each optimizer gets only the arguments it takes: momentum/nesterov for SGD,
rho/momentum for RMSprop, beta_1/beta_2 for the Adam family; every one gets
weight_decay, clipnorm and clipvalue when the spec sets them. A null
``weight_decay`` leaves the class default: none, except AdamW whose decoupled
decay is its reason to exist (Keras' default 0.004).
"""

from __future__ import annotations

from typing import Any

import keras

OPTIMIZERS: dict[str, tuple[type, tuple[str, ...]]] = {
    "sgd": (keras.optimizers.SGD, ("momentum", "nesterov")),
    "adagrad": (keras.optimizers.Adagrad, ()),
    "rmsprop": (keras.optimizers.RMSprop, ("rho", "momentum")),
    "adam": (keras.optimizers.Adam, ("beta_1", "beta_2")),
    "adamax": (keras.optimizers.Adamax, ("beta_1", "beta_2")),
    "nadam": (keras.optimizers.Nadam, ("beta_1", "beta_2")),
    "adamw": (keras.optimizers.AdamW, ("beta_1", "beta_2")),
}


def get(spec: Any, learning_rate: Any) -> keras.optimizers.Optimizer:
    """The optimizer for a spec ``optimizer`` section.

    Args:
        spec: the spec's ``optimizer`` section.
        learning_rate: a float or a Keras ``LearningRateSchedule`` (from
            :func:`worker.training.schedules.get`).
    """
    try:
        cls, own_args = OPTIMIZERS[spec.name]
    except KeyError:
        raise ValueError(f"unknown optimizer {spec.name!r}; expected one of {sorted(OPTIMIZERS)}") from None
    kwargs: dict[str, Any] = {name: getattr(spec, name) for name in own_args}
    for name in ("weight_decay", "clipnorm", "clipvalue"):
        if getattr(spec, name) is not None:
            kwargs[name] = getattr(spec, name)
    return cls(learning_rate=learning_rate, **kwargs)
