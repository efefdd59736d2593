"""Raw (not downsampled) export of 10 runs × 20,000 steps × 2 metrics = 400,000 points.

Starts a real uvicorn on a fresh SQLite file (or ``--database-url``), ingests
the points over HTTP in 1,000-point batches, then times, over one keep-alive
client, the whole body of: the Arrow IPC export, the CSV export, and the raw
JSON of GET /api/compare (max_points past the series' length). Prints p50 wall
time, the server's CPU per request and the body size (target: Arrow ≤ 300 ms).

    .venv/bin/python bench/export_raw.py [--runs 10] [--steps 20000] [--database-url URL]
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from api_store import ServerCpu, free_port, start_server  # noqa: E402  (after the path)

ARROW_TARGET_MS = 300.0
METRICS = ("batch_loss", "batch_learning_rate")


def ingest(client: httpx.Client, run_ids: list[int], steps: int) -> None:
    for run_id in run_ids:
        for first in range(0, steps, 500):
            points = [
                {"name": name, "axis": "step", "x": x, "value": math.sin(x / 50) + run_id / 100, "t": x * 0.01}
                for x in range(first, min(first + 500, steps)) for name in METRICS
            ]
            client.post(f"/api/runs/{run_id}/metrics", json={"points": points}).raise_for_status()


def timed(client: httpx.Client, server: ServerCpu, url: str, params: dict, repeats: int) -> tuple[float, float, int]:
    """p50 ms of fetching the whole body, server CPU ms per request, body bytes."""
    size = len(client.get(url, params=params).raise_for_status().content)  # warm-up
    samples = []
    cpu_before = server.seconds()
    for _ in range(repeats):
        started = time.perf_counter()
        client.get(url, params=params).raise_for_status().read()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples), (server.seconds() - cpu_before) * 1000 / repeats, size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--steps", type=int, default=20_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--database-url", help="default: a fresh SQLite file in a temporary directory")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="reglab-bench-") as tmp:
        data_dir = Path(tmp)
        database_url = args.database_url or f"sqlite:///{data_dir / 'reglab.db'}"
        env = {**os.environ, "REGLAB_DATA_DIR": str(data_dir), "REGLAB_DATABASE_URL": database_url,
               # A closed port: nothing is queued for workers that are not there.
               "REGLAB_REDIS_URL": f"redis://127.0.0.1:{free_port()}/0", "REGLAB_DISPATCH_INTERVAL_S": "3600"}
        proc, url = start_server(env, data_dir / "uvicorn.log")
        server = ServerCpu(proc.pid)
        try:
            with httpx.Client(base_url=url, timeout=120) as client:
                body = {"name": "export", "base": {"dataset": {"name": "digits", "validation_samples": 200}},
                        "grid": {"training.seed": list(range(args.runs))}}
                run_ids = [run["id"] for run in client.post("/api/experiments", json=body).raise_for_status().json()["runs"]]
                started = time.perf_counter()
                ingest(client, run_ids, args.steps)
                points = len(run_ids) * args.steps * len(METRICS)
                print(f"raw export of {points:,} points ({args.runs} runs × {args.steps:,} steps × {len(METRICS)}) on "
                      f"{database_url.split(':')[0]}; ingested in {time.perf_counter() - started:.1f} s")
                ids = ",".join(map(str, run_ids))
                for label, path, params in [
                    ("Arrow IPC  GET /api/compare/export?format=arrow", "/api/compare/export", {"run_ids": ids, "format": "arrow"}),
                    ("CSV        GET /api/compare/csv", "/api/compare/csv", {"run_ids": ids}),
                    ("JSON       GET /api/compare?max_points=100000", "/api/compare", {"run_ids": ids, "names": ",".join(METRICS), "max_points": 100_000}),
                ]:
                    p50, cpu_ms, size = timed(client, server, path, params, args.repeats)
                    line = f"{label:<50} p50 {p50:7.0f} ms  server CPU {cpu_ms:6.0f} ms  {size / 1e6:5.1f} MB ({size / points:.1f} B/point)"
                    if "arrow" in path + str(params):
                        line += f"  target ≤ {ARROW_TARGET_MS:.0f} ms: {'met' if p50 <= ARROW_TARGET_MS else 'not met'}"
                    print(line)
        finally:
            proc.terminate()
            proc.wait(10)


if __name__ == "__main__":
    main()
