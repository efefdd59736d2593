"""A median-pruned grid study trained by a real worker: the hopeless run ends `pruned`, with its reason."""

import time

import pytest

from reglab.spec import deep_merge
from tests.worker.helpers import TINY

pytestmark = pytest.mark.slow


@pytest.mark.timeout(600)
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_median_pruner_stops_the_hopeless_run_and_says_why(client, celery_worker):
    base = deep_merge(TINY, {"training": {"epochs": 40}, "optimizer": {"name": "sgd"}})
    body = {
        "name": "pruned grid",
        "base": base,
        # A frozen learning rate keeps accuracy near chance while the others learn.
        "grid": {"training.seed": [1, 2], "optimizer.learning_rate": [0.05, 1e-7]},
        "pruner": {"name": "median", "n_startup_trials": 1, "n_warmup_steps": 1},
    }
    response = client.post("/api/experiments", json=body)
    assert response.status_code == 201, response.text
    experiment = response.json()
    assert experiment["pruner"]["metric"] == "val_accuracy"
    ids = [run["id"] for run in experiment["runs"]]
    deadline = time.monotonic() + 400
    while True:
        runs = [client.get(f"/api/runs/{run_id}").json() for run_id in ids]
        if all(run["state"] not in ("queued", "running") for run in runs):
            break
        assert time.monotonic() < deadline, (runs, celery_worker.log()[-5000:])
        time.sleep(0.5)
    states = {run["name"]: run["state"] for run in runs}
    pruned = [run for run in runs if run["state"] == "pruned"]
    assert pruned, (states, celery_worker.log()[-3000:])
    assert states["seed=1, learning_rate=0.05"] == "completed"
    assert any("learning_rate=1e-07" in run["name"] for run in pruned), states
    for run in pruned:
        assert run["error"].startswith("val_accuracy ") and "is below the median" in run["error"], run["error"]
        assert "runs at that epoch" in run["error"]
        assert run["epoch"] < 40
        kept = client.get(f"/api/runs/{run['id']}/metrics", params={"names": "val_accuracy"}).json()["series"]
        assert kept["val_accuracy"]["x"] == list(range(run["epoch"])), "a pruned run keeps its points"
    detail = client.get(f"/api/experiments/{experiment['id']}").json()
    assert detail["pruned_epochs_saved"] == sum(40 - run["epoch"] for run in pruned) > 0
