"""Server CPU per per-epoch ingest request over HTTP: the trainer's epoch write against the plain metrics POST.

Starts the API (uvicorn, one process) on a fresh SQLite database, or on
``--postgres URL`` (a server whose databases it may create), creates runs,
claims them through the trainer API and sends epochs as a worker does, one
request per epoch: ``POST /api/trainer/runs/{id}/epoch`` (attempt guard,
progress, upsert and the live publish) and, for comparison,
``POST /api/runs/{id}/metrics`` (upsert only). Each phase writes runs of its
own, so every epoch is appended as in training. Server CPU is read from
``/proc`` around each phase (psutil, the server's processes together), so
client time does not count; latency is per request, as the client sees it.

``--workers N`` starts uvicorn with N worker processes; a last phase sends
6-point metrics POSTs from ``--clients`` threads at once (throughput and latency
under concurrency), so 1 and 4 workers compare side by side.

Run: ``.venv/bin/python bench/trainer_ingest.py [--postgres postgresql+psycopg://postgres@127.0.0.1/postgres] [--workers 4]``
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres", default=None, help="PostgreSQL server URL (default: SQLite)")
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--epochs", type=int, default=50)
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    parser.add_argument("--clients", type=int, default=8, help="concurrent clients of the last phase")
    return parser.parse_args()


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def server_cpu(pid: int) -> float:
    import psutil

    process = psutil.Process(pid)
    total = sum(process.cpu_times()[:2])
    for child in process.children(recursive=True):
        total += sum(child.cpu_times()[:2])
    return total


def settle(pid: int, limit_s: float = 120) -> None:
    """Wait until the server's processes use under 5% of a CPU for two seconds running."""
    quiet, deadline = 0, time.monotonic() + limit_s
    while quiet < 2 and time.monotonic() < deadline:
        before = server_cpu(pid)
        time.sleep(1)
        quiet = quiet + 1 if server_cpu(pid) - before < 0.05 else 0


def concurrent(url: str, runs: list[int], epochs: int, epoch_points, pid: int) -> None:
    """6-point metrics POSTs from one client thread per run at once: throughput and latency under concurrency."""
    import threading

    import httpx

    latencies: list[float] = []

    def client(run_id: int) -> None:
        with httpx.Client(base_url=url, timeout=30) as http:
            for epoch in range(epochs):
                sent = time.perf_counter()
                http.post(f"/api/runs/{run_id}/metrics", json={"points": epoch_points(epoch, 0)}).raise_for_status()
                latencies.append(time.perf_counter() - sent)

    threads = [threading.Thread(target=client, args=(run_id,)) for run_id in runs]
    before = server_cpu(pid)
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    cpu = server_cpu(pid) - before
    print(f"  {len(runs)} clients at once, 6 points a request        POST /api/runs/{{id}}/metrics      server CPU "
          f"{cpu / len(latencies) * 1000:6.2f} ms/request; {len(latencies) / wall:5.0f} requests/s "
          f"({6 * len(latencies) / wall:,.0f} points/s), latency p50 {percentile(latencies, 0.5) * 1000:.1f} ms, "
          f"p95 {percentile(latencies, 0.95) * 1000:.1f} ms")


def main() -> None:
    args = parse_args()
    import httpx

    from backend.cli.processes import free_port, wait_for_api

    data_dir = Path(tempfile.mkdtemp(prefix="reglab-ingest-"))
    database = f"sqlite:///{data_dir / 'bench.db'}"
    admin = None
    if args.postgres:
        import sqlalchemy as sa

        name = f"reglab_ingest_{uuid.uuid4().hex[:8]}"
        admin = sa.create_engine(args.postgres, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        database = sa.engine.make_url(args.postgres).set(database=name).render_as_string(hide_password=False)
    port = free_port()
    tag = uuid.uuid4().hex[:8]
    env = {**os.environ, "REGLAB_DATA_DIR": str(data_dir), "REGLAB_DATABASE_URL": database,
           "REGLAB_TRAIN_QUEUE": f"bench-nobody-{tag}", "REGLAB_CHANNEL_PREFIX": f"reglab-ingest-{tag}",
           "REGLAB_MAX_RUNS_PER_EXPERIMENT": "2000", "NO_PROXY": "127.0.0.1", "no_proxy": "127.0.0.1"}  # fmt: skip
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "backend.main:create_app", "--factory", "--host", "127.0.0.1",
         "--port", str(port), "--log-level", "warning", "--workers", str(args.workers)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        if not wait_for_api(url, 180, lambda: None):
            raise SystemExit("the API did not start")
        settle(proc.pid)  # the startup (every worker's imports and migration check) must not count
        http = httpx.Client(base_url=url, timeout=30)
        base = {"dataset": {"name": "digits", "validation_samples": 300, "train_samples": 200}}
        # Trainer and metrics runs for each of the two phases, and metrics runs for the concurrent one.
        phases = (("6 points (epoch metrics)", 0), ("206 points (6 epoch + 2 x 100 steps)", 100))
        count = 2 * len(phases) * args.runs + args.clients
        study = http.post("/api/experiments", json={"name": "ingest", "base": base,
                                                    "grid": {"training.seed": list(range(1, count + 1))}})  # fmt: skip
        run_ids = iter(run["id"] for run in study.json()["runs"])

        def take(n: int) -> list[int]:
            return [next(run_ids) for _ in range(n)]

        def epoch_points(epoch: int, steps: int) -> list[dict]:
            names = ("loss", "accuracy", "val_loss", "val_accuracy", "learning_rate", "epoch_time")
            points = [{"name": n, "axis": "epoch", "x": epoch, "value": 0.5, "t": float(epoch)} for n in names]
            for step in range(epoch * steps, (epoch + 1) * steps):
                points += [{"name": n, "axis": "step", "x": step, "value": 0.4, "t": float(epoch)}
                           for n in ("batch_loss", "batch_learning_rate")]  # fmt: skip
            return points

        print(f"database: {'PostgreSQL' if args.postgres else 'SQLite'}; uvicorn workers: {args.workers}; "
              f"{args.runs} runs x {args.epochs} epochs per phase")
        for label, steps in phases:
            for path in ("trainer", "metrics"):
                runs = take(args.runs)
                if path == "trainer":
                    for run_id in runs:
                        http.post(f"/api/trainer/runs/{run_id}/claim", json={"worker_host": "bench"}).raise_for_status()
                latencies = []
                before = server_cpu(proc.pid)
                started = time.perf_counter()
                for epoch in range(args.epochs):
                    for run_id in runs:
                        points = epoch_points(epoch, steps)
                        sent = time.perf_counter()
                        if path == "trainer":
                            body = {"attempt": 1, "points": points, "progress": {"epoch": epoch + 1, "epoch_seconds": 1.0}}
                            response = http.post(f"/api/trainer/runs/{run_id}/epoch", json=body)
                        else:
                            response = http.post(f"/api/runs/{run_id}/metrics", json={"points": points})
                        latencies.append(time.perf_counter() - sent)
                        response.raise_for_status()
                wall = time.perf_counter() - started
                cpu = server_cpu(proc.pid) - before
                requests = len(latencies)
                route = "POST /api/trainer/runs/{id}/epoch" if path == "trainer" else "POST /api/runs/{id}/metrics"
                per_point = cpu / (requests * len(points)) * 1e6
                print(f"  {label:38} {route:36} server CPU {cpu / requests * 1000:6.2f} ms/request, "
                      f"{per_point:6.1f} µs/point; {requests / wall:5.0f} requests/s, latency p50 "
                      f"{percentile(latencies, 0.5) * 1000:.1f} ms, p95 {percentile(latencies, 0.95) * 1000:.1f} ms")
        concurrent(url, take(args.clients), args.epochs, epoch_points, proc.pid)
    finally:
        proc.terminate()
        proc.wait(10)
        if admin is not None:
            import sqlalchemy as sa

            with admin.connect() as conn:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        try:
            import redis

            redis.Redis.from_url(os.environ.get("REGLAB_REDIS_URL", "redis://127.0.0.1:6379/0")).delete(f"bench-nobody-{tag}")
        except Exception:
            pass


if __name__ == "__main__":
    main()
