"""Benchmark long step series (issue 13): downsampled and zoomed reads, ingest CPU per point, bytes per point.

Starts a real ``uvicorn backend.main:create_app --factory`` (one process) on a
fresh SQLite file, or a fresh database on ``--postgres URL`` (a server whose
databases it may create), and drives it over HTTP with one keep-alive client:

1. ingest 10 runs × 20,000 steps × 2 metrics in 1,000-point POSTs: the server's
   CPU per point (target ≤ 5 µs) and wall points/s;
2. GET /api/compare of the 10 runs to 1,000 and to 320 points per series
   (targets p50 ≤ 50 ms and ≤ 20 ms), and zoomed to a 500-step window;
3. stored bytes per step point (target ≤ 10);
4. with ``--long`` (default 1,000,000): 10 more runs of that many steps, written
   in-process (HTTP would take minutes), read over HTTP to 1,000 points (≤ 100 ms).

    .venv/bin/python bench/step_series.py [--postgres postgresql+psycopg://postgres@127.0.0.1/postgres] [--long 0]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx
import numpy as np
import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent))
from api_store import ServerCpu, percentile, start_server  # noqa: E402

from backend.cli.processes import free_port  # noqa: E402

RUNS, STEPS, METRICS = 10, 20_000, ("batch_loss", "batch_learning_rate")
BATCH = 1000


def create_runs(client: httpx.Client, name: str, count: int) -> list[int]:
    body = {"name": name, "base": {"training": {"epochs": 50}}, "grid": {"training.seed": list(range(count))}}
    response = client.post("/api/experiments", json=body)
    response.raise_for_status()
    return [run["id"] for run in response.json()["runs"]]


def timed(client: httpx.Client, server: ServerCpu, url: str, repeats: int) -> str:
    for _ in range(2):
        client.get(url).raise_for_status()
    samples, cpu = [], server.seconds()
    for _ in range(repeats):
        started = time.perf_counter()
        response = client.get(url)
        samples.append((time.perf_counter() - started) * 1000)
    response.raise_for_status()
    cpu_ms = (server.seconds() - cpu) * 1000 / repeats
    series = response.json()["series"]
    drawn = max(len(s["x"]) for by_key in series.values() for s in by_key.values())
    return (f"p50 {statistics.median(samples):7.1f} ms  p95 {percentile(samples, 0.95):7.1f} ms  "
            f"server CPU {cpu_ms:6.1f} ms/req  ≤ {drawn} points/series, {len(response.content) / 1e3:.0f} kB")  # fmt: skip


def stored_bytes(database_url: str, data_dir: Path, vacuum: bool = False) -> int:
    """Bytes of the point tables (PostgreSQL, with TOAST and indexes) or of the SQLite file.

    ``vacuum``: first reclaim the dead versions that rewriting a block leaves behind
    (autovacuum does it in time on PostgreSQL; SQLite reuses its free pages).
    """
    engine = sa.create_engine(database_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        if database_url.startswith("postgresql"):
            tables = [t for t in ("metric_blocks", "metric_series")
                      if conn.scalar(sa.text("SELECT to_regclass(:t)"), {"t": t}) is not None]  # fmt: skip
            for table in tables if vacuum else ():
                conn.execute(sa.text(f"VACUUM FULL {table}"))
            size = sum(conn.scalar(sa.text("SELECT pg_total_relation_size(:t)"), {"t": t}) for t in tables)
        else:
            if vacuum:
                conn.exec_driver_sql("VACUUM")
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
            size = sum(p.stat().st_size for p in data_dir.glob("bench.db*"))
    engine.dispose()
    return size


def write_long(database_url: str, run_ids: list[int], steps: int) -> float:
    """Write ``steps`` points of one series per run in-process; seconds of CPU per point."""
    from backend.metrics.step_store import write_steps

    engine = sa.create_engine(database_url)
    rng = np.random.default_rng(0)
    cpu = time.process_time()
    for run_id in run_ids:
        for start in range(0, steps, 200_000):
            x = np.arange(start, min(steps, start + 200_000))
            y = np.cos(x / 5000) + rng.normal(0, 0.05, len(x))
            with engine.begin() as conn:
                write_steps(conn, run_id, ["batch_loss"] * len(x), x, y, x / 100.0)
    engine.dispose()
    return (time.process_time() - cpu) / (len(run_ids) * steps)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres", help="PostgreSQL server URL (default: SQLite)")
    parser.add_argument("--long", type=int, default=1_000_000, help="steps of the 10 long runs (0: skip)")
    parser.add_argument("--repeats", type=int, default=30)
    args = parser.parse_args()

    data_dir = Path(tempfile.mkdtemp(prefix="reglab-steps-"))
    database_url = f"sqlite:///{data_dir / 'bench.db'}"
    admin = None
    if args.postgres:
        name = f"reglab_steps_{uuid.uuid4().hex[:8]}"
        admin = sa.create_engine(args.postgres, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        database_url = sa.engine.make_url(args.postgres).set(database=name).render_as_string(hide_password=False)
    env = {**os.environ, "REGLAB_DATA_DIR": str(data_dir), "REGLAB_DATABASE_URL": database_url,
           "REGLAB_REDIS_URL": f"redis://127.0.0.1:{free_port()}/0", "REGLAB_DISPATCH_INTERVAL_S": "3600",
           "NO_PROXY": "127.0.0.1", "no_proxy": "127.0.0.1"}  # fmt: skip
    proc, url = start_server(env, data_dir / "uvicorn.log")
    server = ServerCpu(proc.pid)
    try:
        with httpx.Client(base_url=url, timeout=120) as client:
            print(f"step series benchmark on {'PostgreSQL' if args.postgres else 'SQLite'}, {os.cpu_count()} CPUs")
            ids = create_runs(client, "steps", RUNS)
            before = stored_bytes(database_url, data_dir, vacuum=True)
            rng = np.random.default_rng(1)
            bodies = []
            for run_id in ids:
                for name in METRICS:
                    y = np.cos(np.arange(STEPS) / 700) + rng.normal(0, 0.05, STEPS)
                    for start in range(0, STEPS, BATCH):
                        points = [{"name": name, "axis": "step", "x": x, "value": float(y[x]), "t": x * 0.01}
                                  for x in range(start, start + BATCH)]  # fmt: skip
                        bodies.append((run_id, {"points": points}))
            cpu, started = server.seconds(), time.perf_counter()
            for run_id, body in bodies:
                client.post(f"/api/runs/{run_id}/metrics", json=body).raise_for_status()
            wall, cpu = time.perf_counter() - started, server.seconds() - cpu
            points = len(bodies) * BATCH
            print(f"ingest {len(bodies)} POSTs of {BATCH} step points: {cpu / points * 1e6:.1f} µs server CPU/point "
                  f"(target ≤ 5), {points / wall:,.0f} points/s wall")  # fmt: skip
            size = stored_bytes(database_url, data_dir) - before
            compact = stored_bytes(database_url, data_dir, vacuum=True) - before
            print(f"stored: {compact / points:.2f} bytes per step point after VACUUM (target ≤ 10), {size / points:.2f} "
                  f"as written ({compact / 1e6:.1f} MB for {points:,})")  # fmt: skip
            run_ids = ",".join(map(str, ids))
            for max_points, target in ((1000, 50), (320, 20)):
                line = timed(client, server, f"/api/compare?run_ids={run_ids}&max_points={max_points}", args.repeats)
                print(f"compare {RUNS} × {STEPS:,} × 2 to {max_points:>4}: {line}  (target ≤ {target} ms)")
            line = timed(client, server, f"/api/compare?run_ids={run_ids}&max_points=1000&x_min=12000&x_max=12499",
                         args.repeats)  # fmt: skip
            print(f"compare {RUNS} runs zoomed to 500 steps: {line}")
            if args.long:
                long_ids = create_runs(client, "long", RUNS)
                per_point = write_long(database_url, long_ids, args.long)
                print(f"wrote {RUNS} × {args.long:,} steps in-process: {per_point * 1e6:.2f} µs CPU/point")
                long_list = ",".join(map(str, long_ids))
                line = timed(client, server, f"/api/compare?run_ids={long_list}&max_points=1000", args.repeats)
                print(f"compare {RUNS} × {args.long:,} to 1000: {line}  (target ≤ 100 ms)")
    finally:
        proc.terminate()
        proc.wait(30)
        shutil.rmtree(data_dir, ignore_errors=True)
        if admin is not None:
            with admin.connect() as conn:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()


if __name__ == "__main__":
    main()
