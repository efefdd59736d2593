"""Each schedule's recorded learning_rate / batch_learning_rate series, read from the optimizer,
equal reglab.schedule_math; a schedule that does not drive the optimizer fails the run."""

import keras
import pytest

from reglab import schedule_math
from tests.worker.helpers import TINY_STEPS_PER_EPOCH, fit, tiny_spec
from worker.training import schedules
from worker.training.callbacks import LearningRateMismatch

SCHEDULES = {
    "constant": {"name": "constant"},
    "power_c1": {"name": "power", "decay": 0.1, "c": 1.0},
    "power_c2": {"name": "power", "decay": 0.1, "c": 2.0},
    "exponential_epoch": {"name": "exponential", "s": 2, "per": "epoch"},
    "exponential_step": {"name": "exponential", "s": 5, "per": "step"},
    "piecewise": {"name": "piecewise", "boundaries": [1, 2], "values": [0.02, 0.01, 0.005]},
    "one_cycle": {"name": "one_cycle", "max_rate": 0.05},
    "cosine": {"name": "cosine", "decay_steps": 8, "alpha": 0.1},
    "cosine_warmup": {"name": "cosine", "decay_steps": 6, "alpha": 0.0, "warmup_steps": 3},
    "cosine_restarts": {"name": "cosine_restarts", "first_decay_steps": 3, "t_mul": 2.0, "m_mul": 0.5, "alpha": 0.1},
}


class RateProbe(keras.callbacks.Callback):
    """What the optimizer holds as each batch starts: the rate that batch trains with."""

    def on_train_begin(self, logs=None):
        self.rates = []

    def on_train_batch_begin(self, batch, logs=None):
        self.rates.append(float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate)))


@pytest.mark.parametrize("name", sorted(SCHEDULES))
def test_rates_read_from_the_optimizer_follow_the_formulas(name):
    overrides = {"schedule": SCHEDULES[name], "optimizer": {"name": "sgd", "learning_rate": 0.02}}
    spec = tiny_spec(overrides)
    probe = RateProbe()
    # Every batch's rate read from the optimizer (Keras' schedules, float32) against the Python formulas.
    result, sink = fit(overrides, extra_callbacks=[probe], read_rates_every_step=True)
    assert result.state == "completed"
    planned = schedule_math.planned_rates(spec, TINY_STEPS_PER_EPOCH)
    recorded_steps = sink.series("batch_learning_rate")
    assert len(recorded_steps) == 3 * TINY_STEPS_PER_EPOCH
    assert recorded_steps == pytest.approx(planned["step"], rel=1e-5, abs=1e-9)
    assert recorded_steps == probe.rates
    assert sink.series("learning_rate") == pytest.approx(planned["epoch"], rel=1e-5, abs=1e-9)
    if name != "constant":
        assert len(set(round(r, 12) for r in planned["step"])) > 1, "the test spec should make the rate move"


@pytest.mark.parametrize("name", sorted(SCHEDULES))
def test_by_default_epoch_rates_are_read_and_step_rates_checked(name):
    overrides = {"schedule": SCHEDULES[name], "optimizer": {"name": "sgd", "learning_rate": 0.02}}
    probe = RateProbe()
    result, sink = fit(overrides, extra_callbacks=[probe])
    assert result.state == "completed"
    # The epoch point is the optimizer's rate as the epoch's last batch started.
    last_batches = probe.rates[TINY_STEPS_PER_EPOCH - 1 :: TINY_STEPS_PER_EPOCH]
    assert sink.series("learning_rate") == last_batches
    assert sink.series("batch_learning_rate") == pytest.approx(probe.rates, rel=1e-5, abs=1e-9)


def _unwired(factory):
    """A schedule factory whose schedule never reaches the optimizer (it trains at lr0)."""

    def setup(spec, steps):
        wired = factory(spec, steps)
        return schedules.ScheduleSetup(spec.optimizer.learning_rate, [], wired.rate_at, wired.planned)

    return setup


@pytest.mark.parametrize("name", ["one_cycle", "piecewise", "exponential_step"])
def test_a_schedule_not_driving_the_optimizer_fails_the_run(name, monkeypatch):
    kind = SCHEDULES[name]["name"]
    monkeypatch.setitem(schedules.SCHEDULES, kind, _unwired(schedules.SCHEDULES[kind]))
    overrides = {"schedule": SCHEDULES[name], "optimizer": {"name": "sgd", "learning_rate": 0.02}}
    with pytest.raises(LearningRateMismatch, match="the schedule is not driving the optimizer"):
        fit(overrides)
    with pytest.raises(LearningRateMismatch):
        fit(overrides, read_rates_every_step=True)


def test_an_optimizer_off_by_steps_fails_the_run():
    class SkipAhead(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            self.model.optimizer.iterations.assign_add(1)

    # Extra callbacks come after the tracker: epoch 0 passes, epoch 1 sees the extra step.
    with pytest.raises(LearningRateMismatch, match="counted 9 steps after epoch 1"):
        fit({}, extra_callbacks=[SkipAhead()])


def test_plateau_records_the_reduced_rate():
    # A rate too small to move the weights: training accuracy never improves after
    # epoch 0, so with patience 0 the rate halves after epoch 1 (Keras ReduceLROnPlateau).
    overrides = {
        "optimizer": {"name": "sgd", "learning_rate": 1e-7},
        "schedule": {"name": "plateau", "factor": 0.5, "patience": 0, "monitor": "accuracy"},
    }
    probe = RateProbe()
    result, sink = fit(overrides, extra_callbacks=[probe])
    assert sink.series("learning_rate") == pytest.approx([1e-7, 1e-7, 5e-8], rel=1e-5)
    steps = TINY_STEPS_PER_EPOCH
    assert sink.series("batch_learning_rate") == pytest.approx([1e-7] * 2 * steps + [5e-8] * steps, rel=1e-5)
    assert probe.rates == pytest.approx(sink.series("batch_learning_rate"), rel=1e-6)


def test_keras_objects_per_schedule():
    from worker.training import schedules

    setup = schedules.get(tiny_spec({"schedule": {"name": "power", "decay": 0.1, "c": 1.0}}), 4)
    assert isinstance(setup.learning_rate, keras.optimizers.schedules.InverseTimeDecay)
    assert setup.learning_rate.get_config()["decay_rate"] == 0.1
    setup = schedules.get(tiny_spec({"schedule": {"name": "cosine", "decay_steps": 6, "warmup_steps": 3}}), 4)
    config = setup.learning_rate.get_config()
    assert isinstance(setup.learning_rate, keras.optimizers.schedules.CosineDecay)
    assert (config["initial_learning_rate"], config["warmup_target"], config["warmup_steps"]) == (0.0, 0.01, 3)
    setup = schedules.get(tiny_spec({"schedule": {"name": "cosine_restarts"}}), 4)
    assert isinstance(setup.learning_rate, keras.optimizers.schedules.CosineDecayRestarts)
    setup = schedules.get(tiny_spec({"schedule": {"name": "exponential", "s": 4, "per": "step"}}), 4)
    assert isinstance(setup.learning_rate, keras.optimizers.schedules.ExponentialDecay)
    setup = schedules.get(tiny_spec({"schedule": {"name": "piecewise"}}), 4)
    assert isinstance(setup.callbacks[0], keras.callbacks.LearningRateScheduler) and setup.rate_at is None
    setup = schedules.get(tiny_spec({"schedule": {"name": "plateau", "factor": 0.2, "patience": 3}}), 4)
    assert isinstance(setup.callbacks[0], keras.callbacks.ReduceLROnPlateau)
    assert (setup.callbacks[0].factor, setup.callbacks[0].patience) == (0.2, 3)
    with pytest.raises(ValueError, match="unknown schedule"):
        schedules.get(type("S", (), {"schedule": type("X", (), {"name": "nope"})()})(), 4)
