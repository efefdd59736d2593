"""End to end: a real Celery worker with no database, talking to a live API over HTTP, trains tiny runs."""

import json
import threading
import time
from pathlib import Path

import httpx
import pytest
import redis

from backend.artifacts import artifact_file
from backend.channels import run_channel
from backend.settings import get_settings
from reglab.spec import deep_merge
from tests.worker import store
from tests.worker.helpers import TINY
from tests.worker.store import create_run, load_run, send, wait_for

pytestmark = pytest.mark.slow

EPOCH_METRICS = {
    "loss", "accuracy", "val_loss", "val_accuracy", "learning_rate", "epoch_time",
    "reg_loss", "data_loss", "val_data_loss", "weight_l2", "sparsity", "max_col_norm",
}
STEP_METRICS = {"batch_loss", "batch_learning_rate"}


def stored_points(run_id):
    return {key: value for key, (value, _) in store.stored_points(run_id).items()}


class ChannelListener:
    """Collects the JSON messages published on a run's channel."""

    def __init__(self, run_id):
        self.messages = []
        self.pubsub = redis.Redis.from_url(get_settings().REDIS_URL).pubsub(ignore_subscribe_messages=True)
        self.pubsub.subscribe(run_channel(run_id))
        self.thread = threading.Thread(target=self._listen, daemon=True)
        self.stopped = False
        self.thread.start()

    def _listen(self):
        while not self.stopped:
            message = self.pubsub.get_message(timeout=0.2)
            if message is not None:
                self.messages.append(json.loads(message["data"]))

    def close(self):
        time.sleep(0.5)
        self.stopped = True
        self.thread.join(2)
        self.pubsub.close()


def test_run_completes_with_every_metric_and_a_duplicate_task_does_nothing(celery_worker, live_server):
    spec = deep_merge(
        TINY,
        {
            "model": {"hidden_layers": [16, 8]},
            "regularization": {"kernel_l2": 0.001, "dropout": 0.2, "dropout_kind": "mc", "max_norm": 2.0},
            "training": {"epochs": 2},
            "evaluation": {"test_set": True, "mc_samples": 3},
        },
    )
    run_id = create_run(spec)
    listener = ChannelListener(run_id)
    send(run_id)
    run = wait_for(run_id, worker=celery_worker, timeout=180)
    listener.close()
    assert run.state == "completed", run.error
    assert (run.epoch, run.epochs, run.error) == (2, 2, None)
    assert run.backend == "tensorflow" and run.device == "CPU" and run.worker_host
    assert run.epoch_seconds > 0 and run.heartbeat_at and run.started_at <= run.finished_at

    points = stored_points(run_id)
    names = {(name, axis) for name, axis, _ in points}
    assert names == {(n, "epoch") for n in EPOCH_METRICS} | {(n, "step") for n in STEP_METRICS}
    assert sorted(x for name, axis, x in points if name == "loss") == [0, 1]
    assert sorted(x for name, axis, x in points if name == "batch_loss") == list(range(8))
    assert points[("max_col_norm", "epoch", 1)] <= 2.0 + 1e-5
    assert points[("reg_loss", "epoch", 1)] > 0
    assert points[("data_loss", "epoch", 1)] == pytest.approx(
        points[("loss", "epoch", 1)] - points[("reg_loss", "epoch", 1)]
    )

    summary = run.summary
    for key in ("test_loss", "test_accuracy", "mc_test_accuracy", "mc_predictive_std", "best_val_accuracy",
                "best_epoch", "final_val_accuracy", "param_count"):
        assert key in summary, key
    assert summary["param_count"] == 64 * 16 + 16 + 16 * 8 + 8 + 8 * 10 + 10
    # Uploaded to the API's store (the worker has a data directory of its own), served by the API.
    assert run.artifact_path == f"run-{run_id}.keras"
    assert artifact_file(run.artifact_path).is_relative_to(get_settings().artifacts_dir.resolve())
    assert celery_worker.env["REGLAB_DATA_DIR"] != str(get_settings().DATA_DIR) and "REGLAB_DATABASE_URL" not in celery_worker.env
    model = httpx.get(f"{live_server}/api/runs/{run_id}/model")
    assert model.status_code == 200 and model.content == artifact_file(run.artifact_path).read_bytes()
    assert not list(Path(celery_worker.env["REGLAB_DATA_DIR"]).glob("**/*.keras")), "the worker keeps no files"
    assert run.model_summary["total_params"] == summary["param_count"]
    assert [layer["class_name"] for layer in run.model_summary["layers"]][:3] == ["Flatten", "Dense", "MCDropout"]

    kinds = [m["type"] for m in listener.messages]
    assert kinds[0] == "state" and listener.messages[0]["state"] == "running"
    assert listener.messages[-1] == {"type": "state", "run_id": run_id, "state": "completed", "epoch": 2,
                                     "epochs": 2, "error": None}
    published = [p for m in listener.messages if m["type"] == "points" for p in m["points"]]
    assert {p["name"] for p in published} == EPOCH_METRICS | STEP_METRICS
    assert all(set(p) == {"name", "axis", "x", "value", "t"} for p in published)

    # A redelivered or duplicate task for a final run changes nothing.
    assert send(run_id).get(timeout=60) == "skipped"
    again = load_run(run_id)
    assert (again.state, again.finished_at, again.summary) == ("completed", run.finished_at, run.summary)
    assert stored_points(run_id) == points


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_divergence_and_missing_dataset_end_in_their_states(celery_worker):
    diverging = create_run(
        deep_merge(
            TINY,
            {
                "dataset": {"preprocessing": "none"},
                "model": {"hidden_layers": [64, 64], "activation": "selu"},
                "optimizer": {"name": "sgd", "learning_rate": 10.0},
                "training": {"epochs": 5},
            },
        ),
        name="diverging",
    )
    missing = create_run(
        {"dataset": {"name": "cifar10", "validation_samples": 500, "train_samples": 100}, "training": {"epochs": 1}},
        name="missing",
    )
    send(diverging)
    send(missing)
    run = wait_for(diverging, worker=celery_worker, timeout=120)
    assert run.state == "diverged", run.error
    assert run.epoch < 5 and run.artifact_path is None
    assert any(name == "batch_loss" for name, _, _ in stored_points(diverging))

    run = wait_for(missing, worker=celery_worker, timeout=120)
    assert run.state == "failed"
    assert "cifar10 is not in the Keras cache" in run.error
    assert "put cifar-10-python.tar.gz in $KERAS_HOME/datasets" in run.error
    assert "Traceback" not in run.error and "\n" not in run.error
