"""The learning-rate finder of the Hands-On ML notebook (seed 004), as a run.

The rate starts at ``min_rate`` and is multiplied after every batch by
``exp(ln(max_rate / min_rate) / iterations)``, so the last batch trains at
``max_rate``, as the notebook's ``find_learning_rate`` does. Each step records
the batch's own loss (``finder_loss``), Keras' running mean of the epoch
(``finder_loss_mean``, what the notebook plots) and the rate it trained at
(``finder_rate``). It stops early once the loss exceeds 4x its minimum, a
common finder rule (the notebook trains the whole epoch).
"""

from __future__ import annotations

import math
import threading
import time
from typing import Any

import keras

from reglab.states import CANCELLED, COMPLETED
from worker.training import datasets
from worker.training.trainer import compile_model

# The suggestion reads the minimum of the batch loss smoothed like this (bias-corrected EMA), since a
# single batch's loss is too noisy to locate a minimum on.
SMOOTHING = 0.9
STOP_FACTOR = 4.0


def rate_factor(min_rate: float, max_rate: float, iterations: int) -> float:
    return math.exp(math.log(max_rate / min_rate) / iterations)


def smoothed(losses: list[float], beta: float = SMOOTHING) -> list[float]:
    """Exponential moving average with bias correction (finite losses only)."""
    out, average = [], 0.0
    for i, loss in enumerate(losses, start=1):
        average = beta * average + (1 - beta) * loss
        out.append(average / (1 - beta**i))
    return out


def suggestion(rates: list[float], losses: list[float]) -> dict[str, Any]:
    """The notes' rule: the rate at the loss minimum ÷ 10, with how it was chosen."""
    curve = smoothed(losses)
    best = min(range(len(curve)), key=curve.__getitem__)
    return {
        "suggested_learning_rate": rates[best] / 10,
        "suggestion_method": (
            f"rate at the minimum of the batch loss (smoothed, EMA β={SMOOTHING}) ÷ 10: "
            f"the loss was lowest, {curve[best]:.4g}, at rate {rates[best]:.4g} (step {best})"
        ),
        "finder_min_loss": curve[best],
        "finder_min_loss_rate": rates[best],
    }


class ExponentialRate(keras.callbacks.Callback):
    """Sets the rate before each batch, records the losses after it, and stops when done or exploding."""

    def __init__(self, min_rate: float, factor: float, iterations: int, batch_size: int, examples: int,
                 cancel: threading.Event):  # fmt: skip
        super().__init__()
        self.rate, self.factor, self.iterations = min_rate, factor, iterations
        self.batch_size, self.examples, self.cancel = batch_size, examples, cancel
        self.steps_per_epoch = math.ceil(examples / batch_size)
        self.rates: list[float] = []
        self.losses: list[float] = []
        self.means: list[float] = []
        self.seen = 0.0  # examples in the epoch's running mean so far
        self.previous_mean = 0.0
        self.stopped_early = False

    def on_epoch_begin(self, epoch, logs=None):
        self.seen, self.previous_mean = 0.0, 0.0

    def on_train_batch_begin(self, batch, logs=None):
        self.model.optimizer.learning_rate = self.rate

    def on_train_batch_end(self, batch, logs=None):
        mean = float(logs["loss"])
        size = min(self.batch_size, self.examples - batch * self.batch_size)
        # Keras' running mean weights batches by their examples; undo it for this batch's own loss.
        own = (mean * (self.seen + size) - self.previous_mean * self.seen) / size
        self.seen += size
        self.previous_mean = mean
        self.rates.append(self.rate)
        self.losses.append(own)
        self.means.append(mean)
        self.rate *= self.factor
        finite = [v for v in self.losses if math.isfinite(v)]
        exploded = not math.isfinite(own) or (len(finite) > 1 and own > STOP_FACTOR * min(finite))
        self.stopped_early = exploded and len(self.losses) < self.iterations
        if exploded or len(self.losses) >= self.iterations or self.cancel.is_set():
            self.model.stop_training = True


def find_learning_rate(spec: Any, sink, min_rate: float, max_rate: float, batches: int | None,
                       cancel: threading.Event | None = None) -> tuple[str, dict[str, Any]]:  # fmt: skip
    """Run the finder on ``spec`` (a constant-rate RunSpec); (state, summary). Points leave through ``sink``."""
    started = time.perf_counter()
    cancel = cancel or threading.Event()
    keras.utils.set_random_seed(spec.training.seed)
    data = datasets.load(spec.dataset)
    model, _ = compile_model(spec, data)
    steps = math.ceil(len(data.x_train) / spec.training.batch_size)
    iterations = batches or steps
    finder = ExponentialRate(min_rate, rate_factor(min_rate, max_rate, iterations), iterations,
                             spec.training.batch_size, len(data.x_train), cancel)  # fmt: skip
    model.fit(data.x_train, data.y_train, batch_size=spec.training.batch_size, epochs=math.ceil(iterations / steps),
              callbacks=[finder], shuffle=True, verbose=0)  # fmt: skip
    t = time.perf_counter() - started
    points = []
    for step, (rate, loss, mean) in enumerate(zip(finder.rates, finder.losses, finder.means, strict=True)):
        points += [
            {"name": "finder_rate", "axis": "step", "x": step, "value": rate, "t": t},
            {"name": "finder_loss", "axis": "step", "x": step, "value": loss if math.isfinite(loss) else None, "t": t},
            {"name": "finder_loss_mean", "axis": "step", "x": step, "value": mean if math.isfinite(mean) else None, "t": t},
        ]  # fmt: skip
    sink(0, points, t, True)
    finite = [(r, v) for r, v in zip(finder.rates, finder.losses, strict=True) if math.isfinite(v)]
    summary: dict[str, Any] = {
        "lr_finder": True, "steps": len(finder.losses), "min_rate": min_rate, "max_rate": max_rate,
        "stopped_early": finder.stopped_early, "train_seconds": t,
    }  # fmt: skip
    if finite:
        summary.update(suggestion([r for r, _ in finite], [v for _, v in finite]))
    return (CANCELLED if cancel.is_set() else COMPLETED), summary
