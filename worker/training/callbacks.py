"""Keras callbacks of a training run: metrics tracking and cancellation.

Per batch they do a few Python float operations and list appends; anything
heavier (weight diagnostics, the database write, the Redis publish) happens
once per epoch.
"""

from __future__ import annotations

import math
import threading
import time
from typing import Any, Callable

import keras

from worker.training import diagnostics

# sink(epoch, points, epoch_seconds, complete): writes and announces one epoch's
# points; ``complete`` is False for an epoch cut short (cancel, NaN), which
# contributes its step points only.
Sink = Callable[[int, list[dict[str, Any]], float, bool], None]

EPOCH_LOG_NAMES = ("loss", "accuracy", "val_loss", "val_accuracy")


def finite(value: Any) -> float | None:
    """A float for the store and JSON, None for NaN/inf (JSON has no NaN)."""
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _minus(value: float | None, penalty: float | None) -> float | None:
    return None if value is None or penalty is None else value - penalty


class MetricsTracker(keras.callbacks.Callback):
    """Records per-epoch metrics and per-step batch loss and rate, flushed once per epoch.

    Args:
        sink: called at each epoch's end with the epoch's points.
        examples: training examples per epoch.
        batch_size: examples per batch (the last batch may be smaller).
        rate_at: global step -> rate, for per-step schedules; None to read the
            optimizer's rate once at each epoch's start (epoch-based schedules,
            whose callbacks must come before this one).
        probe: a few training examples for the activity penalty (see
            :func:`worker.training.diagnostics.penalty`).
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
        if self.rate_at is None:
            # Epoch-based: the scheduler callbacks have just set this epoch's rate.
            self.epoch_rate = float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))

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
        self.step_rate.append(self.rate_at(step) if self.rate_at is not None else self.epoch_rate)
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
        if complete:
            values = self.epoch_values(epoch, logs, epoch_seconds)
            self.epochs.append(values)
            points.extend({"name": n, "axis": "epoch", "x": epoch, "value": v, "t": t} for n, v in values.items())
        self._reset_buffers()
        self.sink(epoch, points, epoch_seconds, complete)
        if complete:
            self.completed.add(epoch)

    def stored(self, epoch: int) -> bool:
        """Whether ``epoch`` completed and the sink took its points (checkpoints wait for it)."""
        return epoch in self.completed

    def epoch_values(self, epoch: int, logs: dict, epoch_seconds: float) -> dict[str, float | None]:
        values = {name: finite(logs.get(name)) for name in EPOCH_LOG_NAMES}
        values["learning_rate"] = self.rate_at(self.step - 1) if self.rate_at is not None else self.epoch_rate
        values["epoch_time"] = epoch_seconds
        reg_loss = diagnostics.penalty(self.model, self.probe)
        values["reg_loss"] = finite(reg_loss)
        loss = values["loss"]
        values["data_loss"] = _minus(loss, values["reg_loss"])
        # Keras adds the penalty to val_loss too, so the generalization gap is
        # data_loss vs val_data_loss; both subtract the penalty at the epoch-end
        # weights, the weights validation ran with.
        values["val_data_loss"] = _minus(values["val_loss"], values["reg_loss"])
        values.update({k: finite(v) for k, v in diagnostics.weight_stats(self.model).items()})
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
