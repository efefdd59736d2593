"""Benchmark the study report: size and server-side build time of a 256-run study's report.

A 256-run study (16 conditions × 16 seeds, 50 epochs × 13 epoch metrics, written
straight into a fresh SQLite database by bench/analysis.py's seeding) is reported
in-process: GET /api/experiments/{id}/report's service call and template, timed
(target ≤ 2 s), and the file's size measured (target ≤ 5 MB). The first build also
packs Plotly.js once per process; it is timed apart.

    .venv/bin/python bench/report.py [--repeats 10] [--postgres SERVER_URL]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from analysis import scratch_database, seed_study  # noqa: E402

SIZE_TARGET_MB = 5.0
BUILD_TARGET_S = 2.0


def build(experiment_id: int) -> str:
    from backend.db import session_scope
    from backend.experiments.models import Experiment
    from backend.report import service, template

    with session_scope() as session:
        experiment = session.get(Experiment, experiment_id)
        data = service.report_data(session, experiment, metric="best_val_accuracy", baseline=None, band="ci95")
    return template.render(data)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--postgres", metavar="SERVER_URL", help="run on a fresh database of this PostgreSQL server")
    args = parser.parse_args()
    random.seed(1)
    with tempfile.TemporaryDirectory(prefix="reglab-bench-") as tmp, scratch_database(args.postgres, tmp) as url:
        os.environ.update({"REGLAB_DATA_DIR": tmp, "REGLAB_DATABASE_URL": url, "REGLAB_REDIS_URL": "redis://127.0.0.1:9/0",
                           "REGLAB_BROKER_TIMEOUT_S": "0.2", "REGLAB_DISPATCH_INTERVAL_S": "3600"})
        from backend.db import reset_engine_cache
        from backend.migrate import upgrade_head
        from backend.settings import get_settings

        get_settings.cache_clear()
        reset_engine_cache()
        upgrade_head()
        grid = {"regularization.kernel_l2": [0.0, 1e-4, 3e-4, 1e-3], "regularization.dropout": [0.0, 0.1, 0.2, 0.3],
                "training.seed": list(range(1, 17))}
        experiment_id = seed_study(grid, "report bench")
        started = time.perf_counter()
        first = build(experiment_id)
        cold = time.perf_counter() - started
        times = []
        for _ in range(args.repeats):
            started = time.perf_counter()
            page = build(experiment_id)
            times.append(time.perf_counter() - started)
        size_mb = len(page.encode("utf-8")) / 1e6
        data_mb = len(page.split('id="report-data">')[1].split("</script>")[0]) / 1e6
        print(f"RegLab report benchmark on {url.split(':')[0]}, {os.cpu_count()} CPUs, 256 runs × 50 epochs × 13 series")
        print(f"report size: {size_mb:.2f} MB (target ≤ {SIZE_TARGET_MB} MB); data JSON "
              f"{data_mb:.2f} MB")
        print(f"build p50 {statistics.median(times):.2f} s, max {max(times):.2f} s over {args.repeats} "
              f"(target ≤ {BUILD_TARGET_S} s); first build in the process {cold:.2f} s (packs Plotly.js once)")
        assert len(first) > 0


if __name__ == "__main__":
    main()
