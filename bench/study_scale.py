"""Benchmark a 1,000-run study: compare, the Runs page and the analysis over HTTP, and the database's size.

A study of 1,000 runs (10 conditions × 100 seeds), each with 50 epochs × 13
epoch metrics and 20,000 steps × 2 step metrics (40,650 points a run, 40.65 M
in all), is written in-process into a
fresh database (PostgreSQL by default, the production shape); then a real
uvicorn (one process) serves it and one keep-alive client times:

- compare of 20 runs picked at random, every series, steps downsampled to
  1,000 points (target p50 ≤ 50 ms);
- the Runs page's first page of the study (target ≤ 20 ms);
- the study analysis (target ≤ 100 ms).

    .venv/bin/python bench/study_scale.py [--postgres postgresql+psycopg://postgres@127.0.0.1/postgres] [--sqlite]

To compare two checkouts on the same data, back to back: ``--keep NAME`` seeds
the PostgreSQL database NAME once and keeps it; a later run with the same
``--keep NAME`` times it again without seeding, and ``--root PATH`` serves it
from another checkout (e.g. an export of the previous commit).
"""

from __future__ import annotations

import argparse
import os
import random
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
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from analysis import EPOCH_METRICS  # noqa: E402
from api_store import ServerCpu, percentile, start_server  # noqa: E402

CONDITIONS = [0, 1e-5, 3e-5, 1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 0.1]
EPOCHS, STEPS, STEP_METRICS = 50, 20_000, ("batch_loss", "batch_learning_rate")


def seed(seeds: int) -> tuple[int, list[int], float]:
    """The study through the service, then its points and summaries written directly; (experiment, run ids, seconds)."""
    from backend.db import get_engine, session_scope
    from backend.experiments.schemas import ExperimentCreate
    from backend.experiments.service import create_experiment
    from backend.metrics.service import write_points
    from backend.metrics.step_store import write_steps
    from backend.runs.models import Run

    started = time.perf_counter()
    base = {"dataset": {"name": "digits", "validation_samples": 300}, "training": {"epochs": EPOCHS}}
    grid = {"regularization.kernel_l2": CONDITIONS, "training.seed": list(range(seeds))}
    with session_scope() as session:
        experiment, _ = create_experiment(session, ExperimentCreate(name="scale", base=base, grid=grid))
        experiment_id = experiment.id
    with session_scope() as session:
        runs = session.execute(sa.select(Run.id, Run.spec).where(Run.experiment_id == experiment_id)).all()
    rng = np.random.default_rng(0)
    x = np.arange(STEPS)
    engine = get_engine()
    for run_id, spec in runs:
        shift = spec["regularization"]["kernel_l2"] * 10 + random.random() * 0.02
        points = [
            {"name": m, "axis": "epoch", "x": e, "value": random.random() * 0.1 + shift + e / EPOCHS, "t": e * 1.5}
            for e in range(EPOCHS)
            for m in EPOCH_METRICS
        ]
        with engine.begin() as connection:
            write_points(connection, run_id, points)
            for name in STEP_METRICS:
                y = np.cos(x / 700) + rng.normal(0, 0.05, STEPS)
                write_steps(connection, run_id, [name] * STEPS, x, y, x * 0.01)
            connection.execute(
                sa.update(Run).where(Run.id == run_id).values(
                    state="completed", epoch=EPOCHS, epoch_seconds=1.5,
                    summary={"best_val_accuracy": 0.8 + shift, "best_epoch": EPOCHS - 3, "final_val_accuracy": 0.79 + shift,
                             "test_accuracy": 0.78 + shift, "final_accuracy": 0.9 + shift},
                )
            )  # fmt: skip
    return experiment_id, [run_id for run_id, _ in runs], time.perf_counter() - started


def _kept_study(url: str) -> tuple[int, list[int]] | None:
    """The experiment and run ids of a study seeded earlier into ``url`` (``--keep``), if it is complete."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as connection:
            experiment_id = connection.scalar(sa.text("SELECT max(id) FROM experiments WHERE name = 'scale'"))
            if experiment_id is None:
                return None
            run_ids = connection.scalars(
                sa.text("SELECT id FROM runs WHERE experiment_id = :e AND state = 'completed' ORDER BY id"), {"e": experiment_id}
            ).all()
    except sa.exc.ProgrammingError:  # no tables yet
        return None
    finally:
        engine.dispose()
    return (experiment_id, list(run_ids)) if run_ids else None


def database_bytes(url: str, data_dir: Path) -> int:
    engine = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        if url.startswith("postgresql"):
            connection.execute(sa.text("VACUUM ANALYZE"))
            size = connection.scalar(sa.text("SELECT pg_database_size(current_database())"))
        else:
            connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
            size = sum(p.stat().st_size for p in data_dir.glob("reglab.db*"))
    engine.dispose()
    return size


def timed(client: httpx.Client, server: ServerCpu, urls: list[str], repeats: int) -> str:
    for url in urls[:2]:
        client.get(url).raise_for_status()
    samples, cpu = [], server.seconds()
    for i in range(repeats):
        started = time.perf_counter()
        response = client.get(urls[i % len(urls)])
        samples.append((time.perf_counter() - started) * 1000)
        response.raise_for_status()
    cpu_ms = (server.seconds() - cpu) * 1000 / repeats
    return (f"p50 {statistics.median(samples):7.1f} ms  p95 {percentile(samples, 0.95):7.1f} ms  "
            f"server CPU {cpu_ms:6.1f} ms/req, {len(response.content) / 1e3:,.0f} kB")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres",
                        help="a PostgreSQL server whose databases the bench may create")  # fmt: skip
    parser.add_argument("--sqlite", action="store_true", help="a fresh SQLite file instead")
    parser.add_argument("--seeds", type=int, default=100, help="seeds per condition (10 conditions)")
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--keep", metavar="NAME", help="seed this PostgreSQL database once and keep it for later runs")
    parser.add_argument("--root", type=Path, default=None, help="serve from this checkout instead of this one")
    args = parser.parse_args()
    random.seed(1)
    data_dir = Path(tempfile.mkdtemp(prefix="reglab-scale-"))
    admin = name = None
    seeded = False
    if args.sqlite:
        url = f"sqlite:///{data_dir / 'reglab.db'}"
    else:
        name = args.keep or f"reglab_scale_{uuid.uuid4().hex[:8]}"
        admin = sa.create_engine(args.postgres, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            exists = connection.scalar(sa.text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name})
            if not exists:
                connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
        url = sa.engine.make_url(args.postgres).set(database=name).render_as_string(hide_password=False)
        seeded = bool(exists) and _kept_study(url) is not None
    env = {"REGLAB_DATA_DIR": str(data_dir), "REGLAB_DATABASE_URL": url, "REGLAB_REDIS_URL": "redis://127.0.0.1:9/0",
           "REGLAB_BROKER_TIMEOUT_S": "0.2", "REGLAB_DISPATCH_INTERVAL_S": "3600",
           "REGLAB_MAX_RUNS_PER_EXPERIMENT": "2000", "NO_PROXY": "127.0.0.1", "no_proxy": "127.0.0.1"}  # fmt: skip
    os.environ.update(env)
    proc = None
    try:
        from backend.migrate import upgrade_head

        if seeded:
            experiment_id, run_ids = _kept_study(url)
            print(f"{len(run_ids)}-run study kept in {name}, {os.cpu_count()} CPUs, served from {args.root or 'this checkout'}")
        else:
            upgrade_head()
            experiment_id, run_ids, seconds = seed(args.seeds)
            size = database_bytes(url, data_dir)
            stored = len(run_ids) * (EPOCHS * len(EPOCH_METRICS) + STEPS * len(STEP_METRICS))
            print(f"{len(run_ids)}-run study on {url.split(':')[0]}, {os.cpu_count()} CPUs: {stored:,} points written "
                  f"in {seconds:.0f} s; database {size / 1e6:,.0f} MB ({size / stored:.1f} bytes per point)")  # fmt: skip
        root = args.root.resolve() if args.root else Path(__file__).resolve().parent.parent
        proc, base_url = start_server({**os.environ, **env}, data_dir / "uvicorn.log", root)
        server = ServerCpu(proc.pid)
        with httpx.Client(base_url=base_url, timeout=120) as client:
            picks = [",".join(map(str, random.sample(run_ids, 20))) for _ in range(args.repeats)]
            compares = [f"/api/compare?run_ids={ids}&max_points=1000" for ids in picks]
            print(f"compare 20 runs of {len(run_ids)} (13 epoch + 2 step series each): "
                  f"{timed(client, server, compares, args.repeats)}  (target ≤ 50 ms)")  # fmt: skip
            runs_page = [f"/api/runs?experiment_id={experiment_id}"]
            print(f"Runs page, first page: {timed(client, server, runs_page, args.repeats)}  (target ≤ 20 ms)")
            analysis = [f"/api/experiments/{experiment_id}/analysis"]
            print(f"study analysis of {len(run_ids)} runs: {timed(client, server, analysis, args.repeats)}"
                  "  (target ≤ 100 ms)")  # fmt: skip
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(30)
        if admin is not None and not args.keep:
            from backend.db import reset_engine_cache

            reset_engine_cache()
            with admin.connect() as connection:
                connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()


if __name__ == "__main__":
    main()
