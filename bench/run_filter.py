"""The run filter: GET /api/runs?filter= over 10,000 runs, timed on SQLite and on PostgreSQL.

Each database is created fresh and migrated, one experiment with ``--runs`` runs
(full default specs, a summary with random metrics) is inserted in one
executemany, then the runs list's service function (filter compiled, count and
first page of 50 read, items built) is timed ``--repeat`` times per filter.
Target: p50 ≤ 50 ms on a metric.

    .venv/bin/python bench/run_filter.py [--runs 10000] [--repeat 30] [--postgres-url URL]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import sqlalchemy as sa  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from backend.experiments.models import Experiment  # noqa: E402
from backend.migrate import upgrade_head  # noqa: E402
from backend.runs import service  # noqa: E402
from backend.runs.models import Run  # noqa: E402
from reglab.spec import build_spec  # noqa: E402

TARGET_MS = 50.0
FILTERS = {
    "metric": "metrics.best_val_accuracy > 0.9",
    "metric and state": "metrics.best_val_accuracy > 0.9 and state = 'completed'",
    "spec field": "params.regularization.dropout >= 0.3",
}


def fill(engine: sa.Engine, runs: int) -> None:
    spec = build_spec({}).model_dump(mode="json")
    rng = random.Random(0)
    with engine.begin() as connection:
        (experiment_id,) = connection.execute(
            sa.insert(Experiment.__table__).returning(Experiment.id),
            {"name": "bench", "description": "", "tags": [], "base": spec, "grid": {}},
        ).one()
        rows = []
        for index in range(runs):
            run_spec = {**spec, "regularization": {**spec["regularization"], "dropout": round(rng.random() * 0.6, 2)}}
            rows.append({
                "experiment_id": experiment_id, "name": f"run {index}", "spec": run_spec,
                "state": "completed" if index % 4 else "failed", "epoch": 10, "epochs": 10,
                "summary": {"best_val_accuracy": rng.random(), "final_val_loss": rng.random()},
                "attempts": 1, "attempt_errors": [], "notes": "", "tags": [],
            })  # fmt: skip
        connection.execute(sa.insert(Run.__table__), rows)


def time_filters(engine: sa.Engine, repeat: int) -> dict[str, tuple[float, int]]:
    results = {}
    with Session(engine) as session:
        for label, expression in FILTERS.items():
            times = []
            for _ in range(repeat):
                start = time.perf_counter()
                page = service.list_runs(session, limit=50, offset=0, filter_text=expression)
                times.append((time.perf_counter() - start) * 1000)
            results[label] = (statistics.median(times), page["total"])
    return results


def run(url: str, label: str, runs: int, repeat: int) -> None:
    upgrade_head(url)
    engine = sa.create_engine(url)
    fill(engine, runs)
    for name, (p50, total) in time_filters(engine, repeat).items():
        verdict = "ok" if p50 <= TARGET_MS else "over"
        print(f"{label:10s} {name:18s} p50 {p50:6.1f} ms  ({total} of {runs} match; target ≤ {TARGET_MS:.0f} ms: {verdict})")
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--postgres-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--skip-postgres", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        run(f"sqlite:///{directory}/bench.db", "sqlite", args.runs, args.repeat)
    if args.skip_postgres:
        return
    name = f"reglab_bench_filter_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(args.postgres_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        url = sa.engine.make_url(args.postgres_url).set(database=name).render_as_string(hide_password=False)
        run(url, "postgresql", args.runs, args.repeat)
    finally:
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


if __name__ == "__main__":
    main()
