"""frontend/js/schedules.js (the New study preview) agrees with reglab/schedule_math.py.

The worker's recorded rates are tested against schedule_math; this test closes
the loop for the browser: the same specs go through the JS module (in node,
the module has no DOM dependency) and both give the same per-step and
per-epoch rates for every schedule kind.
"""

from __future__ import annotations

import json
import math
import shutil
import subprocess
from pathlib import Path

import pytest

from reglab.schedule_math import planned_rates
from reglab.spec import DATASET_CLASSES, DATASET_TEST_SIZES, DATASET_TRAIN_SIZES, build_spec, steps_per_epoch

SCHEDULES_JS = Path(__file__).resolve().parents[2] / "frontend" / "js" / "schedules.js"

RUNNER = """
import { readFileSync } from "node:fs";
const { countStepsPerEpoch, planEpochRates, planStepRates } = await import(process.argv[2]);
const { cases, datasets } = JSON.parse(readFileSync(0, "utf8"));
const out = cases.map((spec) => {
  const spe = countStepsPerEpoch(spec, datasets);
  return { spe, step: planStepRates(spec, spe), epoch: planEpochRates(spec, spe) };
});
process.stdout.write(JSON.stringify(out));
"""

SMALL = {"dataset": {"name": "digits", "validation_samples": 337, "train_samples": 1000}, "training": {"batch_size": 64}}
CASES = [
    {"schedule": {"name": "constant"}},
    {"schedule": {"name": "power", "decay": 0.01, "c": 1.0}},
    {"schedule": {"name": "power", "decay": 0.003, "c": 2.5}, "optimizer": {"learning_rate": 0.05}},
    {"schedule": {"name": "exponential", "s": 3, "per": "epoch"}},
    {"schedule": {"name": "exponential", "s": 40, "per": "step"}},
    {"schedule": {"name": "piecewise", "boundaries": [2, 5], "values": [0.01, 0.005, 0.001]}},
    {"schedule": {"name": "piecewise", "boundaries": [1], "values": [0.1, 0.02]}},
    {"schedule": {"name": "plateau", "factor": 0.5, "patience": 1}},
    {"schedule": {"name": "one_cycle", "max_rate": 0.05}},
    {"schedule": {"name": "one_cycle", "max_rate": 0.1, "start_rate": 0.02, "last_iterations": 30, "last_rate": 0.001}},
    {"schedule": {"name": "one_cycle", "max_rate": 0.05}, "training": {"epochs": 1, "batch_size": 500}},
    {"schedule": {"name": "cosine", "decay_steps": 50, "alpha": 0.1}},
    {"schedule": {"name": "cosine", "decay_steps": 60, "alpha": 0.0, "warmup_steps": 25}},
    {"schedule": {"name": "cosine_restarts", "first_decay_steps": 20, "t_mul": 2.0, "m_mul": 0.8, "alpha": 0.05}},
    {"schedule": {"name": "cosine_restarts", "first_decay_steps": 30, "t_mul": 1.0, "m_mul": 0.5, "alpha": 0.0}},
    {"schedule": {"name": "cosine_restarts", "first_decay_steps": 25, "t_mul": 1.5, "m_mul": 1.0, "alpha": 0.0}, "training": {"epochs": 7}},
    # A realistic size: the notes' schedules on Fashion-MNIST (1719 steps per epoch).
    {"schedule": {"name": "one_cycle", "max_rate": 0.05}, "dataset": {"name": "fashion_mnist"}, "training": {"epochs": 3, "batch_size": 32}},
]


def build_case(overrides: dict) -> dict:
    from reglab.spec import deep_merge

    base = {**SMALL, "training": {**SMALL["training"], "epochs": 8}}
    return build_spec(deep_merge(base, overrides)).model_dump(mode="json")


@pytest.fixture(scope="module")
def js_results(tmp_path_factory) -> list[dict]:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    workdir = tmp_path_factory.mktemp("schedules-js")
    # A copy with the .mjs suffix, so node loads it as an ES module without a package.json.
    module = workdir / "schedules.mjs"
    module.write_text(SCHEDULES_JS.read_text())
    runner = workdir / "run.mjs"
    runner.write_text(RUNNER)
    datasets = {
        name: {"train": DATASET_TRAIN_SIZES[name], "test": DATASET_TEST_SIZES[name], "classes": DATASET_CLASSES[name]}
        for name in DATASET_TRAIN_SIZES
    }
    payload = json.dumps({"cases": [build_case(case) for case in CASES], "datasets": datasets})
    done = subprocess.run(
        [node, str(runner), module.as_uri()], input=payload, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.mark.parametrize("index", range(len(CASES)), ids=[f"{c['schedule']['name']}-{i}" for i, c in enumerate(CASES)])
def test_js_preview_matches_schedule_math(js_results, index):
    from reglab.spec import RunSpec

    spec = RunSpec.model_validate(build_case(CASES[index]))
    expected = planned_rates(spec)
    got = js_results[index]
    assert got["spe"] == steps_per_epoch(spec)
    assert len(got["step"]) == len(expected["step"])
    assert len(got["epoch"]) == len(expected["epoch"]) == spec.training.epochs
    for kind in ("step", "epoch"):
        for i, (js_value, py_value) in enumerate(zip(got[kind], expected[kind])):
            assert math.isclose(js_value, py_value, rel_tol=1e-9, abs_tol=1e-15), (kind, i, js_value, py_value)
