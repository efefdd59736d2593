"""What a search study adds to each run: the next run's start, the tell at a run's end, the ask ahead, and a pruner's check per epoch.

In-process on a fresh SQLite database (or ``--postgres URL``, a server whose
databases it may create), migrated as the API does. A TPE study over three
fields runs ``--trials`` trials one at a time: each run is marked completed
(not timed) and :func:`backend.search.coordinator.step_study` is timed, in its
parts: :func:`~backend.search.coordinator.start_trials` stores the next run
from the trial asked ahead (what a run's start waits for), then, once the run
was sent, :func:`~backend.search.coordinator.settle_study` tells Optuna the
finished run's result (the run's end) and asks the next trial ahead (off both
paths). A grid study with a median pruner then times
:func:`backend.search.pruning.report_epoch` (report + should_prune) per epoch.

Run: ``.venv/bin/python bench/search_overhead.py [--postgres postgresql+psycopg://postgres@127.0.0.1/postgres]``
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

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres", default=None, help="PostgreSQL server URL (default: SQLite)")
    parser.add_argument("--trials", type=int, default=60)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--runs", type=int, default=8, help="Grid runs of the pruned study")
    return parser.parse_args()


def figures(samples: list[float], cpu: list[float] | None = None) -> str:
    ms = sorted(s * 1000 for s in samples)
    p95 = ms[min(len(ms) - 1, int(0.95 * len(ms)))]
    # CPU time of the timed thread: the load of a shared machine barely moves it.
    used = f", CPU p50 {statistics.median(cpu) * 1000:.1f} ms" if cpu else ""
    return f"p50 {statistics.median(ms):.1f} ms, p95 {p95:.1f} ms, max {ms[-1]:.1f} ms{used} (n={len(ms)})"


def main() -> None:
    args = parse_args()
    data_dir = Path(tempfile.mkdtemp(prefix="reglab-search-bench-"))
    url = f"sqlite:///{data_dir / 'bench.db'}"
    admin = name = None
    if args.postgres:
        import sqlalchemy as sa

        name = f"reglab_search_{uuid.uuid4().hex[:8]}"
        admin = sa.create_engine(args.postgres, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        url = sa.engine.make_url(args.postgres).set(database=name).render_as_string(hide_password=False)
    os.environ.update(REGLAB_DATABASE_URL=url, REGLAB_DATA_DIR=str(data_dir))
    try:
        run_bench(args, url)
    finally:
        if admin is not None:
            from backend.db import get_engine

            get_engine().dispose()
            with admin.connect() as conn:
                conn.execute(__import__("sqlalchemy").text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def run_bench(args: argparse.Namespace, url: str) -> None:
    from sqlalchemy import select, update

    from backend.db import session_scope
    from backend.experiments.schemas import ExperimentCreate
    from backend.experiments.service import create_experiment
    from backend.migrate import upgrade_head
    from backend.runs.models import Run
    from backend.search.coordinator import step_study
    from backend.search.pruning import report_epoch

    import optuna

    from backend.search import coordinator

    upgrade_head(url)
    # Time the tell (a run's end) and the ask (the next run's start) inside each step, too.
    timed: dict[str, list[float]] = {"tell": [], "ask": [], "start": []}

    def timing(name, function):
        def wrapper(*a, **k):
            started, cpu = time.perf_counter(), time.thread_time()
            try:
                return function(*a, **k)
            finally:
                timed[name].append(time.perf_counter() - started)
                cpu_used[name].append(time.thread_time() - cpu)

        return wrapper

    cpu_used: dict[str, list[float]] = {name: [] for name in timed}
    coordinator.tell = timing("tell", coordinator.tell)
    optuna.study.Study.ask = timing("ask", optuna.study.Study.ask)
    coordinator.start_trials = timing("start", coordinator.start_trials)
    body = ExperimentCreate.model_validate({
        "name": "bench", "search": {
            "method": "tpe", "trials": args.trials, "parallel": 1, "seed": 0,
            "space": {"regularization.kernel_l2": {"log_uniform": [1e-6, 1e-1]},
                      "regularization.dropout": {"uniform": [0, 0.6]}, "optimizer.name": {"choice": ["nadam", "sgd"]}},
        },
    })  # fmt: skip
    with session_scope() as session:
        experiment, _ = create_experiment(session, body)
    step_study(experiment.id)
    per_run, per_run_cpu = [], []
    for i in range(args.trials - 1):
        with session_scope() as session:
            session.execute(update(Run).where(Run.experiment_id == experiment.id, Run.state == "queued")
                            .values(state="completed", summary={"best_val_accuracy": 0.5 + (i % 7) / 20}))  # fmt: skip
        started, cpu = time.perf_counter(), time.thread_time()
        created = step_study(experiment.id)
        per_run.append(time.perf_counter() - started)
        per_run_cpu.append(time.thread_time() - cpu)
        assert len(created) == 1
    print(f"{'PostgreSQL' if url.startswith('postgresql') else 'SQLite'}, TPE over 3 fields, {args.trials} trials")
    print(f"  the whole step (start, tell, ask ahead), per run: {figures(per_run, per_run_cpu)}")
    print(f"  the next run's start (stored from the trial asked ahead): {figures(timed['start'][1:], cpu_used['start'][1:])}")
    print(f"  Optuna's tell (the run's end): {figures(timed['tell'], cpu_used['tell'])}")
    print(f"  Optuna's ask with TPE sampling, ahead (after the start, off both paths): {figures(timed['ask'], cpu_used['ask'])}")
    print(f"  first 10 runs: {figures(per_run[:10])}; last 10: {figures(per_run[-10:])}")

    grid = ExperimentCreate.model_validate({
        "name": "pruned", "grid": {"training.seed": list(range(args.runs))}, "pruner": {"name": "median", "n_startup_trials": 1000},
    })  # fmt: skip
    with session_scope() as session:
        pruned, _ = create_experiment(session, grid)
        run_ids = list(session.scalars(select(Run.id).where(Run.experiment_id == pruned.id)))
    per_epoch, per_epoch_cpu = [], []
    for run_id in run_ids:
        for epoch in range(args.epochs):
            points = [{"name": "val_accuracy", "axis": "epoch", "x": epoch, "value": 0.5 + epoch / 100}]
            started, cpu = time.perf_counter(), time.thread_time()
            report_epoch(run_id, points)
            per_epoch.append(time.perf_counter() - started)
            per_epoch_cpu.append(time.thread_time() - cpu)
    print(f"  median pruner, report + should_prune per epoch ({args.runs} runs × {args.epochs} epochs): {figures(per_epoch, per_epoch_cpu)}")


if __name__ == "__main__":
    main()
