"""Benchmark the study analysis: the server-side time of a 256-run study's analysis, and grouped Compare in Chromium.

1. A 256-run study (16 conditions × 16 seeds, 50 epochs × 13 epoch metrics, 166,400
   points) is written straight into a fresh SQLite database; the analysis
   (GET /api/experiments/{id}/analysis's service call plus its JSON rendering) is
   timed in-process, and the statements on metric_series are counted (target: one).
2. A 100-run study in 10 groups is served by a real uvicorn; Chromium opens
   /compare?group=auto and the time from navigation to the grouped charts being
   drawn is measured (target ≤ 1 s).

    .venv/bin/python bench/analysis.py [--repeats 30] [--no-browser]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
# This checkout's backend, not whichever one the environment has installed.
sys.path.insert(0, str(ROOT))
ANALYSIS_TARGET_MS = 50.0
DRAW_TARGET_MS = 1000.0
EPOCH_METRICS = ("loss", "accuracy", "val_loss", "val_accuracy", "learning_rate", "epoch_time", "reg_loss",
                 "data_loss", "val_data_loss", "weight_l2", "sparsity", "max_col_norm", "val_reg_loss")


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def seed_study(grid: dict, name: str, epochs: int = 50) -> int:
    """An experiment with its runs through the service, then points and summaries written directly."""
    from backend.db import session_scope
    from backend.experiments.schemas import ExperimentCreate
    from backend.experiments.service import create_experiment
    from backend.metrics.service import write_points
    from backend.runs.models import Run

    base = {"dataset": {"name": "digits", "validation_samples": 300}, "training": {"epochs": epochs}}
    with session_scope() as session:
        experiment, _ = create_experiment(session, ExperimentCreate(name=name, base=base, grid=grid))
        runs = session.scalars(sa.select(Run).where(Run.experiment_id == experiment.id)).all()
        for run in runs:
            shift = run.spec["regularization"]["kernel_l2"] * 10 + random.random() * 0.02
            points = [
                {"name": m, "axis": "epoch", "x": e, "value": random.random() * 0.1 + shift + e / epochs, "t": e * 1.5}
                for e in range(epochs)
                for m in EPOCH_METRICS
            ]
            write_points(session, run.id, points)
            run.state, run.epoch, run.epoch_seconds = "completed", epochs, 1.5
            run.summary = {"best_val_accuracy": 0.8 + shift, "best_epoch": epochs - 3, "final_val_accuracy": 0.79 + shift,
                           "test_accuracy": 0.78 + shift, "final_accuracy": 0.9 + shift}
        session.commit()
        return experiment.id


def bench_analysis(repeats: int) -> None:
    from backend.analysis import service
    from backend.analysis.dense import read_dense
    from backend.db import get_engine, session_scope
    from backend.experiments.models import Experiment
    from backend.responses import dumps  # as the endpoint renders it
    from backend.runs.models import Run

    grid = {"regularization.kernel_l2": [0, 1e-4, 1e-3, 1e-2], "regularization.dropout": [0, 0.1, 0.2, 0.3],
            "training.seed": list(range(16))}
    started = time.perf_counter()
    experiment_id = seed_study(grid, "analysis bench")
    print(f"(seeded 256 runs × 50 epochs × {len(EPOCH_METRICS)} metrics in {time.perf_counter() - started:.1f} s)")

    statements: list[str] = []
    sa.event.listen(get_engine(), "before_cursor_execute", lambda *a: statements.append(a[2]))
    samples, cpu = [], []
    size = 0
    for i in range(repeats + 2):
        statements.clear()
        with session_scope() as session:
            experiment = session.get(Experiment, experiment_id)
            begin, begin_cpu = time.perf_counter(), time.process_time()
            result = service.experiment_analysis(session, experiment, metric="best_val_accuracy", baseline=None,
                                                 band="ci95")
            body = dumps(result)
            elapsed = (time.perf_counter() - begin) * 1000
            elapsed_cpu = (time.process_time() - begin_cpu) * 1000
        size = len(body)
        if i >= 2:
            samples.append(elapsed)
            cpu.append(elapsed_cpu)
    point_queries = [s for s in statements if "metric_series" in s]
    statement_count = len(statements)
    # Reading the points alone, the part the storage decides.
    reads = []
    with get_engine().connect() as connection:
        run_ids = connection.scalars(sa.select(Run.id).where(Run.experiment_id == experiment_id)).all()
        for _ in range(repeats):
            begin = time.perf_counter()
            read_dense(connection, run_ids)
            reads.append((time.perf_counter() - begin) * 1000)
    print(f"{'reading its 166,400 epoch points (read_dense)':<48} p50 {statistics.median(reads):6.1f} ms  "
          f"p95 {percentile(reads, 0.95):6.1f} ms")
    p50, p95 = statistics.median(samples), percentile(samples, 0.95)
    print(f"{'analysis of 256 runs (16 groups), server side':<48} p50 {p50:6.1f} ms  p95 {p95:6.1f} ms  "
          f"CPU p50 {statistics.median(cpu):6.1f} ms  target ≤ {ANALYSIS_TARGET_MS:.0f} ms: {p50 / ANALYSIS_TARGET_MS:.2f}×  "
          f"({len(point_queries)} query for the points, {statement_count} in all; {size / 1e6:.1f} MB of JSON)")


def bench_browser(data_dir: Path, env: dict[str, str], repeats: int) -> None:
    from playwright.sync_api import sync_playwright

    from backend.cli.processes import free_port, wait_for_api
    from backend.db import session_scope
    from backend.runs.models import Run

    grid = {"regularization.kernel_l2": [0, 1e-5, 3e-5, 1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 0.1],
            "training.seed": list(range(10))}
    experiment_id = seed_study(grid, "compare bench")
    with session_scope() as session:
        ids = session.scalars(sa.select(Run.id).where(Run.experiment_id == experiment_id).order_by(Run.id)).all()
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "backend.main:create_app", "--factory", "--port", str(port),
         "--log-level", "warning", "--no-access-log"],
        env=env, cwd=ROOT, stdout=(data_dir / "uvicorn.log").open("wb"), stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        if not wait_for_api(url, 60):
            raise SystemExit("server did not start")
        chromium = os.environ.get("REGLAB_CHROMIUM") or "/usr/bin/chromium"
        base_url = f"{url}/compare?run_ids={','.join(map(str, ids))}"
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox", "--disable-gpu"])
            context = browser.new_context(viewport={"width": 1400, "height": 1000})
            page = context.new_page()
            for label, page_url, kind in [
                ("grouped Compare of 100 runs in 10 groups, drawn", base_url + "&group=auto", "band"),
                ("(the same 100 runs ungrouped, for reference)", base_url, None),
            ]:
                samples, fetch_done = draw_times(page, page_url, kind, repeats)
                p50, p95 = statistics.median(samples), percentile(samples, 0.95)
                line = f"{label:<48} p50 {p50:6.0f} ms  p95 {p95:6.0f} ms  "
                if kind:
                    line += f"target ≤ {DRAW_TARGET_MS:.0f} ms: {p50 / DRAW_TARGET_MS:.2f}×  "
                print(line + f"(navigation → charts drawn; the data had arrived at p50 {statistics.median(fetch_done):.0f} ms)")
            browser.close()
    finally:
        proc.terminate()
        proc.wait(10)


def draw_times(page, page_url: str, kind: str | None, repeats: int) -> tuple[list[float], list[float]]:
    """Milliseconds from navigation to every chart holding its traces (of ``kind``), and to the data's arrival."""
    samples, fetch_done = [], []
    for i in range(repeats + 1):
        page.goto(page_url)
        page.wait_for_selector("body[data-ready='1']", timeout=60_000)
        drawn = page.evaluate("""(kind) => new Promise((resolve) => requestAnimationFrame(() => {
            const charts = [...document.querySelectorAll('.plot')];
            const ok = charts.length && charts.every((c) => c.data && c.data.some((t) => !kind || (t.meta && t.meta.kind === kind)));
            resolve(ok ? performance.now() : -1);
        }))""", kind)
        if drawn < 0:
            raise SystemExit(f"charts were not drawn on {page_url}")
        fetched = page.evaluate("""() => Math.max(...performance.getEntriesByType('resource')
            .filter((e) => e.name.includes('/api/compare')).map((e) => e.responseEnd))""")
        if i:  # the first load warms the caches
            samples.append(drawn)
            fetch_done.append(fetched)
    return samples, fetch_done


@contextlib.contextmanager
def scratch_database(server_url: str | None, tmp: str):
    """A SQLite file in ``tmp``, or a database created on ``server_url`` and dropped afterwards."""
    if server_url is None:
        yield f"sqlite:///{Path(tmp) / 'reglab.db'}"
        return
    name = f"reglab_bench_{os.getpid()}"
    admin = sa.create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield str(sa.engine.make_url(server_url).set(database=name).render_as_string(hide_password=False))
    finally:
        from backend.db import reset_engine_cache

        reset_engine_cache()
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--browser-repeats", type=int, default=7)
    parser.add_argument("--no-browser", action="store_true")
    parser.add_argument("--postgres", metavar="SERVER_URL",
                        help="run on a fresh database of this PostgreSQL server (e.g. postgresql+psycopg://127.0.0.1/postgres)")
    args = parser.parse_args()
    random.seed(1)
    with tempfile.TemporaryDirectory(prefix="reglab-bench-") as tmp, scratch_database(args.postgres, tmp) as url:
        data_dir = Path(tmp)
        env = {
            **os.environ,
            "REGLAB_DATA_DIR": str(data_dir),
            "REGLAB_DATABASE_URL": url,
            "REGLAB_REDIS_URL": "redis://127.0.0.1:9/0",
            "REGLAB_BROKER_TIMEOUT_S": "0.2",
            "REGLAB_DISPATCH_INTERVAL_S": "3600",
        }
        os.environ.update(env)
        from backend.db import reset_engine_cache
        from backend.migrate import upgrade_head
        from backend.settings import get_settings

        get_settings.cache_clear()
        reset_engine_cache()
        upgrade_head()
        print(f"RegLab analysis benchmark on {url.split(':')[0]}, {os.cpu_count()} CPUs")
        bench_analysis(args.repeats)
        if not args.no_browser:
            bench_browser(data_dir, env, args.browser_repeats)


if __name__ == "__main__":
    main()
