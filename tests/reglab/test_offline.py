"""The API stopped for ~10 s mid-run: the callback and a worker buffer, flush in order, and store every epoch once."""

import threading
import time

import httpx
import pytest

from reglab.spec import deep_merge
from reglab.keras import RegLabCallback
from tests.fixtures.worker import start_worker
from tests.reglab.test_keras import conv_model, digits, wait_state
from tests.worker import store
from tests.worker.helpers import TINY

pytestmark = pytest.mark.slow

OUTAGE_S = 10


def stored_points(run_id):
    return list(store.stored_points(run_id))


def epochs_of(run_id, name):
    return sorted(x for n, axis, x in stored_points(run_id) if n == name and axis == "epoch")


def take_the_api_away(server, run_id, after_epoch, outage=None):
    """In a thread: once ``run_id`` has ``after_epoch`` epochs, stop the API for OUTAGE_S, then start it again."""
    outage = outage if outage is not None else {}

    def cut():
        while True:
            try:
                if httpx.get(f"{server.url}/api/runs/{run_id()}").json()["epoch"] >= after_epoch:
                    break
            except (httpx.HTTPError, KeyError, TypeError):
                pass
            time.sleep(0.1)
        server.stop()
        outage["down_at"] = time.monotonic()
        time.sleep(OUTAGE_S)
        server.start()
        outage["up_at"] = time.monotonic()

    thread = threading.Thread(target=cut, daemon=True)
    thread.start()
    return thread, outage


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_callback_training_goes_on_while_the_api_is_away_and_loses_no_epoch(api_server):
    x, y, xv, yv = digits()
    epochs = 60
    callback = RegLabCallback(experiment="offline", name="cnn", url=api_server.url)
    thread, outage = take_the_api_away(api_server, lambda: callback.run_id, after_epoch=2)
    ends = []

    class EpochClock(__import__("keras").callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            ends.append(time.monotonic())

    conv_model().fit(x, y, validation_data=(xv, yv), epochs=epochs, batch_size=16, verbose=0,
                     callbacks=[callback, EpochClock()])  # fmt: skip
    thread.join(60)
    assert "up_at" in outage, "the fit ended before the API came back: lengthen it"
    during = [t for t in ends if outage["down_at"] < t < outage["up_at"]]
    assert len(during) >= 2, "epochs went on while the API was away"
    run = wait_state(api_server.url, callback.run_id)
    assert run["state"] == "completed"
    for name in ("loss", "val_accuracy", "reg_loss"):
        assert epochs_of(callback.run_id, name) == list(range(epochs))
    steps = sorted(x for n, axis, x in stored_points(callback.run_id) if n == "batch_loss")
    assert steps == list(range(epochs * 88))


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_worker_training_goes_on_while_the_api_is_away_and_loses_no_epoch(api_server, reglab_env, tmp_path):
    worker = start_worker(reglab_env, tmp_path / "worker", api_server.url)
    try:
        epochs = 40
        spec = deep_merge(TINY, {"dataset": {"train_samples": 1000}, "training": {"epochs": epochs, "batch_size": 16}})
        study = httpx.post(f"{api_server.url}/api/experiments", json={"name": "offline", "base": spec}).json()
        run_id = study["runs"][0]["id"]
        thread, outage = take_the_api_away(api_server, lambda: run_id, after_epoch=2)
        thread.join(240)
        assert "up_at" in outage
        run = wait_state(api_server.url, run_id, timeout=240, worker=worker)
        assert run["state"] == "completed", run["error"]
        assert run["attempts"] == 1, "the run kept its worker through the outage"
        for name in ("loss", "val_accuracy", "learning_rate"):
            assert epochs_of(run_id, name) == list(range(epochs))
        steps = sorted(x for n, axis, x in stored_points(run_id) if n == "batch_loss")
        assert steps == list(range(epochs * 63))
        assert "API unreachable" in worker.log() and "API answers again" in worker.log()
    finally:
        worker.stop()
