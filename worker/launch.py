"""The command line a training worker starts with: `reglab worker`, `reglab up` and the worker image share it."""

from __future__ import annotations

import sys


def worker_argv(queue: str, concurrency: int, hostname: str, loglevel: str = "INFO") -> list[str]:
    """Celery consuming ``queue`` with the worker's tasks."""
    # One run per process: solo keeps TensorFlow in the main process; several
    # runs side by side (e.g. small runs sharing a GPU) use forked pool processes.
    pool = ["--pool=solo"] if concurrency == 1 else ["--pool=prefork", f"--concurrency={concurrency}"]
    return [
        sys.executable, "-m", "celery", "-A", "worker.app", "worker",
        "-Q", queue, "-n", hostname, f"--loglevel={loglevel}", *pool,
    ]  # fmt: skip
