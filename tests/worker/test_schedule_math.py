"""reglab/schedule_math.py against hand-computed values of the notes' formulas."""

import math

import pytest

from reglab import schedule_math
from reglab.spec import build_spec


def spec_with(schedule, lr=0.01, epochs=25, batch_size=32, dataset=None):
    return build_spec(
        {
            "dataset": dataset or {"name": "fashion_mnist"},
            "optimizer": {"name": "sgd", "learning_rate": lr},
            "schedule": schedule,
            "training": {"epochs": epochs, "batch_size": batch_size},
        }
    )


def test_constant():
    spec = spec_with({"name": "constant"})
    assert schedule_math.learning_rate_at(spec, 0) == 0.01
    assert schedule_math.learning_rate_at(spec, 10**6) == 0.01


def test_power_is_the_notes_sgd_decay():
    # lr = lr0 / (1 + step/s)^c with s = 1/decay: SGD(lr=0.01, decay=1e-4) after 10,000 steps halves.
    spec = spec_with({"name": "power", "decay": 1e-4, "c": 1})
    assert schedule_math.learning_rate_at(spec, 0) == 0.01
    assert schedule_math.learning_rate_at(spec, 10_000) == pytest.approx(0.005)
    squared = spec_with({"name": "power", "decay": 1e-4, "c": 2})
    assert schedule_math.learning_rate_at(squared, 10_000) == pytest.approx(0.0025)


def test_exponential_per_epoch_is_the_notebook_exponential_decay_fn():
    spec = spec_with({"name": "exponential", "s": 20, "per": "epoch"})
    steps = schedule_math.spec_steps_per_epoch(spec)  # 55000 / 32 -> 1719
    assert steps == 1719
    # exponential_decay(lr0=0.01, s=20): epoch 20 -> 0.001, epoch 10 -> 0.01 * 10**-0.5
    assert schedule_math.learning_rate_at(spec, 20 * steps) == pytest.approx(0.001)
    assert schedule_math.learning_rate_at(spec, 10 * steps + 5) == pytest.approx(0.01 / math.sqrt(10))
    assert schedule_math.epoch_learning_rate(spec, 20) == pytest.approx(0.001)


def test_exponential_per_step():
    spec = spec_with({"name": "exponential", "s": 1000, "per": "step"})
    assert schedule_math.learning_rate_at(spec, 1000) == pytest.approx(0.001)
    assert schedule_math.learning_rate_at(spec, 500) == pytest.approx(0.01 * 10**-0.5)
    # An epoch reports its last step's rate.
    last = schedule_math.spec_steps_per_epoch(spec) - 1
    assert schedule_math.epoch_learning_rate(spec, 0) == pytest.approx(0.01 * 0.1 ** (last / 1000))


def test_piecewise_is_the_notebook_piecewise_constant_fn():
    spec = spec_with({"name": "piecewise", "boundaries": [5, 15], "values": [0.01, 0.005, 0.001]})
    expected = {0: 0.01, 4: 0.01, 5: 0.005, 14: 0.005, 15: 0.001, 24: 0.001}
    for epoch, rate in expected.items():
        assert schedule_math.epoch_learning_rate(spec, epoch) == rate


def test_plateau_plans_lr0():
    spec = spec_with({"name": "plateau"}, epochs=3)
    assert set(schedule_math.planned_rates(spec)["epoch"]) == {0.01}


def test_one_cycle_is_the_notebook_scheduler():
    # iterations 100, max 0.05: start 0.005, last_iterations 11, half 44, last_rate 5e-6.
    spec = spec_with(
        {"name": "one_cycle", "max_rate": 0.05},
        epochs=1,
        batch_size=50,
        dataset={"name": "digits", "validation_samples": 437},  # 1000 examples -> 20 steps
    )
    steps = schedule_math.spec_steps_per_epoch(spec)
    assert steps == 20
    spec = spec.model_copy(update={"training": spec.training.model_copy(update={"epochs": 5})})
    rate = lambda it: schedule_math.learning_rate_at(spec, it)  # noqa: E731
    assert rate(0) == pytest.approx(0.005)
    assert rate(22) == pytest.approx(0.005 + 0.045 * 22 / 44)
    assert rate(44) == pytest.approx(0.05)
    assert rate(66) == pytest.approx(0.05 - 0.045 * 22 / 44)
    assert rate(88) == pytest.approx(0.005)
    assert rate(94) == pytest.approx(0.005 + (5e-6 - 0.005) * 6 / 12)
    assert rate(99) == pytest.approx(0.005 + (5e-6 - 0.005) * 11 / 12)
    assert min(schedule_math.planned_rates(spec)["step"]) >= 5e-6


def test_one_cycle_explicit_parameters():
    kwargs = dict(iterations=10, max_rate=1.0, start_rate=0.5, last_iterations=4, last_rate=0.1)
    # half = 3: up over 0..3, down over 3..6, then to last_rate over 6..10.
    assert schedule_math.one_cycle_rate(0, **kwargs) == 0.5
    assert schedule_math.one_cycle_rate(3, **kwargs) == 1.0
    assert schedule_math.one_cycle_rate(6, **kwargs) == 0.5
    assert schedule_math.one_cycle_rate(8, **kwargs) == pytest.approx(0.3)
    assert schedule_math.one_cycle_rate(12, **kwargs) == 0.1  # clamped at last_rate


def test_cosine_and_warmup():
    # 0.5 * (1 + cos(pi * t / T)) scaled to (1 - alpha) plus alpha, as in the notes.
    assert schedule_math.cosine_rate(0, 0.1, 100, 0.0) == pytest.approx(0.1)
    assert schedule_math.cosine_rate(50, 0.1, 100, 0.0) == pytest.approx(0.05)
    assert schedule_math.cosine_rate(100, 0.1, 100, 0.2) == pytest.approx(0.02)
    assert schedule_math.cosine_rate(500, 0.1, 100, 0.2) == pytest.approx(0.02)
    # Warmup: from 0 linearly to lr0 over 10 steps, then the cosine from lr0.
    assert schedule_math.cosine_rate(0, 0.1, 100, 0.0, warmup_steps=10) == 0.0
    assert schedule_math.cosine_rate(5, 0.1, 100, 0.0, warmup_steps=10) == pytest.approx(0.05)
    assert schedule_math.cosine_rate(10, 0.1, 100, 0.0, warmup_steps=10) == pytest.approx(0.1)
    assert schedule_math.cosine_rate(60, 0.1, 100, 0.0, warmup_steps=10) == pytest.approx(0.05)


def test_cosine_restarts():
    # Periods of 10, 20, 40 steps (t_mul 2); each restart at m_mul times the last peak.
    rate = lambda step: schedule_math.cosine_restarts_rate(step, 0.1, 10, 2.0, 0.5, 0.0)  # noqa: E731
    assert rate(0) == pytest.approx(0.1)
    assert rate(5) == pytest.approx(0.05)
    assert rate(10) == pytest.approx(0.05)
    assert rate(20) == pytest.approx(0.025)
    assert rate(30) == pytest.approx(0.025)
    same_length = lambda step: schedule_math.cosine_restarts_rate(step, 0.1, 10, 1.0, 1.0, 0.0)  # noqa: E731
    assert same_length(15) == pytest.approx(0.05)
    assert same_length(20) == pytest.approx(0.1)


def test_planned_rates_lengths():
    digits = {"name": "digits", "validation_samples": 437}  # 1000 examples -> 32 steps of 32
    spec = spec_with({"name": "cosine", "decay_steps": 50}, epochs=2, dataset=digits)
    planned = schedule_math.planned_rates(spec)
    assert len(planned["step"]) == 2 * 32 and len(planned["epoch"]) == 2
    assert planned["epoch"][1] == planned["step"][-1]


def test_schedule_math_imports_no_tensorflow():
    import subprocess
    import sys

    code = "import sys, reglab.schedule_math; assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)
