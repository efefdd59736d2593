"""POST /api/experiments/plan: what a study would queue, creating nothing."""

import pytest

from tests.backend.helpers import errors_by_field


def test_plan_names_runs_as_the_server_will_and_creates_nothing(client):
    body = {"name": "opt", "grid": {"optimizer.name": ["sgd", "adam"], "training.seed": [1]}}

    plan = client.post("/api/experiments/plan", json=body)

    assert plan.status_code == 200, plan.text
    assert [run["name"] for run in plan.json()["runs"]] == ["optimizer=sgd", "optimizer=adam"]
    assert client.get("/api/runs").json()["total"] == 0 and client.get("/api/experiments").json()["total"] == 0
    created = client.post("/api/experiments", json=body).json()
    assert [run["name"] for run in created["runs"]] == [run["name"] for run in plan.json()["runs"]]
    assert [run["spec"] for run in plan.json()["runs"]] == [client.get(f"/api/runs/{r['id']}").json()["spec"] for r in created["runs"]]


def test_plan_gives_sizes_warnings_and_planned_rates(client):
    body = {
        "name": "rates",
        "base": {"training": {"epochs": 10}, "optimizer": {"learning_rate": 0.01}},
        "grid": {"schedule": [{"name": "exponential", "s": 5}, {"name": "plateau"}, {"name": "one_cycle"}]},
    }

    runs = client.post("/api/experiments/plan", json=body).json()["runs"]

    exponential, plateau, one_cycle = (run["planned_rates"] for run in runs)
    # The default 300-100 MLP on Fashion-MNIST.
    assert {run["param_count"] for run in runs} == {266_610}
    assert exponential["axis"] == "epoch" and exponential["x"] == list(range(10))
    assert exponential["y"][0] == pytest.approx(0.01) and exponential["y"][5] == pytest.approx(0.001)
    assert plateau["adaptive"] is True and set(plateau["y"]) == {0.01}
    # 55,000 examples / 32 = 1,719 steps per epoch, 17,190 steps: downsampled, ends kept.
    assert one_cycle["axis"] == "step" and one_cycle["steps_per_epoch"] == 1719
    assert len(one_cycle["x"]) <= 600 and one_cycle["x"][0] == 0 and one_cycle["x"][-1] == 17_189
    assert max(one_cycle["y"]) == pytest.approx(0.05, rel=0.01)


def test_plan_refuses_what_submission_refuses(client):
    body = {"name": "bad", "base": {"regularization": {"dropout": 1.5}}, "grid": {"model.hidden_layers": [[4096] * 16]}}

    plan, create = client.post("/api/experiments/plan", json=body), client.post("/api/experiments", json=body)

    assert plan.status_code == create.status_code == 422
    assert plan.json() == create.json()
    assert "base.regularization.dropout" in errors_by_field(plan)
