"""End to end: a real worker records per-layer snapshots, and they match the model it uploaded."""

import httpx
import numpy as np
import pytest

from reglab.spec import deep_merge
from tests.worker.helpers import TINY
from tests.worker.store import create_run, send, wait_for

pytestmark = pytest.mark.slow

# TensorBoard's basis points; the 50 % one is the median.
MEDIAN = 4


def test_a_trained_run_has_snapshots_that_match_its_saved_kernels(celery_worker, live_server, tmp_path):
    import keras

    spec = deep_merge(TINY, {"model": {"hidden_layers": [16, 8]}, "regularization": {"kernel_l1": 0.01},
                             "evaluation": {"probe_examples": 32}})  # fmt: skip
    off = deep_merge(TINY, {"evaluation": {"layer_stats_every": 0}})
    run_id, quiet_id = create_run(spec), create_run(off, name="quiet")
    send(run_id)
    send(quiet_id)
    for each in (run_id, quiet_id):
        run = wait_for(each, worker=celery_worker, timeout=240)
        assert run.state == "completed", run.error

    answer = httpx.get(f"{live_server}/api/runs/{run_id}/layers").json()
    names = [layer["name"] for layer in answer["layers"]]
    assert [layer["units"] for layer in answer["layers"]] == [16, 8, 10]
    assert [snapshot["epoch"] for snapshot in answer["snapshots"]] == [-1, 0, 1, 2]

    model_file = tmp_path / "model.keras"
    model_file.write_bytes(httpx.get(f"{live_server}/api/runs/{run_id}/model").content)
    model = keras.saving.load_model(model_file)
    kernels = {layer.name: np.asarray(layer.kernel.numpy(), dtype="float64") for layer in model.layers if hasattr(layer, "kernel")}
    assert sorted(kernels) == sorted(names)
    last = answer["snapshots"][-1]["layers"]
    for name, kernel in kernels.items():
        weights = last[name]["weights"]
        assert weights["std"] == pytest.approx(kernel.std(), rel=1e-4)
        assert weights["l2"] == pytest.approx(np.sqrt((kernel**2).sum()), rel=1e-4)
        assert weights["zero_fraction"] == pytest.approx(np.mean(np.abs(kernel) < 1e-3), rel=1e-6)
        assert weights["quantiles"][MEDIAN] == pytest.approx(np.median(kernel), rel=1e-3, abs=1e-6)
        assert sum(weights["hist"]["counts"]) == kernel.size
        assert {"activations", "gradients"} <= set(last[name])
        assert sum(last[name]["activations"]["hist"]["counts"]) == 32 * kernel.shape[1]

    assert httpx.get(f"{live_server}/api/runs/{quiet_id}/layers").json() == {"layers": [], "snapshots": []}
