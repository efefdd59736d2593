"""Keras callbacks of a training run: metrics tracking and cancellation.

Per batch they do a few Python float operations and list appends; anything
heavier (weight diagnostics, the database write, the Redis publish) happens
once per epoch.

Learning rates come from the optimizer. Reading ``optimizer.learning_rate``
evaluates its schedule eagerly, about 0.6 ms for a per-step schedule on the
CPU, more than a small batch's whole step, so by default the tracker reads it
twice an epoch (as the first and the last batch start) and records, per batch,
the read rate (epoch-based schedules: it only changes between epochs) or the
planned one (per-step schedules). Every read, and the optimizer's step count,
is checked against the plan, and a difference fails the run: a schedule that
does not drive the optimizer is never drawn as if it did.
``read_every_step=True`` reads before every batch instead.
"""

from __future__ import annotations

import math
import threading
import time
from typing import Any, Callable

import keras

from reglab.diagnostics import finite, read_rate, regularization_values

# sink(epoch, points, epoch_seconds, complete): writes and announces one epoch's
# points; ``complete`` is False for an epoch cut short (cancel, NaN), which
# contributes its step points only.
Sink = Callable[[int, list[dict[str, Any]], float, bool], None]

EPOCH_LOG_NAMES = ("loss", "accuracy", "val_loss", "val_accuracy")


class LearningRateMismatch(RuntimeError):
    """The optimizer trained with another rate, or step count, than the schedule plans."""


# float32 in the optimizer against float64 in the plan; one step of a long 1cycle is ~1e-4.
RATE_RTOL = 1e-5
RATE_ATOL = 1e-9


class MetricsTracker(keras.callbacks.Callback):
    """Records per-epoch metrics and per-step batch loss and rate, flushed once per epoch.

    Args:
        sink: called at each epoch's end with the epoch's points.
        examples: training examples per epoch.
        batch_size: examples per batch (the last batch may be smaller).
        rate_at: global step -> planned rate, recorded per batch for per-step
            schedules; None for epoch-based ones (the rate read as the epoch's
            first batch starts is recorded for all its batches).
        planned: global step -> planned rate, which the optimizer's rate must
            match at each read (None: no plan, e.g. plateau).
        read_every_step: read the optimizer's rate before every batch and record
            that (costly with per-step schedules, see the module docstring).
        probe: a few training examples for the activity penalty (see
            :func:`reglab.diagnostics.penalty`).
        started: ``time.perf_counter()`` at the run's start, origin of the ``t`` offsets.
        history: the values of the epochs trained before a resume (epoch ``i`` at
            index ``i``); the summary covers them and the step counter continues
            after them.
    """

    def __init__(
        self,
        sink: Sink,
        examples: int,
        batch_size: int,
        rate_at: Callable[[int], float] | None = None,
        planned: Callable[[int], float] | None = None,
        read_every_step: bool = False,
        probe: Any = None,
        started: float | None = None,
        history: list[dict[str, float | None]] | None = None,
    ):
        super().__init__()
        self.sink = sink
        self.examples = examples
        self.batch_size = batch_size
        self.steps_per_epoch = math.ceil(examples / batch_size)
        self.rate_at = rate_at
        self.planned = planned
        self.read_every_step = read_every_step
        self.batch_rate: float | None = None
        self.first_rate: float | None = None
        self.last_rate: float | None = None
        self.probe = probe
        self.started = started
        self.history = list(history or [])
        self.epochs: list[dict[str, float | None]] = []
        self.diverged = False
        self.completed: set[int] = set()

    def on_train_begin(self, logs=None):
        self.started = self.started or time.perf_counter()
        self.epochs = list(self.history)
        self.diverged = False
        self.completed = set()
        # A resumed run's steps continue the global batch index (fit's initial_epoch).
        self.step = len(self.history) * self.steps_per_epoch
        self._reset_buffers()

    def _reset_buffers(self):
        self.step_x: list[int] = []
        self.step_loss: list[float] = []
        self.step_rate: list[float] = []
        self.step_t: list[float] = []

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch_started = time.perf_counter()
        self.batches = 0
        self.seen = 0
        self.previous_total = 0.0
        self.first_rate = self.last_rate = None

    def on_train_batch_begin(self, batch, logs=None):
        # As the batch starts, the optimizer holds the rate this batch trains with
        # (schedule callbacks have already run their on_epoch_begin).
        last = batch == self.steps_per_epoch - 1
        if self.read_every_step or batch == 0 or last:
            self.batch_rate = read_rate(self.model.optimizer)
            if batch == 0:
                self.first_rate = self.batch_rate
            if last:
                self.last_rate = self.batch_rate

    def on_train_batch_end(self, batch, logs=None):
        # Keras logs the running mean of the epoch's losses, weighted by batch size:
        # mean_k = (n_1 l_1 + ... + n_k l_k) / (n_1 + ... + n_k). The batch's own loss
        # is l_k = (N_k mean_k - N_{k-1} mean_{k-1}) / n_k with N the examples so far.
        # (float32 means: about 1e-4 relative error late in a long epoch.)
        mean = logs["loss"]
        size = min(self.batch_size, self.examples - self.seen)
        self.seen += size
        total = mean * self.seen
        loss = (total - self.previous_total) / size
        self.previous_total = total
        step = self.step
        self.step_x.append(step)
        self.step_loss.append(loss)
        if self.read_every_step:
            rate = self.batch_rate
        elif self.rate_at is not None:
            rate = self.rate_at(step)
        else:
            rate = self.first_rate
        self.step_rate.append(rate)
        self.step_t.append(time.perf_counter() - self.started)
        self.step = step + 1
        self.batches += 1
        if mean != mean or mean in (math.inf, -math.inf):
            self.diverged = True

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        now = time.perf_counter()
        epoch_seconds = now - self.epoch_started
        t = now - self.started
        points = [
            {"name": name, "axis": "step", "x": x, "value": finite(value), "t": at}
            for name, values in (("batch_loss", self.step_loss), ("batch_learning_rate", self.step_rate))
            for x, value, at in zip(self.step_x, values, self.step_t)
        ]
        complete = self.batches == self.steps_per_epoch and not self.diverged
        if not self.diverged:
            self.check_rates(epoch)
        if complete:
            values = self.epoch_values(epoch, logs, epoch_seconds)
            self.epochs.append(values)
            points.extend({"name": n, "axis": "epoch", "x": epoch, "value": v, "t": t} for n, v in values.items())
        self._reset_buffers()
        self.sink(epoch, points, epoch_seconds, complete)
        if complete:
            self.completed.add(epoch)

    def check_rates(self, epoch: int) -> None:
        """Raise :class:`LearningRateMismatch` if the optimizer did not follow the plan this epoch."""
        if self.planned is None or self.model is None:
            return
        first_step = self.step - self.batches
        for step, rate in ((first_step, self.first_rate), (self.step - 1, self.last_rate)):
            if rate is None:
                continue
            plan = self.planned(step)
            if not math.isclose(rate, plan, rel_tol=RATE_RTOL, abs_tol=RATE_ATOL):
                raise LearningRateMismatch(
                    f"the optimizer trained step {step} (epoch {epoch}) with learning rate {rate:.6g}, "
                    f"but the schedule plans {plan:.6g}: the schedule is not driving the optimizer"
                )
        iterations = int(keras.ops.convert_to_numpy(self.model.optimizer.iterations))
        if iterations != self.step:
            raise LearningRateMismatch(
                f"the optimizer counted {iterations} steps after epoch {epoch}, the run {self.step}: "
                "its per-step schedule would be off by the difference"
            )

    def stored(self, epoch: int) -> bool:
        """Whether ``epoch`` completed and the sink took its points (checkpoints wait for it)."""
        return epoch in self.completed

    def epoch_values(self, epoch: int, logs: dict, epoch_seconds: float) -> dict[str, float | None]:
        values = {name: finite(logs.get(name)) for name in EPOCH_LOG_NAMES}
        # Read from the optimizer as the epoch's last batch started: the rate it trained with.
        values["learning_rate"] = self.last_rate
        values["epoch_time"] = epoch_seconds
        values.update(regularization_values(self.model, logs, self.probe))
        return values

    def summary(self) -> dict[str, Any]:
        """best/final validation figures over the complete epochs recorded."""
        summary: dict[str, Any] = {"epochs_trained": len(self.epochs)}
        if not self.epochs:
            return summary
        last = self.epochs[-1]
        accuracies = [(e["val_accuracy"], i) for i, e in enumerate(self.epochs) if e["val_accuracy"] is not None]
        if accuracies:
            best, best_epoch = max(accuracies, key=lambda pair: (pair[0], -pair[1]))
            summary.update(best_val_accuracy=best, best_epoch=best_epoch)
        summary.update(
            final_val_accuracy=last["val_accuracy"],
            final_val_loss=last["val_loss"],
            final_loss=last["loss"],
            final_accuracy=last["accuracy"],
        )
        return summary


class CancelOnEvent(keras.callbacks.Callback):
    """Stops training after the current batch once ``event`` is set.

    The check is one ``Event.is_set()`` per batch; whoever hears the cancel
    request (a Redis listener thread) sets the event.
    """

    def __init__(self, event: threading.Event):
        super().__init__()
        self.event = event

    def on_train_begin(self, logs=None):
        if self.event.is_set():
            self.model.stop_training = True

    def on_train_batch_end(self, batch, logs=None):
        if self.event.is_set():
            self.model.stop_training = True

    @property
    def cancelled(self) -> bool:
        return self.event.is_set()
