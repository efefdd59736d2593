"""Per-layer summary metrics in GET /api/experiments/{id}/analysis, from each run's last snapshot."""

import numpy as np
import pytest

from tests.backend.helpers import errors_by_field, make_experiment, set_run
from tests.backend.layers.helpers import descriptions, snapshot

TINY = {"dataset": {"name": "digits", "validation_samples": 300, "train_samples": 200}, "training": {"epochs": 3}}
GRID = {"regularization.kernel_l1": [0, 0.01], "training.seed": [1, 2, 3]}


def test_layer_zero_fraction_is_a_summary_metric_with_a_verdict(client):
    study = make_experiment(client, base=TINY, grid=GRID)
    expected = {}
    for run in study["runs"]:
        spec = client.get(f"/api/runs/{run['id']}").json()["spec"]
        seed, l1 = spec["training"]["seed"], spec["regularization"]["kernel_l1"]
        rng = np.random.default_rng(seed)
        weights = rng.normal(0, 0.5, (40, 10))
        # L1 zeroes most of the first layer's weights; the last snapshot is the one counted.
        weights.ravel()[: (300 if l1 else 20) + 10 * seed] = 0.0
        arrays = {"dense": {"weights": weights, "gradients": rng.normal(0, 1e-2, (40, 10))},
                  "dense_1": {"weights": rng.normal(0, 0.5, (10, 3))}}  # fmt: skip
        early = {"dense": {"weights": rng.normal(0, 0.5, (40, 10))}}
        set_run(run["id"], state="running", attempts=1)
        body = {"attempt": 1, "layers": descriptions(((40, 10), (10, 3))),
                "snapshots": [snapshot(-1, early), snapshot(2, arrays)]}  # fmt: skip
        assert client.post(f"/api/runs/{run['id']}/layers", json=body).status_code == 200
        set_run(run["id"], state="completed", epoch=3)
        expected[run["id"]] = (np.mean(np.abs(weights) < 1e-3), np.linalg.norm(arrays["dense"]["gradients"]))

    response = client.get(f"/api/experiments/{study['id']}/analysis", params={"metric": "final_zero_fraction[dense]"})
    assert response.status_code == 200, response.text
    body = response.json()
    names = [m["name"] for m in body["metric_info"]]
    for name in ("final_zero_fraction[dense]", "final_weight_l2[dense]", "final_grad_l2[dense]",
                 "final_zero_fraction[dense_1]"):  # fmt: skip
        assert name in names
    assert "final_grad_l2[dense_1]" not in names, "dense_1 recorded no gradients"
    for run in body["runs"]:
        zero, grad = expected[run["id"]]
        assert run["metrics"]["final_zero_fraction[dense]"] == pytest.approx(zero, rel=1e-6)
        assert run["metrics"]["final_grad_l2[dense]"] == pytest.approx(grad, rel=1e-6)
    groups = {g["label"]: g for g in body["groups"]}
    l1 = groups["kernel_l1=0.01"]
    assert body["groups"][0]["label"] == "kernel_l1=0.01", "ranked by the chosen per-layer metric"
    l1_zero = np.mean([expected[r][0] for r in l1["run_ids"]])
    plain_zero = np.mean([expected[r][0] for r in groups["kernel_l1=0.0"]["run_ids"]])
    assert l1["metrics"]["final_zero_fraction[dense]"]["mean"] == pytest.approx(l1_zero, rel=1e-6)
    versus = l1["vs_baseline"]["final_zero_fraction[dense]"]
    assert versus["diff"] == pytest.approx(l1_zero - plain_zero, rel=1e-5)
    assert versus["verdict"] == "higher" and versus["p_adjusted"] < 0.05

    errors = errors_by_field(client.get(f"/api/experiments/{study['id']}/analysis", params={"metric": "final_grad_l2[nope]"}))
    assert "metric" in errors
