"""`reglab up` with REGLAB_AUTH=all: its worker gets its own worker-scoped token, revoked on stop."""

import signal
import sqlite3
import sys

import httpx
import pytest

from tests.fixtures.services import free_port
from tests.stack.procs import clean_env, log_contains, start, stop_group, wait_until
from tests.stack.test_worker_restart import worker_process

pytestmark = pytest.mark.slow


def test_the_worker_of_reglab_up_gets_a_worker_token(tmp_path):
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = tmp_path / "up.log"
    env = clean_env(REGLAB_DATA_DIR=str(tmp_path / "data"), REGLAB_AUTH="all", REGLAB_TOKEN="rl_the_persons_own")
    stack = start([sys.executable, "-m", "reglab.cli.main", "up", "--port", str(port)], env, log)

    def alive() -> None:
        if stack.poll() is not None:
            raise AssertionError(f"reglab up exited with {stack.returncode}:\n{log.read_text()[-4000:]}")

    try:
        wait_until(lambda: log_contains(log, f"RegLab is running: {url}/"), 180, "the dashboard URL", alive, every=0.5)
        assert log_contains(log, "worker-scoped token")
        assert httpx.get(f"{url}/api/runs", timeout=10).status_code == 401
        worker = wait_until(lambda: worker_process(stack.pid), 30, "the worker process", alive)
        token = worker.environ()["REGLAB_TOKEN"]
        assert token != "rl_the_persons_own"
        session = httpx.get(f"{url}/api/session", headers={"Authorization": f"Bearer {token}"}, timeout=10).json()
        assert session["signed_in"] and session["scope"] == "worker" and session["name"].startswith("reglab up worker")
        refused = httpx.delete(f"{url}/api/runs/1", headers={"Authorization": f"Bearer {token}"}, timeout=10)
        assert refused.status_code == 403
    finally:
        stop_group(stack, signal.SIGTERM, timeout=60)
    with sqlite3.connect(tmp_path / "data" / "reglab.db") as db:
        rows = db.execute("SELECT scope, revoked_at FROM tokens").fetchall()
    assert len(rows) == 1 and rows[0][0] == "worker" and rows[0][1] is not None
