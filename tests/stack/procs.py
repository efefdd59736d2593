"""Helpers for tests that start whole process trees: start, wait, stop, and check nothing survives."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import psutil

ROOT = Path(__file__).resolve().parents[2]

# A run small enough for 2 shared cores: a few seconds once TensorFlow is loaded.
TINY_SPEC = {
    "dataset": {"name": "digits", "validation_samples": 200},
    "model": {"hidden_layers": [16]},
    "training": {"epochs": 2},
    "evaluation": {"test_set": True},
}


def clean_env(**overrides: str) -> dict[str, str]:
    """This environment without any REGLAB_* setting (so nothing leaks from the test session), plus ``overrides``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("REGLAB_")}
    env.update({"CUDA_VISIBLE_DEVICES": "", "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONUNBUFFERED": "1"})
    env.update(overrides)
    return env


def start(argv: list[str], env: dict[str, str], log_path: Path, cwd: Path = ROOT) -> subprocess.Popen:
    """Start ``argv`` in its own process group, output to ``log_path``."""
    log = open(log_path, "ab")
    try:
        return subprocess.Popen(argv, env=env, cwd=cwd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    finally:
        log.close()


def wait_until(condition: Callable[[], Any], timeout: float, what: str, check: Callable[[], None] | None = None, every: float = 0.2):
    """Poll ``condition`` until truthy; ``check`` may raise early (e.g. a process died)."""
    deadline = time.monotonic() + timeout
    while True:
        if check:
            check()
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(every)


def alive_check(procs: dict[str, subprocess.Popen], logs: dict[str, Path]) -> Callable[[], None]:
    def check() -> None:
        for name, proc in procs.items():
            if proc.poll() is not None:
                tail = logs[name].read_text(errors="replace")[-3000:] if name in logs else ""
                raise AssertionError(f"{name} exited with {proc.returncode}:\n{tail}")

    return check


def start_up(port: int, env: dict[str, str], log_path: Path) -> tuple[subprocess.Popen, Callable[[], None]]:
    """``reglab up`` on ``port``, and the check that fails (with its log's tail) once it has exited."""
    import sys

    stack = start([sys.executable, "-m", "reglab.cli.main", "up", "--port", str(port)], env, log_path)
    return stack, alive_check({"reglab up": stack}, {"reglab up": log_path})


def log_contains(path: Path, text: str) -> bool:
    try:
        return text in path.read_text(errors="replace")
    except OSError:
        return False


def submit(url: str, name: str, grid: dict | None = None, **spec_overrides) -> dict[str, Any]:
    base = {**TINY_SPEC, **spec_overrides}
    response = httpx.post(f"{url}/api/experiments", json={"name": name, "base": base, "grid": grid or {}}, timeout=30)
    assert response.status_code == 201, response.text
    return response.json()


def get_run(url: str, run_id: int) -> dict[str, Any]:
    response = httpx.get(f"{url}/api/runs/{run_id}", timeout=10)
    response.raise_for_status()
    return response.json()


def wait_runs(url: str, run_ids: list[int], states: set[str], timeout: float, check=None) -> list[dict[str, Any]]:
    def reached():
        runs = [get_run(url, run_id) for run_id in run_ids]
        return runs if all(run["state"] in states for run in runs) else None

    return wait_until(reached, timeout, f"runs {run_ids} to reach {sorted(states)}", check, every=0.5)


def descendants(pid: int) -> list[psutil.Process]:
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def survivors(processes: list[psutil.Process]) -> list[str]:
    """The processes of ``processes`` still running (same pid and start time, not a zombie)."""
    left = []
    for proc in processes:
        try:
            if proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE:
                left.append(f"{proc.pid} {' '.join(proc.cmdline())[:120]}")
        except psutil.NoSuchProcess:
            pass
    return left


def stop_group(proc: subprocess.Popen, sig: int = signal.SIGTERM, timeout: float = 30.0) -> None:
    """Signal ``proc`` (the leader only), wait, then kill whatever is left of its group."""
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    try:
        proc.wait(5)
    except subprocess.TimeoutExpired:
        pass


def celery_node(name: str) -> str:
    """A Celery node name as ``-n name@%h`` expands on this machine."""
    import socket

    return f"{name}@{socket.gethostname()}"


def worker_answers(redis_url: str, node: str) -> bool:
    """Whether the Celery worker ``node`` consumes from the broker (answers a control ping)."""
    from celery import Celery

    app = Celery("reglab-test-ping", broker=redis_url, set_as_current=False)
    try:
        return bool(app.control.ping(destination=[node], timeout=1.0))
    except Exception:
        return False
    finally:
        app.close()
