"""`reglab up` with real processes: a SIGKILLed worker (as the OOM killer sends it) is restarted
while the API and Redis stay up, and its run resumes from its checkpoint at once; a worker that
keeps dying stops the stack, saying why, with nothing left behind."""

import signal
import time

import httpx
import psutil
import pytest

from tests.fixtures.services import free_port
from tests.stack.procs import (
    clean_env,
    descendants,
    get_run,
    log_contains,
    start_up,
    stop_group,
    submit,
    survivors,
    wait_until,
)

pytestmark = pytest.mark.slow


def worker_process(stack_pid: int, not_pid: int | None = None) -> psutil.Process | None:
    """The Celery worker `reglab up` started (its direct child), other than ``not_pid``."""
    for proc in descendants(stack_pid):
        try:
            if proc.ppid() == stack_pid and "celery" in " ".join(proc.cmdline()) and proc.pid != not_pid:
                return proc
        except psutil.NoSuchProcess:
            continue
    return None


def test_a_killed_worker_is_restarted_and_a_worker_that_keeps_dying_stops_the_stack(tmp_path):
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = tmp_path / "up.log"
    env = clean_env(
        REGLAB_DATA_DIR=str(tmp_path / "data"), REGLAB_CHECKPOINT_INTERVAL_S="0", REGLAB_DISPATCH_INTERVAL_S="0.5"
    )
    stack, alive = start_up(port, env, log)
    tree: list[psutil.Process] = []

    try:
        wait_until(lambda: log_contains(log, f"RegLab is running: {url}/"), 180, "the dashboard URL", alive, every=0.5)
        run_id = submit(url, "survives a worker crash", training={"epochs": 500})["runs"][0]["id"]
        wait_until(lambda: get_run(url, run_id)["epoch"] >= 2, 180, "two epochs", alive)
        tree = descendants(stack.pid)
        first = worker_process(stack.pid)
        first.send_signal(signal.SIGKILL)
        killed_at_epoch = get_run(url, run_id)["epoch"]

        # The API answers throughout, and the run is back in training without anyone asking.
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not log_contains(log, "worker restarted"):
            assert httpx.get(f"{url}/api/health", timeout=5).status_code == 200
            time.sleep(0.2)
        out = log.read_text()
        assert "the worker died (killed by SIGKILL); 1 run(s) re-queued" in out and "restarting it now" in out
        run = wait_until(
            lambda: (r := get_run(url, run_id))["state"] == "running" and r["epoch"] > killed_at_epoch and r,
            180, "the run to resume and train on", alive,
        )  # fmt: skip
        assert run["attempts"] == 2 and run["attempt_errors"][0].startswith(
            "attempt 1: the worker process died (killed by SIGKILL)"
        )
        worker_log = tmp_path / "data" / "logs" / "worker.log"
        assert log_contains(worker_log, f"run {run_id}: resuming from its checkpoint after epoch")
        tree = list({p.pid: p for p in [*tree, *descendants(stack.pid)]}.values())

        # Now it keeps dying: 5 deaths within a minute stop everything, saying why.
        proc = worker_process(stack.pid)
        for _ in range(6):
            tree.append(proc)
            proc.send_signal(signal.SIGKILL)
            killed = proc.pid
            proc = wait_until(lambda: stack.poll() is not None or worker_process(stack.pid, killed), 60, "a new worker")
            if proc is True:
                break
        stack.wait(60)
        out = log.read_text()
        assert stack.returncode == 1, out[-3000:]
        assert "the worker died 5 times within 60 s (the last time killed by SIGKILL); stopping RegLab" in out
        assert "stopped" in out.splitlines()[-1]
    finally:
        stop_group(stack, signal.SIGTERM, 60)
    assert survivors(tree) == []
