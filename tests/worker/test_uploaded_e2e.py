"""A worker with its own data directory trains on uploaded datasets it fetches through the API."""

import io
import time
import zipfile

import httpx
import numpy as np
import pytest
from PIL import Image

pytestmark = pytest.mark.slow


def wait_final(base_url, run_id, worker, timeout=180):
    deadline = time.monotonic() + timeout
    while True:
        run = httpx.get(f"{base_url}/api/runs/{run_id}").json()
        if run["state"] not in ("queued", "running"):
            return run
        assert worker.process.poll() is None, worker.log()[-5000:]
        assert time.monotonic() < deadline, f"run {run_id} still {run['state']}\n{worker.log()[-5000:]}"
        time.sleep(0.3)


def blobs_npz() -> bytes:
    """Three well-separated classes of 6x6 8-bit 'images'."""
    rng = np.random.default_rng(0)
    labels = np.arange(150) % 3
    x = np.clip(rng.normal(40 + 80 * labels[:, None, None], 12, (150, 6, 6)), 0, 255).astype("uint8")
    buffer = io.BytesIO()
    np.savez(buffer, x_train=x, y_train=labels, class_names=np.array(["low", "mid", "high"]))
    return buffer.getvalue()


def tones_zip() -> bytes:
    """Two folders of generated PNGs: dark and light squares with a little noise."""
    rng = np.random.default_rng(1)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for label, level in (("dark", 50), ("light", 200)):
            for i in range(24):
                pixels = np.clip(rng.normal(level, 20, (10, 10)), 0, 255).astype("uint8")
                png = io.BytesIO()
                Image.fromarray(pixels).save(png, format="PNG")
                archive.writestr(f"{label}/{i}.png", png.getvalue())
    return buffer.getvalue()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_runs_train_on_an_uploaded_npz_and_image_folder(live_server, celery_worker_factory, tmp_path):
    npz = httpx.post(f"{live_server}/api/datasets", files={"file": ("blobs.npz", blobs_npz())}).json()
    images = httpx.post(
        f"{live_server}/api/datasets", files={"file": ("tones.zip", tones_zip())}, data={"image_size": "8"}
    ).json()
    assert images["shape"] == [8, 8] and images["class_names"] == ["dark", "light"]
    common = {"training": {"epochs": 4, "batch_size": 16}, "optimizer": {"learning_rate": 0.01},
              "evaluation": {"test_set": True, "mc_samples": 0}}
    studies = [
        {"name": "on npz", "base": {**common, "dataset": {"name": "blobs", "validation_samples": 30},
                                    "model": {"hidden_layers": [16]}}},
        {"name": "on images", "base": {**common, "dataset": {"name": images["ref"], "validation_samples": 8},
                                       "model": {"conv": [{"filters": 4, "pool": 2}], "hidden_layers": [8]}}},
    ]
    run_ids = []
    for study in studies:
        response = httpx.post(f"{live_server}/api/experiments", json=study)
        assert response.status_code == 201, response.text
        run_ids.append(response.json()["runs"][0]["id"])
    worker_data = tmp_path / "worker-data"  # not the API's: the arrays can only come over HTTP
    worker = celery_worker_factory({"REGLAB_DATA_DIR": str(worker_data)})
    runs = [wait_final(live_server, run_id, worker) for run_id in run_ids]
    assert [run["state"] for run in runs] == ["completed", "completed"], [run.get("error") for run in runs]
    detail = httpx.get(f"{live_server}/api/runs/{run_ids[0]}").json()
    assert detail["spec"]["dataset"]["sha256"] == npz["sha256"]
    assert runs[0]["summary"]["test_accuracy"] > 0.6  # separable blobs, chance is 1/3
    assert runs[1]["summary"]["test_accuracy"] > 0.7  # dark vs light, chance is 1/2
    cached = sorted(path.name for path in (worker_data / "dataset-cache").iterdir())
    assert cached == sorted([f"{npz['sha256']}.npz", f"{images['sha256']}.npz"])
