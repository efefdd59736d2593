"""Benchmark the REST API's store on SQLite: compare, ingest and list, against the issue's targets.

Starts a real ``uvicorn backend.main:create_app --factory`` on a fresh SQLite
database in a temporary directory and drives it over HTTP with one keep-alive
client, the way the dashboard and the workers do. Prints p50/p95 and the
ratio to each target (and to the MLflow 3.17 figures quoted in issue 2).

    .venv/bin/python bench/api_store.py [--database-url URL] [--list-runs 10000]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import sqlalchemy as sa

from backend.cli.processes import free_port, wait_for_api

ROOT = Path(__file__).resolve().parent.parent
COMPARE_TARGET_MS = 20.0
INGEST_TARGET_PPS = 6000.0
LIST_TARGET_MS = 100.0
MLFLOW_COMPARE_MS = 220.0
MLFLOW_INGEST_PPS = 500.0
METRICS = ("loss", "accuracy", "val_loss", "val_accuracy", "lr", "epoch_time")


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


class ServerCpu:
    """CPU seconds the server process has used: unlike wall time, other load on the machine barely moves it."""

    def __init__(self, pid: int):
        try:
            import psutil

            self._process = psutil.Process(pid)
        except ImportError:  # psutil comes with the [worker] extra; without it only wall times print
            self._process = None

    def seconds(self) -> float:
        if self._process is None:
            return math.nan
        times = self._process.cpu_times()
        return times.user + times.system


SERVER: ServerCpu


def timed(client: httpx.Client, url: str, repeats: int) -> tuple[list[float], float]:
    """Milliseconds per GET of ``url`` after two warm-up calls, and the server's CPU ms per request."""
    for _ in range(2):
        client.get(url).raise_for_status()
    samples = []
    cpu_before = SERVER.seconds()
    for _ in range(repeats):
        started = time.perf_counter()
        client.get(url).raise_for_status()
        samples.append((time.perf_counter() - started) * 1000)
    return samples, (SERVER.seconds() - cpu_before) * 1000 / repeats


def start_server(env: dict[str, str], log_path: Path, root: Path = ROOT) -> tuple[subprocess.Popen, str]:
    """A uvicorn serving the checkout at ``root`` (this one by default, another to time it on the same data)."""
    port = free_port()
    command = [sys.executable, "-m", "uvicorn", "backend.main:create_app", "--factory", "--port", str(port)]
    proc = subprocess.Popen(
        [*command, "--log-level", "warning", "--no-access-log"],
        env=env,
        cwd=root,
        stdout=log_path.open("wb"),
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    if wait_for_api(url, 60):
        return proc, url
    proc.kill()
    raise SystemExit(f"server did not start; see {log_path}")


def create_runs(client: httpx.Client, name: str, count: int, tags: list[str]) -> list[int]:
    body = {
        "name": name,
        "tags": tags,
        "base": {"training": {"epochs": 50}},
        "grid": {"training.seed": list(range(count))},
    }
    response = client.post("/api/experiments", json=body)
    response.raise_for_status()
    return [run["id"] for run in response.json()["runs"]]


def epoch_batch(epoch: int, steps: int) -> dict:
    points = [{"name": m, "axis": "epoch", "x": epoch, "value": random.random(), "t": epoch * 1.5} for m in METRICS]
    points += [
        {"name": "batch_loss", "axis": "step", "x": epoch * steps + s, "value": random.random(), "t": epoch * 1.5}
        for s in range(steps)
    ]
    return {"points": points}


def bench_ingest(client: httpx.Client, run_ids: list[int], epochs: int, steps: int) -> str:
    """Post one batch per (run, epoch); return a line with points/s (wall) and per server CPU second."""
    batches = [(run_id, epoch_batch(epoch, steps)) for epoch in range(epochs) for run_id in run_ids]
    cpu_before = SERVER.seconds()
    started = time.perf_counter()
    for run_id, batch in batches:
        client.post(f"/api/runs/{run_id}/metrics", json=batch).raise_for_status()
    elapsed = time.perf_counter() - started
    points = len(batches) * len(batches[0][1]["points"])
    pps, cpu_pps = points / elapsed, points / (SERVER.seconds() - cpu_before)
    return (
        f"{pps:8.0f} points/s ({len(batches)} POSTs of {points // len(batches)}, {len(batches) / elapsed:.0f} req/s; "
        f"{cpu_pps:.0f} points per server CPU s)  target ≥ {INGEST_TARGET_PPS:.0f}: {pps / INGEST_TARGET_PPS:.2f}×"
    )


def seed_summaries(database_url: str) -> None:
    """Write a summary and progress on every run, as workers would, in one statement."""
    engine = sa.create_engine(database_url)
    summary = {
        "best_val_loss": 0.31,
        "best_val_accuracy": 0.89,
        "final_loss": 0.25,
        "test_accuracy": 0.88,
        "epochs_run": 50,
    }
    with engine.begin() as connection:
        connection.execute(
            sa.text("UPDATE runs SET state = 'completed', epoch = 50, summary = :summary"),
            {"summary": json.dumps(summary)},
        )
    engine.dispose()


def report(
    label: str, measured: tuple[list[float], float], target: float | None = None, mlflow: float | None = None
) -> None:
    samples, cpu_ms = measured
    p50, p95 = statistics.median(samples), percentile(samples, 0.95)
    line = f"{label:<46} p50 {p50:6.2f} ms  p95 {p95:6.2f} ms  server CPU {cpu_ms:5.2f} ms/req"
    if target:
        line += f"  target ≤ {target:.0f} ms: {p50 / target:.2f}×"
    if mlflow:
        line += f"  MLflow/RegLab {mlflow / p50:.1f}×"
    print(line)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", help="default: a fresh SQLite file in a temporary directory")
    parser.add_argument("--list-runs", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=100)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="reglab-bench-") as tmp:
        data_dir = Path(tmp)
        database_url = args.database_url or f"sqlite:///{data_dir / 'reglab.db'}"
        env = {
            **os.environ,
            "REGLAB_DATA_DIR": str(data_dir),
            "REGLAB_DATABASE_URL": database_url,
            # A closed port: nothing is queued for workers that are not there; submissions still succeed.
            "REGLAB_REDIS_URL": f"redis://127.0.0.1:{free_port()}/0",
            "REGLAB_DISPATCH_INTERVAL_S": "3600",
        }
        proc, url = start_server(env, data_dir / "uvicorn.log")
        global SERVER
        SERVER = ServerCpu(proc.pid)
        try:
            with httpx.Client(base_url=url, timeout=60) as client:
                print(
                    f"RegLab API store benchmark on {database_url.split(':')[0]}, "
                    f"uvicorn at {url}, {os.cpu_count()} CPUs"
                )
                random.seed(1)
                compare_ids = create_runs(client, "compare", 20, ["bench"])

                line = bench_ingest(client, compare_ids, epochs=50, steps=0)
                print(f"{'ingest: 20 runs × 50 epochs, 6 epoch metrics/batch':<52} {line}")
                for steps in (6, 18, 200):
                    step_ids = create_runs(client, f"steps {steps}", 4, ["bench"])
                    line = bench_ingest(client, step_ids, epochs=25, steps=steps)
                    print(f"{f'ingest: 6 epoch metrics + {steps} step points/batch':<52} {line}")
                empty, empty_cpu = timed(client, "/api/spec/datasets", 300)
                print(
                    f"{'floor: a GET that touches nothing':<52} {1000 / statistics.median(empty):8.0f} req/s "
                    f"(server CPU {empty_cpu:.2f} ms/req)"
                )
                print(f"(MLflow 3.17 on this machine, per issue 2: ingest ~{MLFLOW_INGEST_PPS:.0f} points/s)")

                run_ids = ",".join(map(str, compare_ids))
                names = ",".join(METRICS)
                samples = timed(client, f"/api/compare?run_ids={run_ids}&names={names}", args.repeats)
                report("compare: 20 runs × 6 metrics × 50 epochs", samples, COMPARE_TARGET_MS, MLFLOW_COMPARE_MS)
                samples = timed(client, f"/api/runs/{compare_ids[0]}/metrics", args.repeats)
                report("metrics of one run (6 × 50 points)", samples)
                samples = timed(client, f"/api/runs/{step_ids[0]}/metrics?max_points=1000", args.repeats)
                report("metrics of one run, 5000 step points → 1000", samples)

                started = time.perf_counter()
                made, index = len(compare_ids) + len(step_ids), 0
                while made < args.list_runs:
                    count = min(250, args.list_runs - made)
                    create_runs(client, f"bulk {index}", count, ["bulk", f"group{index % 4}"])
                    made, index = made + count, index + 1
                seed_summaries(database_url)
                print(f"(seeded {made} runs through POST /api/experiments in {time.perf_counter() - started:.1f} s)")

                middle, last = (made // 2 // 50) * 50, max(made - 50, 0)
                for label, path in [
                    (f"list {made} runs: first page of 50", "/api/runs?limit=50"),
                    (f"list: a middle page (offset {middle})", f"/api/runs?limit=50&offset={middle}"),
                    (f"list: last page (offset {last})", f"/api/runs?limit=50&offset={last}"),
                    ("list: tag filter", "/api/runs?limit=50&tag=group2"),
                    ("list: state + text filter", "/api/runs?limit=50&state=completed&q=seed%3D7"),
                    ("list: page of 500", "/api/runs?limit=500"),
                ]:
                    report(label, timed(client, path, args.repeats), LIST_TARGET_MS)
        finally:
            proc.terminate()
            proc.wait(10)


if __name__ == "__main__":
    main()
