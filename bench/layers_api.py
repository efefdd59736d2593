"""Benchmark the layer endpoints: GET /api/compare/layers for 20 runs × 100 layers × 50 snapshots, one run's
GET /api/runs/{id}/layers, and the bytes a layer-snapshot takes on disk, on SQLite and PostgreSQL.

Snapshots are built from random arrays with the contract's histogram edges and written through the
store (backend/layers/store.py); the endpoints are timed in-process (service call plus the orjson
rendering the route does), each the median of ``--repeats`` calls.

    .venv/bin/python bench/layers_api.py [--repeats 20] [--postgres postgresql+psycopg://postgres@127.0.0.1:5432/postgres]
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

import numpy as np
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
RUNS, LAYERS, SNAPSHOTS = 20, 100, 50
COMPARE_TARGET_MS, RUN_TARGET_MS, BYTES_TARGET = 50.0, 20.0, 2048
QUANTILES = (0, 6.68, 15.87, 30.85, 50, 69.15, 84.13, 93.32, 100)


def stats(x: np.ndarray, kind: str) -> dict:
    peak = float(np.abs(x).max())
    m = 2.0 ** np.ceil(np.log2(peak)) if peak > 0 else 2.0**-20
    edges = np.linspace(0.0 if x.min() >= 0 else -m, 0.0 if x.max() <= 0 else m, 65)
    out = {"mean": float(x.mean()), "std": float(x.std()), "l2": float(np.linalg.norm(x)), "abs_max": peak,
           "zero_fraction": float(((np.abs(x) < 1e-3) if kind == "weights" else (x == 0)).mean()),
           "quantiles": np.percentile(x, QUANTILES).tolist(),
           "hist": {"edges": edges.tolist(), "counts": np.histogram(x, edges)[0].tolist()}}  # fmt: skip
    if kind == "weights":
        out["max_col_norm"] = float(np.linalg.norm(x, axis=0).max())
    return out


def layers_of(rng: np.random.Generator, scale: float) -> dict:
    # A 100-layer net of 64 units: kernels 64 × 64, activations of a 256-example probe batch.
    return {f"dense_{i}": {"weights": stats(rng.normal(0, scale / 8, (64, 64)), "weights"),
                           "activations": stats(np.maximum(rng.normal(0, 1, (256, 64)), 0), "activations"),
                           "gradients": stats(rng.normal(0, 1e-3 * (i + 1), (64, 64)), "gradients")}
            for i in range(LAYERS)}  # fmt: skip


def seed(url: str) -> list[int]:
    from backend.db import get_engine, session_scope
    from backend.experiments.schemas import ExperimentCreate
    from backend.experiments.service import create_experiment
    from backend.layers import store
    from backend.runs.models import Run

    base = {"dataset": {"name": "digits", "validation_samples": 300}, "training": {"epochs": SNAPSHOTS}}
    grid = {"regularization.kernel_l2": [0, 1e-3], "training.seed": list(range(RUNS // 2))}
    with session_scope() as session:
        experiment, _ = create_experiment(session, ExperimentCreate(name="layers", base=base, grid=grid))
        run_ids = list(session.scalars(sa.select(Run.id).where(Run.experiment_id == experiment.id).order_by(Run.id)))
    rng = np.random.default_rng(0)
    # A few distinct snapshots reused: building 1,000 from arrays would dominate the run.
    pool = [layers_of(rng, scale) for scale in (0.5, 1.0, 2.0, 4.0)]
    descriptions = [{"index": i, "name": f"dense_{i}", "type": "Dense", "units": 64, "activation": "relu",
                     "params": 64 * 65} for i in range(LAYERS)]  # fmt: skip
    with get_engine().begin() as connection:
        for k, run_id in enumerate(run_ids):
            snaps = [{"epoch": e, "layers": pool[(k + e) % len(pool)]} for e in range(-1, SNAPSHOTS - 1)]
            store.write_snapshots(connection, run_id, snaps, descriptions)
    return run_ids


def on_disk(url: str) -> float:
    """Bytes per layer-snapshot of the layer_snapshots table on disk (rows, pages, TOAST and index)."""
    from backend.db import get_engine

    engine = get_engine()
    with engine.connect() as connection:
        if engine.dialect.name == "postgresql":
            size = connection.scalar(sa.text("SELECT pg_total_relation_size('layer_snapshots')"))
        else:
            size = connection.scalar(sa.text("SELECT SUM(pgsize) FROM dbstat WHERE name IN "
                                             "('layer_snapshots', 'sqlite_autoindex_layer_snapshots_1')"))  # fmt: skip
    return size / (RUNS * SNAPSHOTS * LAYERS)


def timed(call, repeats: int) -> float:
    from backend.responses import dumps  # as the routes render

    call()  # warm: the first call compiles the statements
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        dumps(call())
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def bench(url: str, label: str, repeats: int) -> None:
    from backend.db import reset_engine_cache
    from backend.layers import compare, service
    from backend.migrate import upgrade_head
    from backend.settings import get_settings

    os.environ["REGLAB_DATABASE_URL"] = url
    get_settings.cache_clear()
    reset_engine_cache()
    upgrade_head(url)
    run_ids = seed(url)
    per_snapshot = on_disk(url)
    compare_ms = timed(lambda: compare.compare_layers(run_ids, "last", "weights", "std", "none"), repeats)
    grouped_ms = timed(lambda: compare.compare_layers(run_ids, "last", "gradients", "l2", "auto"), repeats)
    run_ms = timed(lambda: service.run_layers(run_ids[0], None), repeats)
    epoch_ms = timed(lambda: service.run_layers(run_ids[0], [10]), repeats)
    print(f"{label}: bytes per layer-snapshot on disk {per_snapshot:.0f} (target ≤ {BYTES_TARGET})")
    print(f"{label}: /api/compare/layers 20 runs p50 {compare_ms:.1f} ms, group_by=auto {grouped_ms:.1f} ms "
          f"(target ≤ {COMPARE_TARGET_MS:.0f})")
    print(f"{label}: /api/runs/{{id}}/layers all 50 snapshots p50 {run_ms:.1f} ms (target ≤ {RUN_TARGET_MS:.0f}); "
          f"one epoch {epoch_ms:.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--postgres", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        bench(f"sqlite:///{tmp}/bench.db", "SQLite", args.repeats)
    name = f"reglab_bench_layers_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(args.postgres, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        bench(sa.engine.make_url(args.postgres).set(database=name).render_as_string(hide_password=False), "PostgreSQL",
              args.repeats)
    finally:
        from backend.db import reset_engine_cache

        reset_engine_cache()
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


if __name__ == "__main__":
    main()
