"""The learning-rate schedules of the run spec as plain Python formulas.

This is the reference the worker's recorded ``learning_rate`` and
``batch_learning_rate`` series are tested against, and what the dashboard's
preview draws (:func:`rate_preview`, served by ``POST /api/experiments/plan``).
It imports no TensorFlow or Keras, so the API uses it too.

Conventions (the same as the worker's):

* ``step`` is the global batch index from 0: the first batch of epoch ``e``
  is step ``e * steps_per_epoch``. ``steps_per_epoch`` counts the last,
  partial batch (:func:`reglab.spec.steps_per_epoch`).
* ``epoch`` is the epoch index from 0.
* Per-step schedules (``power``, ``exponential`` with ``per="step"``,
  ``one_cycle``, ``cosine``, ``cosine_restarts``) give each batch its own
  rate. The rate reported for an epoch is the one of its last step.
* Epoch-based schedules (``constant``, ``exponential`` with ``per="epoch"``,
  ``piecewise``, ``plateau``) set the rate at the start of an epoch and every
  step of that epoch uses it.
* ``plateau`` depends on the validation metrics, so its planned rate is lr0;
  the worker records the rate it really used.

Example:

    >>> from reglab.spec import build_spec
    >>> spec = build_spec({"schedule": {"name": "exponential", "s": 20}})
    >>> round(learning_rate_at(spec, epoch_first_step(spec, 20)), 6)
    0.0001
"""

from __future__ import annotations

import math
from typing import Any

from reglab.spec import RunSpec, steps_per_epoch as spec_steps_per_epoch

PER_STEP = frozenset({"power", "one_cycle", "cosine", "cosine_restarts"})


def is_per_step(schedule: Any) -> bool:
    """Whether ``schedule`` (a spec schedule section) changes the rate every batch."""
    if schedule.name == "exponential":
        return schedule.per == "step"
    return schedule.name in PER_STEP


def epoch_first_step(spec: RunSpec, epoch: int, steps_per_epoch: int | None = None) -> int:
    return epoch * (steps_per_epoch or spec_steps_per_epoch(spec))


def epoch_rate_at(spec: RunSpec, epoch: int) -> float:
    """Rate of an epoch-based schedule during ``epoch`` (plateau: lr0)."""
    schedule = spec.schedule
    lr0 = spec.optimizer.learning_rate
    if schedule.name in ("constant", "plateau"):
        return lr0
    if schedule.name == "exponential":
        return lr0 * 0.1 ** (epoch / schedule.s)
    if schedule.name == "piecewise":
        # The notes' piecewise_constant: values[i] while epoch < boundaries[i].
        for boundary, value in zip(schedule.boundaries, schedule.values):
            if epoch < boundary:
                return value
        return schedule.values[-1]
    raise ValueError(f"schedule {schedule.name!r} is not epoch-based")


def step_rate_at(spec: RunSpec, step: int, steps_per_epoch: int | None = None) -> float:
    """Rate of a per-step schedule at global ``step``."""
    schedule = spec.schedule
    lr0 = spec.optimizer.learning_rate
    if schedule.name == "power":
        return lr0 / (1.0 + step * schedule.decay) ** schedule.c
    if schedule.name == "exponential":
        return exponential_rate(step, lr0, schedule)
    if schedule.name == "one_cycle":
        iterations = (steps_per_epoch or spec_steps_per_epoch(spec)) * spec.training.epochs
        return one_cycle_rate(step, iterations, **one_cycle_parameters(schedule, iterations))
    if schedule.name == "cosine":
        return cosine_rate(step, lr0, schedule.decay_steps, schedule.alpha, schedule.warmup_steps)
    if schedule.name == "cosine_restarts":
        return cosine_restarts_rate(
            step, lr0, schedule.first_decay_steps, schedule.t_mul, schedule.m_mul, schedule.alpha
        )
    raise ValueError(f"schedule {schedule.name!r} is not per-step")


def learning_rate_at(spec: RunSpec, step: int, steps_per_epoch: int | None = None) -> float:
    """The rate batch ``step`` (global index from 0) trains with."""
    if is_per_step(spec.schedule):
        return step_rate_at(spec, step, steps_per_epoch)
    return epoch_rate_at(spec, step // (steps_per_epoch or spec_steps_per_epoch(spec)))


def epoch_learning_rate(spec: RunSpec, epoch: int, steps_per_epoch: int | None = None) -> float:
    """The ``learning_rate`` point of ``epoch``: per-step schedules report the epoch's last step."""
    steps = steps_per_epoch or spec_steps_per_epoch(spec)
    if is_per_step(spec.schedule):
        return step_rate_at(spec, (epoch + 1) * steps - 1, steps)
    return epoch_rate_at(spec, epoch)


def planned_rates(spec: RunSpec, steps_per_epoch: int | None = None) -> dict[str, list[float]]:
    """The whole planned series: ``{"step": [rate per batch], "epoch": [rate per epoch]}``."""
    steps = steps_per_epoch or spec_steps_per_epoch(spec)
    epochs = spec.training.epochs
    return {
        "step": [learning_rate_at(spec, step, steps) for step in range(steps * epochs)],
        "epoch": [epoch_learning_rate(spec, epoch, steps) for epoch in range(epochs)],
    }


# ---- the formulas themselves -------------------------------------------------


def exponential_rate(step: int, lr0: float, schedule: Any) -> float:
    """Per-step exponential decay in either form of the spec.

    Keras' ``ExponentialDecay``: lr0 * decay_rate ** (step / decay_steps), the
    exponent floored with ``staircase``; the notes' form: lr0 * 0.1 ** (step / s).
    """
    if schedule.decay_steps is not None:
        exponent = step / schedule.decay_steps
        if schedule.staircase:
            exponent = math.floor(exponent)
        return lr0 * schedule.decay_rate**exponent
    return lr0 * 0.1 ** (step / schedule.s)


def one_cycle_parameters(schedule: Any, iterations: int) -> dict[str, float | int]:
    """The notebook's OneCycleScheduler defaults, resolved for ``iterations``."""
    start_rate = schedule.start_rate or schedule.max_rate / 10
    return {
        "max_rate": schedule.max_rate,
        "start_rate": start_rate,
        "last_iterations": schedule.last_iterations or iterations // 10 + 1,
        "last_rate": schedule.last_rate or start_rate / 1000,
    }


def one_cycle_rate(
    iteration: int, iterations: int, max_rate: float, start_rate: float, last_iterations: int, last_rate: float
) -> float:
    """The notebook's OneCycleScheduler.on_batch_begin for 0-based ``iteration``."""
    half = (iterations - last_iterations) // 2

    def interpolate(iter1: int, iter2: int, rate1: float, rate2: float) -> float:
        return (rate2 - rate1) * (iteration - iter1) / (iter2 - iter1) + rate1

    if iteration < half:
        rate = interpolate(0, half, start_rate, max_rate)
    elif iteration < 2 * half:
        rate = interpolate(half, 2 * half, max_rate, start_rate)
    else:
        rate = interpolate(2 * half, iterations, start_rate, last_rate)
    return max(rate, last_rate)


def cosine_rate(step: int, lr0: float, decay_steps: int, alpha: float, warmup_steps: int = 0) -> float:
    """Keras CosineDecay; with warmup, CosineDecay(0, ..., warmup_target=lr0, warmup_steps)."""
    if warmup_steps > 0:
        step = min(step, decay_steps + warmup_steps)
        if step < warmup_steps:
            return lr0 * step / warmup_steps
        step -= warmup_steps
    else:
        step = min(step, decay_steps)
    cosine = 0.5 * (1.0 + math.cos(math.pi * step / decay_steps))
    return lr0 * ((1.0 - alpha) * cosine + alpha)


def cosine_restarts_rate(
    step: int, lr0: float, first_decay_steps: int, t_mul: float, m_mul: float, alpha: float
) -> float:
    """Keras CosineDecayRestarts (SGDR): periods growing by t_mul, restarts scaled by m_mul."""
    fraction = step / first_decay_steps
    if t_mul == 1.0:
        restart = math.floor(fraction)
        fraction -= restart
    else:
        restart = math.floor(math.log(1.0 - fraction * (1.0 - t_mul)) / math.log(t_mul))
        done = (1.0 - t_mul**restart) / (1.0 - t_mul)
        fraction = (fraction - done) / t_mul**restart
    cosine = 0.5 * m_mul**restart * (1.0 + math.cos(math.pi * fraction))
    return lr0 * ((1.0 - alpha) * cosine + alpha)


PREVIEW_POINTS = 600


def rate_preview(spec: RunSpec, max_points: int = PREVIEW_POINTS) -> dict[str, Any]:
    """The planned rate series for a chart, at most ``max_points`` long, without computing every step.

    Per-step schedules: ``axis="step"``, ``x`` evenly spaced global steps (first and
    last included). Epoch-based ones: ``axis="epoch"``, the rate of every epoch (what
    the worker records as ``learning_rate``). ``adaptive`` marks ``plateau``, whose
    real rate depends on the validation metrics: only its start value is planned.
    """
    steps = spec_steps_per_epoch(spec)
    epochs = spec.training.epochs
    if is_per_step(spec.schedule):
        total = steps * epochs
        if total <= max_points:
            xs = list(range(total))
        else:
            xs = sorted({round(i * (total - 1) / (max_points - 1)) for i in range(max_points)})
        ys = [step_rate_at(spec, step, steps) for step in xs]
        axis = "step"
    else:
        xs = list(range(epochs))
        if epochs > max_points:
            xs = sorted({round(i * (epochs - 1) / (max_points - 1)) for i in range(max_points)})
        ys = [epoch_rate_at(spec, epoch) for epoch in xs]
        axis = "epoch"
    return {
        "axis": axis,
        "steps_per_epoch": steps,
        "epochs": epochs,
        "x": xs,
        "y": ys,
        "adaptive": spec.schedule.name == "plateau",
    }
