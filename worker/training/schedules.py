"""Spec learning-rate schedules -> what Keras needs to follow them.

``get(spec, steps_per_epoch)`` returns a :class:`ScheduleSetup`: the
optimizer's ``learning_rate`` (a float, or a Keras ``LearningRateSchedule``
for per-step schedules, evaluated by the optimizer at its own iteration
count, i.e. the global batch index from 0), the callbacks epoch-based
schedules need, ``rate_at(step)``, the planned rate of per-step schedules as a
plain Python float (recorded per batch, where reading the optimizer each batch
would cost too much), and ``planned(step)``, the rate
:mod:`reglab.schedule_math` plans for any batch, which the metrics tracker
checks the optimizer against at every epoch.

Keras' own classes wherever Keras has one (InverseTimeDecay, ExponentialDecay,
CosineDecay, CosineDecayRestarts, LearningRateScheduler, ReduceLROnPlateau);
written here only the power schedule with c != 1 and the notebook's 1cycle.
The formulas are those of :mod:`reglab.schedule_math`.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any, Callable

import keras
from keras import ops

from reglab import schedule_math


@dataclasses.dataclass
class ScheduleSetup:
    learning_rate: Any
    callbacks: list[keras.callbacks.Callback]
    # Rate of global step (batch index from 0) for per-step schedules; None when the
    # rate is set per epoch (the tracker then reads the optimizer once per epoch).
    rate_at: Callable[[int], float] | None
    # The planned rate of any global step, checked against the optimizer's at each
    # epoch; None where nothing can be planned (plateau follows the metrics).
    planned: Callable[[int], float] | None = None


@keras.saving.register_keras_serializable(package="reglab")
class PowerDecay(keras.optimizers.schedules.LearningRateSchedule):
    """lr0 / (1 + step * decay) ** c, the notes' power scheduling per step."""

    def __init__(self, initial_learning_rate: float, decay: float, c: float):
        if decay <= 0 or c <= 0:
            raise ValueError(f"PowerDecay needs decay > 0 and c > 0, got decay={decay}, c={c}")
        self.initial_learning_rate = initial_learning_rate
        self.decay = decay
        self.c = c

    def __call__(self, step):
        step = ops.cast(step, "float32")
        return self.initial_learning_rate / ops.power(1.0 + step * self.decay, self.c)

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate, "decay": self.decay, "c": self.c}


@keras.saving.register_keras_serializable(package="reglab")
class OneCycleDecay(keras.optimizers.schedules.LearningRateSchedule):
    """The notebook's OneCycleScheduler as a schedule of the 0-based iteration.

    Linear from start_rate up to max_rate over ``half`` iterations, back down to
    start_rate over the next ``half``, then linear to last_rate over the rest,
    never below last_rate; half = (iterations - last_iterations) // 2.
    """

    def __init__(self, iterations: int, max_rate: float, start_rate: float, last_iterations: int, last_rate: float):
        if iterations < 1:
            raise ValueError(f"OneCycleDecay needs iterations >= 1, got {iterations}")
        self.iterations = int(iterations)
        self.max_rate = max_rate
        self.start_rate = start_rate
        self.last_iterations = int(last_iterations)
        self.last_rate = last_rate
        self.half_iteration = (self.iterations - self.last_iterations) // 2

    def __call__(self, step):
        it = ops.cast(step, "float32")
        half, full = float(self.half_iteration), float(2 * self.half_iteration)

        def interpolate(iter1, iter2, rate1, rate2):
            # Guarded denominator: ops.where evaluates every branch.
            span = iter2 - iter1 if iter2 != iter1 else 1.0
            return (rate2 - rate1) * (it - iter1) / span + rate1

        rate = ops.where(
            it < half,
            interpolate(0.0, half, self.start_rate, self.max_rate),
            ops.where(
                it < full,
                interpolate(half, full, self.max_rate, self.start_rate),
                interpolate(full, float(self.iterations), self.start_rate, self.last_rate),
            ),
        )
        return ops.maximum(rate, self.last_rate)

    def get_config(self):
        return {
            "iterations": self.iterations,
            "max_rate": self.max_rate,
            "start_rate": self.start_rate,
            "last_iterations": self.last_iterations,
            "last_rate": self.last_rate,
        }


# ---- registry: spec schedule name -> setup -----------------------------------


def _planned(spec, steps):
    return functools.partial(schedule_math.learning_rate_at, spec, steps_per_epoch=steps)


def _constant(spec, steps):
    return ScheduleSetup(spec.optimizer.learning_rate, [], None, _planned(spec, steps))


def _epoch_based(spec, steps):
    # LearningRateScheduler sets the optimizer's rate at each epoch's start.
    rate = functools.partial(schedule_math.epoch_rate_at, spec)
    callback = keras.callbacks.LearningRateScheduler(lambda epoch, lr: rate(epoch))
    return ScheduleSetup(spec.optimizer.learning_rate, [callback], None, _planned(spec, steps))


def _plateau(spec, steps):
    s = spec.schedule
    callback = keras.callbacks.ReduceLROnPlateau(
        monitor=s.monitor, factor=s.factor, patience=s.patience, min_lr=s.min_lr, verbose=0
    )
    return ScheduleSetup(spec.optimizer.learning_rate, [callback], None)


def _power(spec, steps):
    s, lr0 = spec.schedule, spec.optimizer.learning_rate
    if s.c == 1:
        schedule = keras.optimizers.schedules.InverseTimeDecay(lr0, decay_steps=1, decay_rate=s.decay)
    else:
        schedule = PowerDecay(lr0, s.decay, s.c)
    return _per_step(spec, steps, schedule)


def _exponential(spec, steps):
    s, lr0 = spec.schedule, spec.optimizer.learning_rate
    if s.per == "epoch":
        return _epoch_based(spec, steps)
    if s.decay_steps is not None:
        schedule = keras.optimizers.schedules.ExponentialDecay(
            lr0, decay_steps=s.decay_steps, decay_rate=s.decay_rate, staircase=s.staircase
        )
    else:
        schedule = keras.optimizers.schedules.ExponentialDecay(lr0, decay_steps=s.s, decay_rate=0.1)
    return _per_step(spec, steps, schedule)


def _one_cycle(spec, steps):
    iterations = steps * spec.training.epochs
    parameters = schedule_math.one_cycle_parameters(spec.schedule, iterations)
    return _per_step(spec, steps, OneCycleDecay(iterations, **parameters))


def _cosine(spec, steps):
    s, lr0 = spec.schedule, spec.optimizer.learning_rate
    if s.warmup_steps > 0:
        schedule = keras.optimizers.schedules.CosineDecay(
            0.0, s.decay_steps, alpha=s.alpha, warmup_target=lr0, warmup_steps=s.warmup_steps
        )
    else:
        schedule = keras.optimizers.schedules.CosineDecay(lr0, s.decay_steps, alpha=s.alpha)
    return _per_step(spec, steps, schedule)


def _cosine_restarts(spec, steps):
    s = spec.schedule
    schedule = keras.optimizers.schedules.CosineDecayRestarts(
        spec.optimizer.learning_rate, s.first_decay_steps, t_mul=s.t_mul, m_mul=s.m_mul, alpha=s.alpha
    )
    return _per_step(spec, steps, schedule)


def _per_step(spec, steps, schedule):
    rate_at = functools.partial(schedule_math.step_rate_at, spec, steps_per_epoch=steps)
    return ScheduleSetup(schedule, [], rate_at, _planned(spec, steps))


SCHEDULES: dict[str, Callable[[Any, int], ScheduleSetup]] = {
    "constant": _constant,
    "power": _power,
    "exponential": _exponential,
    "piecewise": _epoch_based,
    "plateau": _plateau,
    "one_cycle": _one_cycle,
    "cosine": _cosine,
    "cosine_restarts": _cosine_restarts,
}


def get(spec: Any, steps_per_epoch: int) -> ScheduleSetup:
    """The schedule setup for a whole :class:`reglab.spec.RunSpec` (lr0 comes from its optimizer)."""
    try:
        factory = SCHEDULES[spec.schedule.name]
    except KeyError:
        raise ValueError(f"unknown schedule {spec.schedule.name!r}; expected one of {sorted(SCHEDULES)}") from None
    return factory(spec, steps_per_epoch)
