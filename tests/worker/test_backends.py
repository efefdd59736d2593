"""Keras 3 backends other than TensorFlow train the same spec (KERAS_BACKEND)."""

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from reglab.schedule_math import planned_rates
from tests.worker.helpers import tiny_spec

ROOT = Path(__file__).resolve().parents[2]
SPEC = {
    "regularization": {"kernel_l2": 0.01, "dropout": 0.2, "dropout_kind": "mc", "max_norm": 2.0},
    "schedule": {"name": "exponential", "s": 4, "per": "step"},
    "evaluation": {"test_set": True, "mc_samples": 3},
}
TRAIN = """
import json, sys, keras
from tests.worker.helpers import fit
from worker.training import environment
result, sink = fit(json.loads(sys.argv[1]))
print(json.dumps({
    "backend": environment.backend_name(), "state": result.state, "summary": result.summary,
    "batch_learning_rate": sink.series("batch_learning_rate"), "reg_loss": sink.series("reg_loss"),
    "max_col_norm": sink.series("max_col_norm"), "val_accuracy": sink.series("val_accuracy"),
}))
"""


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["torch", "jax"])
def test_the_same_spec_trains_on_another_backend(backend):
    if importlib.util.find_spec(backend) is None:
        pytest.skip(f"{backend} is not installed (make test installs torch from a local CPU wheel when there is one)")
    env = {**os.environ, "KERAS_BACKEND": backend, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", TRAIN, json.dumps(SPEC)], env=env, capture_output=True, text=True, timeout=240, cwd=ROOT
    )
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["backend"] == backend
    assert result["state"] == "completed"
    # The schedule, the penalty, the constraint and MC dropout behave as on TensorFlow.
    expected = planned_rates(tiny_spec(SPEC))["step"]
    assert result["batch_learning_rate"] == pytest.approx(expected, rel=1e-5)
    assert all(r > 0 for r in result["reg_loss"])
    assert all(n <= 2.0 + 1e-5 for n in result["max_col_norm"])
    assert result["val_accuracy"][-1] > 0.15  # it learns: ten classes, chance is 0.1
    assert 0 <= result["summary"]["mc_test_accuracy"] <= 1 and result["summary"]["mc_predictive_std"] > 0
