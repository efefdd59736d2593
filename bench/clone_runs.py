"""Run creation: clones run by run (one request each) and in batches, and a 256-run grid in one request.

Starts a real uvicorn on a fresh SQLite file (or ``--database-url``) with a
real Redis (``REGLAB_REDIS_URL``, else 127.0.0.1:6379) on its own channel
prefix and queue, so every clone is announced and sent to the broker as in
production; the queue is dropped afterwards (no worker reads it). Prints
runs/s over one keep-alive client, the server's CPU per clone, and the grid's
wall time (targets: ≥ 300 clones/s, grid < 0.5 s).

    .venv/bin/python bench/clone_runs.py [--clones 600] [--database-url URL]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx
import redis

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from api_store import ServerCpu, start_server  # noqa: E402  (after the path)

CLONE_TARGET = 300.0
GRID_TARGET_S = 0.5


def overrides(index: int) -> dict:
    # As the shared tracking workload does: a different seed and l2 per clone.
    return {"regularization": {"kernel_l2": 1e-4 * (1 + index % 7)}, "training": {"seed": index, "epochs": 20}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clones", type=int, default=640)
    parser.add_argument("--database-url", help="default: a fresh SQLite file in a temporary directory")
    args = parser.parse_args()
    redis_url = os.environ.get("REGLAB_REDIS_URL", "redis://127.0.0.1:6379/0")
    tag = uuid.uuid4().hex[:8]
    queue = f"bench-clone-{tag}"
    with tempfile.TemporaryDirectory(prefix="reglab-bench-") as tmp:
        data_dir = Path(tmp)
        database_url = args.database_url or f"sqlite:///{data_dir / 'reglab.db'}"
        env = {**os.environ, "REGLAB_DATA_DIR": str(data_dir), "REGLAB_DATABASE_URL": database_url,
               "REGLAB_REDIS_URL": redis_url, "REGLAB_CHANNEL_PREFIX": f"reglab-bench-{tag}",
               "REGLAB_TRAIN_QUEUE": queue, "REGLAB_DISPATCH_INTERVAL_S": "3600", "REGLAB_MAX_RUNS_PER_EXPERIMENT": "10000"}
        proc, url = start_server(env, data_dir / "uvicorn.log")
        server = ServerCpu(proc.pid)
        try:
            with httpx.Client(base_url=url, timeout=60) as client:
                print(f"run creation on {database_url.split(':')[0]}, Redis {redis_url}, {os.cpu_count()} CPUs")
                body = {"name": "clones", "base": {"dataset": {"name": "digits", "validation_samples": 200}}}
                template = client.post("/api/experiments", json=body).raise_for_status().json()["runs"][0]["id"]
                for index in range(10):  # warm-up
                    client.post(f"/api/runs/{template}/clone", json=overrides(index)).raise_for_status()
                cpu_before = server.seconds()
                started = time.perf_counter()
                for index in range(args.clones):
                    client.post(f"/api/runs/{template}/clone", json=overrides(index)).raise_for_status()
                elapsed = time.perf_counter() - started
                cpu_ms = (server.seconds() - cpu_before) * 1000 / args.clones
                rate = args.clones / elapsed
                print(f"clone run by run: {args.clones} clones, {rate:.0f} runs/s, server CPU {cpu_ms:.2f} ms/clone "
                      f"(target ≥ {CLONE_TARGET:.0f}: {'met' if rate >= CLONE_TARGET else 'not met'})")
                batch = 64
                cpu_before = server.seconds()
                started = time.perf_counter()
                for first in range(0, args.clones, batch):
                    clones = [{"run_id": template, "overrides": overrides(i)} for i in range(first, min(first + batch, args.clones))]
                    client.post("/api/runs/clone", json={"clones": clones}).raise_for_status()
                elapsed = time.perf_counter() - started
                cpu_ms = (server.seconds() - cpu_before) * 1000 / args.clones
                rate = args.clones / elapsed
                print(f"clone in batches of {batch} (POST /api/runs/clone): {rate:.0f} runs/s, server CPU {cpu_ms:.2f} ms/clone "
                      f"(target ≥ {CLONE_TARGET:.0f}: {'met' if rate >= CLONE_TARGET else 'not met'})")
                grids = []
                for repeat in range(5):
                    grid = {"name": f"grid {repeat}", "base": {"dataset": {"name": "digits", "validation_samples": 200}},
                            "grid": {"training.seed": list(range(16)), "regularization.dropout": [i / 20 for i in range(16)]}}
                    started = time.perf_counter()
                    made = client.post("/api/experiments", json=grid).raise_for_status().json()
                    grids.append(time.perf_counter() - started)
                    assert len(made["runs"]) == 256
                print(f"256-run grid in one request: median {statistics.median(grids):.3f} s, max {max(grids):.3f} s "
                      f"(target < {GRID_TARGET_S} s)")
        finally:
            proc.terminate()
            proc.wait(10)
            client = redis.Redis.from_url(redis_url)
            client.delete(queue, f"_kombu.binding.{queue}", f"_kombu.binding_permanent.{queue}")
            client.close()


if __name__ == "__main__":
    main()
