"""The metrics tracker's per-batch bookkeeping, cancellation and divergence."""

import threading

import keras
import numpy as np
import pytest

from tests.worker.helpers import TINY_STEPS_PER_EPOCH, fit
from worker.training.callbacks import MetricsTracker
from worker.training.tracking import MemorySink


class FakeModel:
    stop_training = False


def test_batch_loss_is_recovered_from_keras_running_mean():
    # Keras logs the batch-size-weighted running mean, in float32.
    losses, sizes = [2.0, 1.0, 4.0, 0.5], [64, 64, 64, 8]
    sink = MemorySink()
    tracker = MetricsTracker(sink, examples=200, batch_size=64, rate_at=lambda step: 0.1)
    tracker.on_train_begin()
    tracker.epoch_started = 0.0
    tracker.batches = tracker.seen = 0
    tracker.previous_total = 0.0
    total = count = np.float32(0)
    for batch, (loss, size) in enumerate(zip(losses, sizes)):
        total, count = np.float32(total + loss * size), np.float32(count + size)
        tracker.on_train_batch_end(batch, {"loss": float(np.float32(total / count))})
    assert tracker.step_loss == pytest.approx(losses, rel=1e-5)
    assert tracker.step_x == [0, 1, 2, 3] and tracker.step_rate == [0.1] * 4


def test_recorded_batch_losses_average_to_the_epoch_loss():
    _, sink = fit({})
    batch = sink.series("batch_loss")
    sizes = [64, 64, 64, 8]
    for epoch, loss in enumerate(sink.series("loss")):
        chunk = batch[epoch * 4 : (epoch + 1) * 4]
        assert sum(l * n for l, n in zip(chunk, sizes)) / 200 == pytest.approx(loss, rel=1e-5)


def test_one_write_per_epoch_with_its_step_points():
    _, sink = fit({})
    assert [(epoch, complete) for epoch, _, complete in sink.calls] == [(0, True), (1, True), (2, True)]
    steps = sorted(p["x"] for p in sink.points if p["name"] == "batch_loss")
    assert steps == list(range(3 * TINY_STEPS_PER_EPOCH))
    assert all(p["t"] is not None and p["t"] >= 0 for p in sink.points)


class CancelAfter(keras.callbacks.Callback):
    def __init__(self, event, batches):
        super().__init__()
        self.event, self.batches, self.seen = event, batches, 0

    def on_train_batch_end(self, batch, logs=None):
        self.seen += 1
        if self.seen == self.batches:
            self.event.set()


def test_cancel_stops_within_one_batch_and_keeps_what_was_recorded():
    event = threading.Event()
    # Set after the 6th batch (epoch 1, batch 1); the cancel check has already run
    # for that batch, so training stops after the 7th.
    result, sink = fit({}, cancel=event, extra_callbacks=[CancelAfter(event, 6)])
    assert result.state == "cancelled"
    assert sorted(p["x"] for p in sink.points if p["name"] == "batch_loss") == list(range(7))
    assert sink.series("loss") and len(sink.series("loss")) == 1, "the cut epoch adds no epoch points"
    assert result.summary["epochs_trained"] == 1 and "test_accuracy" not in result.summary


def test_nan_loss_is_diverged():
    result, sink = fit(
        {
            "dataset": {"preprocessing": "none"},
            "model": {"hidden_layers": [64, 64], "activation": "selu"},
            "optimizer": {"name": "sgd", "learning_rate": 10.0},
            "training": {"epochs": 5},
        }
    )
    assert result.state == "diverged"
    assert sink.calls[-1][2] is False and len(sink.calls) < 5
    assert None in sink.series("batch_loss"), "NaN is stored as null, JSON has no NaN"
