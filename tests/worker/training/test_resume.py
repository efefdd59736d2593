"""A run interrupted after two complete epochs resumes from its checkpoint: the schedule, the
step counter, the ``t`` offsets and the summary continue as if it had never stopped."""

import keras
import pytest

from reglab import schedule_math
from tests.worker.helpers import TINY_STEPS_PER_EPOCH, fit, tiny_spec
from worker.training.checkpoint import CheckpointStore, Resume
from worker.training.layers import MCDropout

EPOCHS = 4
SCHEDULES = {
    "one_cycle": {"name": "one_cycle", "max_rate": 0.05},
    "exponential_step": {"name": "exponential", "s": 5, "per": "step"},
    "piecewise": {"name": "piecewise", "boundaries": [1, 3], "values": [0.02, 0.01, 0.005]},
}


class StopAfter(keras.callbacks.Callback):
    """Ends training after ``epochs`` complete epochs, as an interruption between epochs would."""

    def __init__(self, epochs: int):
        super().__init__()
        self.epochs = epochs

    def on_epoch_end(self, epoch, logs=None):
        if epoch + 1 == self.epochs:
            self.model.stop_training = True


class OptimizerProbe(keras.callbacks.Callback):
    """The optimizer's iteration count at the start and the rate each batch trains with."""

    def on_train_begin(self, logs=None):
        self.iterations = int(keras.ops.convert_to_numpy(self.model.optimizer.iterations))
        self.rates = []

    def on_train_batch_begin(self, batch, logs=None):
        self.rates.append(float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate)))


def by_x(sink, name):
    return {p["x"]: p for p in sink.points if p["name"] == name}


@pytest.mark.parametrize("name", sorted(SCHEDULES))
def test_resumed_run_follows_the_planned_rates_and_continues_its_steps(name, tmp_path):
    overrides = {
        "schedule": SCHEDULES[name],
        "optimizer": {"name": "sgd", "learning_rate": 0.02, "momentum": 0.9},
        "regularization": {"kernel_l2": 0.001, "dropout": 0.2, "dropout_kind": "mc", "max_norm": 2.0},
        "training": {"epochs": EPOCHS},
    }
    store = CheckpointStore(1, tmp_path)
    first, first_sink = fit(overrides, checkpoint=store, extra_callbacks=[StopAfter(2)])
    assert store.latest() == (2, store.model_path(2))

    probe = OptimizerProbe()
    last_t = max(p["t"] for p in first_sink.points)
    resume = Resume(epoch=2, model_path=store.model_path(2), history=first.history, t_offset=last_t)
    result, sink = fit(overrides, checkpoint=store, resume=resume, extra_callbacks=[probe])
    assert result.state == "completed"
    assert probe.iterations == 2 * TINY_STEPS_PER_EPOCH  # the optimizer state came back
    assert any(isinstance(layer, MCDropout) for layer in result.model.layers)

    steps = {**by_x(first_sink, "batch_learning_rate"), **by_x(sink, "batch_learning_rate")}
    assert sorted(by_x(sink, "batch_learning_rate")) == list(range(8, 16))
    assert sorted(steps) == list(range(EPOCHS * TINY_STEPS_PER_EPOCH))
    planned = schedule_math.planned_rates(tiny_spec(overrides), TINY_STEPS_PER_EPOCH)
    assert [steps[x]["value"] for x in sorted(steps)] == pytest.approx(planned["step"], rel=1e-6, abs=1e-12)
    assert probe.rates == pytest.approx(planned["step"][8:], rel=1e-5, abs=1e-9)
    epochs = {**by_x(first_sink, "learning_rate"), **by_x(sink, "learning_rate")}
    assert [epochs[x]["value"] for x in range(EPOCHS)] == pytest.approx(planned["epoch"], rel=1e-6, abs=1e-12)
    assert min(p["t"] for p in sink.points) > last_t

    summary = result.summary
    val_accuracy = [e["val_accuracy"] for e in result.history]
    assert (summary["epochs_trained"], summary["resumed_from_epoch"]) == (EPOCHS, 2)
    assert result.history[:2] == first.history
    assert summary["best_val_accuracy"] == max(val_accuracy)
    assert summary["best_epoch"] == val_accuracy.index(max(val_accuracy))
    # Every epoch but the last: a run that ends uploads its model instead.
    assert store.latest() == (EPOCHS - 1, store.model_path(EPOCHS - 1))


def test_checkpoint_files_are_replaced_and_deleted(tmp_path):
    store = CheckpointStore(3, tmp_path)
    assert store.latest() is None
    fit({"training": {"epochs": 3}}, checkpoint=store)
    assert store.latest() == (2, store.model_path(2))  # not after the last epoch, which ends the run
    # One model file at a time, no temporary left behind.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run-3.checkpoint-e2.keras", "run-3.checkpoint.json"]
    store.delete()
    assert list(tmp_path.iterdir()) == []


def test_checkpoints_wait_for_the_interval(tmp_path):
    store = CheckpointStore(4, tmp_path)
    fit({"training": {"epochs": 2}}, checkpoint=store, checkpoint_interval_s=3600)
    assert store.latest() is None


def test_an_unreadable_checkpoint_costs_the_progress_not_the_run(tmp_path):
    broken = tmp_path / "run-5.checkpoint-e2.keras"
    broken.write_bytes(b"not a keras file")
    resume = Resume(epoch=2, model_path=broken, history=[], t_offset=1.0)
    result, sink = fit({"training": {"epochs": 2}}, resume=resume)
    assert result.state == "completed"
    assert "resumed_from_epoch" not in result.summary
    assert sorted(by_x(sink, "loss")) == [0, 1]  # trained again from epoch 0
