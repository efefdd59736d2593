"""Through the REST API: runs submitted with POST /api/experiments are trained by a real worker."""

import time

import pytest

from reglab.spec import deep_merge
from tests.worker.helpers import TINY

pytestmark = pytest.mark.slow


def wait_final(client, run_id, worker, timeout=120):
    deadline = time.monotonic() + timeout
    while True:
        run = client.get(f"/api/runs/{run_id}").json()
        if run["state"] not in ("queued", "running"):
            return run
        assert worker.process.poll() is None, worker.log()[-5000:]
        assert time.monotonic() < deadline, f"run {run_id} still {run['state']}\n{worker.log()[-5000:]}"
        time.sleep(0.3)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_grid_submitted_through_the_api_trains_and_serves_results(client, celery_worker):
    body = {
        "name": "worker e2e",
        "base": deep_merge(TINY, {"training": {"epochs": 2}}),
        "grid": {"regularization.kernel_l2": [0.0, 0.01]},
    }
    response = client.post("/api/experiments", json=body)
    assert response.status_code == 201, response.text
    run_ids = [run["id"] for run in response.json()["runs"]]
    assert len(run_ids) == 2
    runs = [wait_final(client, run_id, celery_worker) for run_id in run_ids]
    assert [run["state"] for run in runs] == ["completed", "completed"], [run.get("error") for run in runs]

    reg = []
    for run_id in run_ids:
        metrics = client.get(f"/api/runs/{run_id}/metrics", params={"names": "loss,reg_loss,batch_loss"}).json()
        assert metrics["series"]["loss"]["x"] == [0, 1]
        assert metrics["series"]["batch_loss"]["axis"] == "step"
        reg.append(metrics["series"]["reg_loss"]["y"])
        summary = client.get(f"/api/runs/{run_id}/summary").json()
        assert summary["total_params"] == 64 * 16 + 16 + 16 * 10 + 10
        model = client.get(f"/api/runs/{run_id}/model")
        assert model.status_code == 200 and len(model.content) > 1000
    assert reg[0] == [0.0, 0.0] and all(value > 0 for value in reg[1])


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_cancel_through_the_api_stops_within_a_batch_and_keeps_the_metrics(client, celery_worker):
    import redis

    from backend.channels import cancel_key
    from backend.settings import get_settings

    # Fashion-MNIST from Debian's files (the worker's KERAS_HOME is empty): 300 batches per epoch.
    base = {
        "dataset": {"name": "fashion_mnist", "validation_samples": 500, "train_samples": 9600},
        "model": {"hidden_layers": [32]},
        "training": {"epochs": 50, "batch_size": 32},
    }
    response = client.post("/api/experiments", json={"name": "cancel me", "base": base})
    assert response.status_code == 201, response.text
    run_id = response.json()["runs"][0]["id"]
    deadline = time.monotonic() + 180
    while client.get(f"/api/runs/{run_id}").json()["epoch"] < 1:
        assert time.monotonic() < deadline and celery_worker.process.poll() is None, celery_worker.log()[-5000:]
        time.sleep(0.2)
    requested = time.monotonic()
    assert client.post(f"/api/runs/{run_id}/cancel").status_code == 200
    run = wait_final(client, run_id, celery_worker, timeout=60)
    assert run["state"] == "cancelled"
    assert time.monotonic() - requested < 30
    epochs_done = run["epoch"]
    assert 1 <= epochs_done < 50
    metrics = client.get(f"/api/runs/{run_id}/metrics", params={"names": "val_loss,batch_loss"}).json()["series"]
    assert metrics["val_loss"]["x"] == list(range(epochs_done)), "complete epochs keep their points"
    steps = metrics["batch_loss"]["x"]
    assert steps == list(range(len(steps))) and 300 * epochs_done <= len(steps) < 300 * (epochs_done + 1)
    assert client.get(f"/api/runs/{run_id}/model").status_code == 404
    assert not redis.Redis.from_url(get_settings().REDIS_URL).exists(cancel_key(run_id)), "served request cleared"
