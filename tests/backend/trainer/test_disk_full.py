"""An upload the disk cannot hold answers 507 and says why; the run's points keep being stored.
The artifacts directory is a real 64 KiB tmpfs (root ignores file permissions, not a full disk)."""

import subprocess

import pytest

from backend.settings import get_settings
from tests.backend.helpers import make_experiment

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


@pytest.fixture
def tiny_artifacts_disk(reglab_env):
    root = get_settings().artifacts_dir
    root.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(root)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        yield root
    finally:
        subprocess.run(["umount", str(root)], check=False)


def test_a_checkpoint_the_disk_cannot_hold_answers_507_and_points_still_arrive(client, tiny_artifacts_disk):
    run_id = make_experiment(client)["runs"][0]["id"]
    attempt = client.post(f"/api/trainer/runs/{run_id}/claim", json={"worker_host": "w"}).json()["attempt"]
    base = f"/api/trainer/runs/{run_id}"

    small = client.put(f"{base}/checkpoint", params={"attempt": attempt, "epoch": 1}, content=b"k" * 1024)
    assert small.status_code == 200, small.text
    full = client.put(f"{base}/checkpoint", params={"attempt": attempt, "epoch": 2}, content=b"k" * 200_000)
    assert full.status_code == 507, full.text
    detail = full.json()["detail"]
    assert "No space left on device" in detail and "points are still stored" in detail
    model = client.put(f"{base}/model", params={"attempt": attempt}, content=b"m" * 200_000)
    assert model.status_code == 507
    # Nothing half-written is left behind, and the older checkpoint is kept.
    assert sorted(p.name for p in tiny_artifacts_disk.iterdir()) == [f"run-{run_id}.checkpoint-e1.keras"]

    epoch = client.post(
        f"{base}/epoch",
        json={"attempt": attempt, "points": [{"name": "loss", "axis": "epoch", "x": 0, "value": 0.5}], "progress": {"epoch": 1}},
    )
    assert epoch.status_code == 200, epoch.text
    series = client.get(f"/api/runs/{run_id}/metrics").json()["series"]
    assert series["loss"]["x"] == [0] and series["loss"]["y"] == [0.5]
    assert client.get(f"/api/runs/{run_id}").json()["state"] == "running"
