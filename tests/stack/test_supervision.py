"""`reglab up` with real processes: the API and the embedded Redis, SIGKILLed, are started again while
the worker trains on; the run in flight completes with every epoch exactly once, and a run submitted
after Redis came back (empty) completes too."""

import re
import signal

import httpx
import psutil
import pytest

from backend.cli.processes import api_answers
from tests.fixtures.services import free_port
from tests.stack.procs import clean_env, descendants, get_run, log_contains, start_up, stop_group, submit, survivors, wait_runs, wait_until

pytestmark = pytest.mark.slow

EPOCHS = 40


def child(stack_pid: int, marker: str) -> psutil.Process | None:
    """The direct child of `reglab up` whose command line holds ``marker``."""
    for proc in descendants(stack_pid):
        try:
            if proc.ppid() == stack_pid and marker in " ".join(proc.cmdline()):
                return proc
        except psutil.NoSuchProcess:
            continue
    return None


def test_the_api_and_the_embedded_redis_are_restarted_and_runs_complete(tmp_path):
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = tmp_path / "up.log"
    env = clean_env(REGLAB_DATA_DIR=str(tmp_path / "data"), REGLAB_DISPATCH_INTERVAL_S="0.5")
    stack, alive = start_up(port, env, log)
    tree: list[psutil.Process] = []

    try:
        wait_until(lambda: log_contains(log, f"RegLab is running: {url}/"), 180, "the dashboard URL", alive, every=0.5)
        broker_port = int(re.search(r"embedded redis-server at redis://127\.0\.0\.1:(\d+)/0", log.read_text()).group(1))
        streaming = submit(url, "trains through it all", training={"epochs": EPOCHS})["runs"][0]["id"]
        wait_until(lambda: get_run(url, streaming)["epoch"] >= 2, 180, "two epochs", alive)
        tree = descendants(stack.pid)

        # The API: killed while the worker streams epochs; it comes back on the same port and serves.
        api = child(stack.pid, "uvicorn")
        api.send_signal(signal.SIGKILL)
        wait_until(lambda: log_contains(log, "api restarted"), 30, "the API's restart", alive)
        assert "the API died (killed by SIGKILL); the worker keeps training" in log.read_text()
        wait_until(lambda: api_answers(url), 120, "the API to serve", alive)
        assert child(stack.pid, "uvicorn").pid != api.pid

        # The embedded Redis: killed, back on the same port (empty); the run still completes.
        redis = child(stack.pid, "redis-server")
        redis.send_signal(signal.SIGKILL)
        wait_until(lambda: log_contains(log, "redis restarted"), 30, "Redis's restart", alive)
        assert "the embedded Redis died (killed by SIGKILL)" in log.read_text()
        assert f"127.0.0.1:{broker_port}" in " ".join(child(stack.pid, "redis-server").cmdline())
        after = submit(url, "submitted after Redis came back")["runs"][0]["id"]
        tree = list({p.pid: p for p in [*tree, *descendants(stack.pid)]}.values())

        runs = wait_runs(url, [streaming, after], {"completed", "failed", "cancelled"}, 240, alive)
        assert [r["state"] for r in runs] == ["completed", "completed"], runs
        assert runs[0]["attempts"] == 1  # the worker never lost its run
        series = httpx.get(f"{url}/api/runs/{streaming}/metrics", timeout=10).json()["series"]
        for name in ("loss", "val_accuracy"):
            assert series[name]["x"] == list(range(EPOCHS)), name
    finally:
        stop_group(stack, signal.SIGTERM, 60)
    assert survivors(tree) == []
