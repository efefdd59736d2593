"""`make run` from a fresh checkout: the one command a newcomer types.

The checkout holds what `git clone` would (tracked files plus new files not
ignored, so the test also covers work not committed yet). Its virtualenv is
new, but layered on the project's .venv site-packages with a .pth file, so
`make run` really installs the project (`pip install -e .[worker]`, offline)
without downloading TensorFlow again. REGLAB_REDIS_URL is unset, so the
stack must start its own Redis (and not use one that happens to be on 6379).
"""

import re
import shutil
import sqlite3
import signal
import subprocess
import sys
import sysconfig
from pathlib import Path

import httpx
import numpy as np
import pytest

from tests.fixtures.services import free_port
from tests.stack.procs import (
    ROOT,
    clean_env,
    descendants,
    get_run,
    log_contains,
    start,
    stop_group,
    submit,
    survivors,
    wait_runs,
    wait_until,
)

pytestmark = pytest.mark.slow

FINAL = {"completed", "failed", "diverged", "cancelled"}


@pytest.fixture(scope="module")
def checkout(tmp_path_factory) -> Path:
    dest = tmp_path_factory.mktemp("clone") / "reglab"
    files = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT, capture_output=True, check=True,
    ).stdout.decode().split("\0")  # fmt: skip
    for name in filter(None, files):
        source = ROOT / name
        if source.is_file():  # a tracked file deleted in the working tree is not part of it
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / name)
    return dest


@pytest.fixture(scope="module")
def venv(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("venv") / "venv"
    base_python = getattr(sys, "_base_executable", sys.executable)
    subprocess.run([base_python, "-m", "venv", str(path)], check=True, timeout=120)
    site = Path(subprocess.check_output([str(path / "bin/python"), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"], text=True).strip())
    (site / "_reglab_deps.pth").write_text(sysconfig.get_path("purelib") + "\n")
    return path


class Session:
    """One `make run`, its output and its process tree."""

    def __init__(self, checkout: Path, venv: Path, port: int, log: Path):
        self.url = f"http://127.0.0.1:{port}"
        self.log = log
        # "0" means off: pip's inverted flag variable. Checkpoints after every epoch, so the interrupted run has one.
        env = clean_env(PIP_NO_INDEX="1", PIP_NO_BUILD_ISOLATION="0", REGLAB_CHECKPOINT_INTERVAL_S="0")
        self.proc = start(["make", "run", f"VENV={venv}", f"PORT={port}"], env, log, cwd=checkout)

    def check(self) -> None:
        if self.proc.poll() is not None:
            raise AssertionError(f"make run exited with {self.proc.returncode}:\n{self.output()[-4000:]}")

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_ready(self, timeout: float = 240) -> None:
        wait_until(lambda: log_contains(self.log, f"RegLab is running: {self.url}/"), timeout, "the dashboard URL", self.check, every=0.5)

    def stop(self) -> list[str]:
        """SIGTERM to make, as a service manager would; returns what survived."""
        tree = descendants(self.proc.pid)
        assert tree, "make run has no child processes"
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(90)
        finally:
            left = survivors(tree)
            stop_group(self.proc, signal.SIGKILL, 1)
            for proc in tree:  # never leave anything behind for the next test, even on failure
                try:
                    proc.kill()
                except Exception:
                    pass
        return left


def test_make_run_trains_stops_cleanly_and_keeps_runs(checkout, venv, tmp_path):
    port = free_port()
    first = Session(checkout, venv, port, tmp_path / "first.log")
    try:
        first.wait_ready()
        broker = re.search(r"broker: embedded redis-server at redis://127\.0\.0\.1:(\d+)/0", first.output())
        assert broker, first.output()
        assert int(broker.group(1)) != 6379
        assert any("redis-server" in " ".join(p.cmdline()) for p in descendants(first.proc.pid))
        assert (checkout / "data" / "reglab.db").exists()
        assert "No experiments yet" in first.output()

        health = httpx.get(f"{first.url}/api/health", timeout=5)
        assert health.status_code == 200

        done = submit(first.url, "first run")["runs"][0]["id"]
        run = wait_runs(first.url, [done], FINAL, 240, first.check)[0]
        assert run["state"] == "completed", run

        # A long run, interrupted by the stop: it must be re-queued with its points, not lost nor left "running".
        long = submit(first.url, "interrupted", training={"epochs": 500})["runs"][0]["id"]
        wait_until(lambda: get_run(first.url, long)["epoch"] >= 2, 120, "two epochs of the long run", first.check)
    finally:
        left = first.stop()
    assert left == [], f"processes survived SIGTERM: {left}"
    assert "re-queued" in first.output(), first.output()[-3000:]
    # The checkpoint the worker uploaded, kept by the API's store since the run was paused, not cancelled.
    [checkpoint] = (checkout / "data" / "artifacts").glob(f"run-{long}.checkpoint-e*.keras")
    resumed_from = int(checkpoint.name.split("-e")[-1].removesuffix(".keras"))
    assert resumed_from >= 2
    with sqlite3.connect(checkout / "data" / "reglab.db") as db:
        xs, vals = db.execute("SELECT xs, vals FROM metric_series WHERE run_id = ? AND name = 'loss'", (long,)).fetchone()
    # Epochs as an int32 blob, values as a float64 one (backend/metrics/epoch_series.py).
    stored = zip(np.frombuffer(xs, "<i4").tolist(), np.frombuffer(vals, "<f8").tolist(), strict=True)
    kept = [(x, v) for x, v in stored if x < resumed_from]
    assert [x for x, _ in kept] == list(range(resumed_from))

    worker_log = checkout / "data" / "logs" / "worker.log"
    second = Session(checkout, venv, port, tmp_path / "second.log")
    try:
        second.wait_ready(120)
        assert "No experiments yet" not in second.output()
        again = get_run(second.url, done)
        assert again["state"] == "completed" and again["summary"]
        metrics = httpx.get(f"{second.url}/api/runs/{done}/metrics", timeout=10).json()
        assert len(metrics["series"]["loss"]["x"]) == 2
        # The long run resumes after its checkpoint's epoch, the earlier epochs' points unchanged.
        wait_until(lambda: log_contains(worker_log, f"run {long}: resuming from its checkpoint after epoch {resumed_from}"),
                   120, "the long run to resume", second.check, every=0.5)  # fmt: skip
        wait_until(lambda: get_run(second.url, long)["epoch"] > resumed_from, 120, "a resumed epoch", second.check)
        loss = httpx.get(f"{second.url}/api/runs/{long}/metrics", timeout=10).json()["series"]["loss"]
        assert list(zip(loss["x"], loss["y"]))[:resumed_from] == [(x, pytest.approx(v)) for x, v in kept]
    finally:
        left = second.stop()
    assert left == [], f"processes survived SIGTERM: {left}"
