"""Server CPU per per-epoch ingest request over HTTP: the trainer's epoch write against the plain metrics POST.

Starts the API (uvicorn, one process) on a fresh SQLite database, or on
``--postgres URL`` (a server whose databases it may create), creates runs,
claims them through the trainer API and sends epochs as a worker does, one
request per epoch: ``POST /api/trainer/runs/{id}/epoch`` (attempt guard,
progress, upsert and the live publish) and, for comparison,
``POST /api/runs/{id}/metrics`` (upsert only). Server CPU is read from
``/proc`` around each phase (psutil), so client time does not count.

Run: ``.venv/bin/python bench/trainer_ingest.py [--postgres postgresql+psycopg://postgres@127.0.0.1/postgres]``
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
    return parser.parse_args()


def server_cpu(pid: int) -> float:
    import psutil

    process = psutil.Process(pid)
    total = sum(process.cpu_times()[:2])
    for child in process.children(recursive=True):
        total += sum(child.cpu_times()[:2])
    return total


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
         "--port", str(port), "--log-level", "warning"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        if not wait_for_api(url, 60, lambda: None):
            raise SystemExit("the API did not start")
        time.sleep(3)  # the startup migration's CPU must not count
        http = httpx.Client(base_url=url, timeout=30)
        base = {"dataset": {"name": "digits", "validation_samples": 300, "train_samples": 200}}
        study = http.post("/api/experiments", json={"name": "ingest", "base": base,
                                                    "grid": {"training.seed": list(range(1, 2 * args.runs + 1))}})  # fmt: skip
        run_ids = [run["id"] for run in study.json()["runs"]]
        trainer_runs, metric_runs = run_ids[: args.runs], run_ids[args.runs :]
        for run_id in trainer_runs:
            http.post(f"/api/trainer/runs/{run_id}/claim", json={"worker_host": "bench"}).raise_for_status()

        def epoch_points(epoch: int, steps: int) -> list[dict]:
            names = ("loss", "accuracy", "val_loss", "val_accuracy", "learning_rate", "epoch_time")
            points = [{"name": n, "axis": "epoch", "x": epoch, "value": 0.5, "t": float(epoch)} for n in names]
            for step in range(epoch * steps, (epoch + 1) * steps):
                points += [{"name": n, "axis": "step", "x": step, "value": 0.4, "t": float(epoch)}
                           for n in ("batch_loss", "batch_learning_rate")]  # fmt: skip
            return points

        print(f"database: {'PostgreSQL' if args.postgres else 'SQLite'}; {args.runs} runs x {args.epochs} epochs per phase")
        for label, steps in (("6 points (epoch metrics)", 0), ("206 points (6 epoch + 2 x 100 steps)", 100)):
            for path in ("trainer", "metrics"):
                requests = 0
                before = server_cpu(proc.pid)
                started = time.perf_counter()
                for epoch in range(args.epochs):
                    for index in range(args.runs):
                        points = epoch_points(epoch, steps)
                        if path == "trainer":
                            body = {"attempt": 1, "points": points, "progress": {"epoch": epoch + 1, "epoch_seconds": 1.0}}
                            response = http.post(f"/api/trainer/runs/{trainer_runs[index]}/epoch", json=body)
                        else:
                            response = http.post(f"/api/runs/{metric_runs[index]}/metrics", json={"points": points})
                        response.raise_for_status()
                        requests += 1
                wall = time.perf_counter() - started
                cpu = server_cpu(proc.pid) - before
                route = "POST /api/trainer/runs/{id}/epoch" if path == "trainer" else "POST /api/runs/{id}/metrics"
                per_point = cpu / (requests * len(points)) * 1e6
                print(f"  {label:38} {route:36} server CPU {cpu / requests * 1000:6.2f} ms/request, "
                      f"{per_point:6.1f} µs/point; {requests / wall:5.0f} requests/s")
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
