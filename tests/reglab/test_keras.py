"""RegLabCallback against a live API: a Conv2D on digits logged from "a notebook" (this test process)."""

import threading
import time

import httpx
import keras
import pytest

from reglab.spec import deep_merge
from reglab.keras import RegLabCallback
from tests.worker.helpers import TINY

pytestmark = pytest.mark.slow

EPOCH_NAMES = {"loss", "accuracy", "val_loss", "val_accuracy", "learning_rate", "epoch_time", "reg_loss",
               "data_loss", "val_data_loss", "weight_l2", "sparsity", "max_col_norm"}  # fmt: skip


def digits():
    from sklearn.datasets import load_digits

    data = load_digits()
    x = (data.images / 16.0).astype("float32").reshape(-1, 8, 8, 1)
    return x[:1400], data.target[:1400], x[1400:], data.target[1400:]


def conv_model(dropout=0.3, l2=1e-3):
    keras.utils.set_random_seed(1)
    model = keras.Sequential([
        keras.Input((8, 8, 1)),
        keras.layers.Conv2D(8, 3, activation="relu", kernel_regularizer=keras.regularizers.L2(l2)),
        keras.layers.Flatten(),
        keras.layers.Dropout(dropout),
        keras.layers.Dense(10, activation="softmax", kernel_regularizer=keras.regularizers.L2(l2)),
    ])  # fmt: skip
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def wait_state(url, run_id, states=("completed", "failed", "cancelled", "diverged"), timeout=180, worker=None):
    deadline = time.monotonic() + timeout
    while True:
        run = httpx.get(f"{url}/api/runs/{run_id}").json()
        if run["state"] in states:
            return run
        if worker is not None:
            assert worker.process.poll() is None, worker.log()[-3000:]
        assert time.monotonic() < deadline, f"run {run_id} still {run['state']}"
        time.sleep(0.3)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_keras_run_logs_beside_a_trained_run_and_compares_with_it(live_server, celery_worker):
    study = httpx.post(f"{live_server}/api/experiments", json={
        "name": "digits", "base": deep_merge(TINY, {"training": {"epochs": 2}, "regularization": {"dropout": 0.1}}),
    }).json()  # fmt: skip
    trained_id = study["runs"][0]["id"]

    x, y, xv, yv = digits()
    callback = RegLabCallback(experiment="my CNN", name="dropout 0.3", params={"regularization.dropout": 0.3,
                              "conv_filters": 8}, tags=["cnn"], url=live_server)  # fmt: skip
    conv_model().fit(x, y, validation_data=(xv, yv), epochs=3, batch_size=100, verbose=0, callbacks=[callback])
    assert callback.state == "completed"
    run = httpx.get(f"{live_server}/api/runs/{callback.run_id}").json()
    assert (run["state"], run["epoch"], run["experiment_name"]) == ("completed", 3, "my CNN")
    # Computed by the server from the stored points, so lists show it like a trained run's.
    assert run["summary"]["epochs_trained"] == 3 and 0 < run["summary"]["final_val_accuracy"] <= 1
    assert run["spec"]["external"]["params"] == {"regularization.dropout": 0.3, "conv_filters": 8}
    listed = httpx.get(f"{live_server}/api/runs", params={"q": "dropout 0.3"}).json()["items"]
    assert [item["id"] for item in listed] == [callback.run_id]

    series = httpx.get(f"{live_server}/api/runs/{callback.run_id}/metrics").json()["series"]
    assert EPOCH_NAMES <= set(series)
    assert all(series[name]["x"] == [0, 1, 2] for name in EPOCH_NAMES)
    assert series["batch_loss"]["x"] == list(range(3 * 14)) and series["batch_loss"]["axis"] == "step"
    assert series["batch_learning_rate"]["y"][0] == pytest.approx(0.01)
    assert all(value > 0 for value in series["reg_loss"]["y"])
    assert series["data_loss"]["y"][-1] == pytest.approx(series["loss"]["y"][-1] - series["reg_loss"]["y"][-1])
    model = httpx.get(f"{live_server}/api/runs/{callback.run_id}/model")
    assert model.status_code == 200 and model.content[:2] == b"PK", "a .keras file (a zip)"

    assert wait_state(live_server, trained_id, worker=celery_worker)["state"] == "completed"
    compare = httpx.get(f"{live_server}/api/compare", params={"run_ids": f"{trained_id},{callback.run_id}"}).json()
    diff = compare["params_diff"]
    assert diff["regularization.dropout"] == {str(trained_id): 0.1, str(callback.run_id): 0.3}
    assert diff["conv_filters"] == {str(trained_id): None, str(callback.run_id): 8}
    assert diff["model.hidden_layers"][str(callback.run_id)] is None
    assert {r["id"] for r in compare["runs"]} == {trained_id, callback.run_id}
    assert compare["series"][str(callback.run_id)]["val_accuracy"]["x"] == [0, 1, 2]
    assert httpx.post(f"{live_server}/api/runs/{callback.run_id}/clone").status_code == 409


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_cancel_from_the_api_stops_the_fit(live_server):
    x, y, xv, yv = digits()
    callback = RegLabCallback(experiment="my CNN", name="long", url=live_server, heartbeat_s=0.2)
    cancelled_at = {}

    def cancel_after_two_epochs():
        while callback.run is None:
            time.sleep(0.05)
        while httpx.get(f"{live_server}/api/runs/{callback.run_id}").json()["epoch"] < 2:
            time.sleep(0.1)
        cancelled_at["t"] = time.monotonic()
        assert httpx.post(f"{live_server}/api/runs/{callback.run_id}/cancel").status_code == 200

    thread = threading.Thread(target=cancel_after_two_epochs, daemon=True)
    thread.start()
    history = conv_model().fit(x, y, validation_data=(xv, yv), epochs=500, batch_size=16, verbose=0,
                               callbacks=[callback])  # fmt: skip
    stopped_after = time.monotonic() - cancelled_at["t"]
    thread.join(5)
    assert callback.state == "cancelled" and len(history.epoch) < 500
    assert stopped_after < 5, f"the fit went on {stopped_after:.1f} s after the cancel"
    run = wait_state(live_server, callback.run_id)
    assert run["state"] == "cancelled" and run["epoch"] >= 2


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_failing_fit_ends_its_run_failed_with_the_exception_text(live_server):
    x, y, xv, yv = digits()
    callback = RegLabCallback(experiment="my CNN", name="broken", url=live_server)
    with pytest.raises(Exception):
        # Labels out of range for 10 classes: the training step raises.
        conv_model().fit(x, y + 100, epochs=2, batch_size=100, verbose=0, callbacks=[callback])
    run = wait_state(live_server, callback.run_id)
    assert run["state"] == "failed" and run["error"] and "\n" not in run["error"]


def test_an_unreachable_api_never_stops_the_fit(caplog):
    from tests.fixtures.services import free_port

    x, y, xv, yv = digits()
    callback = RegLabCallback(experiment="nowhere", name="offline", url=f"http://127.0.0.1:{free_port()}")
    callback.client.retries = 0
    history = conv_model().fit(x[:200], y[:200], epochs=2, batch_size=100, verbose=0, callbacks=[callback])
    assert len(history.epoch) == 2 and callback.run is None
    assert "run not created" in caplog.text and "training goes on untracked" in caplog.text


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_keras_run_records_layer_snapshots_on_its_probe_batch(live_server):
    x, y, xv, yv = digits()
    model = conv_model()
    callback = RegLabCallback("layers", "conv", url=live_server, layer_probe=(xv[:64], yv[:64]), upload_model=False)
    model.fit(x[:256], y[:256], validation_data=(xv, yv), epochs=2, batch_size=64, verbose=0, callbacks=[callback])
    assert callback.state == "completed"

    answer = httpx.get(f"{live_server}/api/runs/{callback.run_id}/layers").json()
    assert [(layer["type"], layer["units"]) for layer in answer["layers"]] == [("Conv2D", 8), ("Dense", 10)]
    assert [snapshot["epoch"] for snapshot in answer["snapshots"]] == [-1, 0, 1]
    conv, dense = (layer.name for layer in model.layers if hasattr(layer, "kernel"))
    last = answer["snapshots"][-1]["layers"]
    # The conv output on 64 probe images: 6 x 6 positions, 8 filters, computed here by Keras itself.
    outputs = keras.Model(model.inputs, model.layers[0].output)(xv[:64]).numpy()
    assert sum(last[conv]["activations"]["hist"]["counts"]) == outputs.size == 64 * 6 * 6 * 8
    assert last[conv]["activations"]["zero_fraction"] == pytest.approx((outputs == 0).mean(), rel=1e-6)
    assert last[dense]["weights"]["l2"] == pytest.approx(float((model.layers[-1].kernel.numpy() ** 2).sum() ** 0.5), rel=1e-4)
    assert last[dense]["gradients"]["l2"] > 0
