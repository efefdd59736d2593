"""`reglab import tensorboard`: Keras' TensorBoard logs become external runs, and a second import changes nothing."""

import httpx
import keras
import numpy as np
import pytest

from reglab.cli.main import main

pytestmark = pytest.mark.slow


def log_fit(directory, epochs, units):
    keras.utils.set_random_seed(units)
    x = np.random.rand(64, 4).astype("float32")
    y = (x.sum(axis=1) > 2).astype("int32")
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(units, activation="relu"), keras.layers.Dense(2, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    tensorboard = keras.callbacks.TensorBoard(log_dir=str(directory), update_freq="batch")
    model.fit(x, y, validation_split=0.25, epochs=epochs, batch_size=16, verbose=0, callbacks=[tensorboard])


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_tensorboard_runs_are_imported_once(live_server, tmp_path, capsys):
    logs = tmp_path / "logs"
    log_fit(logs / "run_a", epochs=3, units=4)
    log_fit(logs / "run_b", epochs=2, units=8)

    assert main(["import", "tensorboard", str(logs), "--experiment", "seed 004", "--url", live_server]) == 0
    first = capsys.readouterr().out
    runs = httpx.get(f"{live_server}/api/runs").json()["items"]
    assert sorted(r["name"] for r in runs) == ["run_a", "run_b"]
    assert {r["experiment_name"] for r in runs} == {"seed 004"} and {r["state"] for r in runs} == {"completed"}
    by_name = {r["name"]: r for r in runs}
    series = httpx.get(f"{live_server}/api/runs/{by_name['run_a']['id']}/metrics").json()["series"]
    assert series["loss"]["x"] == [0, 1, 2] and series["loss"]["axis"] == "epoch"
    assert series["val_loss"]["x"] == [0, 1, 2] and series["val_accuracy"]["x"] == [0, 1, 2]
    assert series["batch_loss"]["axis"] == "step" and len(series["batch_loss"]["x"]) >= 3 * 3
    assert by_name["run_a"]["summary"]["epochs_trained"] == 3 and "final_val_accuracy" in by_name["run_a"]["summary"]
    compare = httpx.get(f"{live_server}/api/compare", params={"run_ids": ",".join(str(r["id"]) for r in runs)}).json()
    assert set(compare["params_diff"]) == {"logdir"}

    assert main(["import", "tensorboard", str(logs), "--experiment", "seed 004", "--url", live_server]) == 0
    assert "already imported, unchanged" in capsys.readouterr().out and "imported" in first
    again = httpx.get(f"{live_server}/api/runs").json()["items"]
    assert again == runs
    assert httpx.get(f"{live_server}/api/runs/{by_name['run_a']['id']}/metrics").json()["series"] == series


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_kernel_histograms_become_weight_snapshots(live_server, tmp_path, capsys):
    keras.utils.set_random_seed(3)
    x = np.random.rand(64, 4).astype("float32")
    y = (x.sum(axis=1) > 2).astype("int32")
    dense = [keras.layers.Dense(5, activation="relu"), keras.layers.Dense(2, activation="softmax")]
    model = keras.Sequential([keras.Input((4,)), *dense])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    tensorboard = keras.callbacks.TensorBoard(log_dir=str(tmp_path / "logs" / "hist"), histogram_freq=1)
    model.fit(x, y, epochs=2, batch_size=16, verbose=0, callbacks=[tensorboard])

    assert main(["import", "tensorboard", str(tmp_path / "logs"), "--url", live_server]) == 0
    assert "and 2 layer snapshot(s)" in capsys.readouterr().out
    (run,) = httpx.get(f"{live_server}/api/runs").json()["items"]
    answer = httpx.get(f"{live_server}/api/runs/{run['id']}/layers").json()
    assert [layer["name"] for layer in answer["layers"]] == [layer.name for layer in dense]
    assert [layer["type"] for layer in answer["layers"]] == ["Dense", "Dense"]
    assert [s["epoch"] for s in answer["snapshots"]] == [0, 1]
    for snapshot in answer["snapshots"]:
        assert set(snapshot["layers"]) == {layer.name for layer in dense}  # no bias histograms
        for layer in dense:
            weights = snapshot["layers"][layer.name]["weights"]
            assert sum(weights["hist"]["counts"]) == int(np.prod(layer.kernel.shape))
    last = answer["snapshots"][-1]["layers"]
    for layer in dense:
        kernel = keras.ops.convert_to_numpy(layer.kernel)
        median = last[layer.name]["weights"]["quantiles"][4]
        assert kernel.min() <= median <= kernel.max()
        assert last[layer.name]["weights"]["abs_max"] >= np.abs(kernel).max() - 1e-6
