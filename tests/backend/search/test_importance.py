"""GET /api/experiments/{id}/importance on stored runs (their summaries set as a worker would)."""

import pytest

from tests.backend.helpers import make_experiment, set_run


def grid_study(client, finished: int):
    grid = {"regularization.kernel_l2": [0, 1e-4, 1e-3, 1e-2, 1e-1], "regularization.dropout": [0.0, 0.5],
            "training.seed": [1, 2]}  # fmt: skip
    experiment = make_experiment(client, grid=grid)
    for run in experiment["runs"][:finished]:
        spec = client.get(f"/api/runs/{run['id']}").json()["spec"]
        # Dropout decides the accuracy here; the L2 strength barely moves it.
        accuracy = 0.9 - 0.3 * spec["regularization"]["dropout"] + 0.001 * spec["regularization"]["kernel_l2"]
        set_run(run["id"], state="completed", summary={"best_val_accuracy": accuracy + 0.001 * spec["training"]["seed"]})
    return experiment


@pytest.mark.parametrize("method", ["ped_anova", "fanova"])
def test_the_field_that_moves_the_metric_ranks_first(client, method):
    experiment = grid_study(client, finished=20)
    response = client.get(f"/api/experiments/{experiment['id']}/importance", params={"method": method})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["runs"] == 20 and body["reason"] is None
    fields = [item["field"] for item in body["importances"]]
    assert fields[0] == "regularization.dropout" and set(fields) == {"regularization.dropout", "regularization.kernel_l2"}


def test_too_few_runs_says_so_plainly(client):
    experiment = grid_study(client, finished=5)
    body = client.get(f"/api/experiments/{experiment['id']}/importance").json()
    assert body["importances"] == [] and "too few finished runs: 5" in body["reason"] and "at least 8" in body["reason"]
    bad = client.get(f"/api/experiments/{experiment['id']}/importance", params={"metric": "nope"})
    assert bad.status_code == 422
