"""The docker-compose stack's processes, without Docker.

`migrate` (alembic upgrade head) on a real PostgreSQL, the API under uvicorn
with two worker processes, and two training workers started as the worker
image starts them on a CPU machine (`reglab worker`, distinct node names),
on a real Redis with a queue and channel prefix of their own. A 4-run study
must complete with its runs spread over both workers.
"""

import subprocess
import sys
import uuid

import pytest

from backend.cli.processes import api_answers
from tests.fixtures.services import free_port
from tests.stack.procs import (
    ROOT,
    alive_check,
    clean_env,
    celery_node,
    start,
    stop_group,
    submit,
    wait_runs,
    wait_until,
    worker_answers,
)

pytestmark = pytest.mark.slow


def test_compose_shaped_stack_spreads_a_study_over_two_workers(postgres_url, redis_url, tmp_path):
    tag = uuid.uuid4().hex[:8]
    env = clean_env(
        REGLAB_DATABASE_URL=postgres_url,
        REGLAB_REDIS_URL=redis_url,
        REGLAB_DATA_DIR=str(tmp_path / "data"),
        REGLAB_TRAIN_QUEUE=f"train-prod-{tag}",
        REGLAB_CHANNEL_PREFIX=f"reglab-prod-{tag}",
        REGLAB_DISPATCH_INTERVAL_S="1",
    )

    # The `migrate` service: runs to completion before anything else starts.
    migrate = subprocess.run(
        [sys.executable, "-m", "alembic", "upgrade", "head"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert migrate.returncode == 0, migrate.stderr

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    logs = {name: tmp_path / f"{name}.log" for name in ("api", "worker1", "worker2")}
    procs = {}
    try:
        procs["api"] = start(
            [sys.executable, "-m", "uvicorn", "backend.main:create_app", "--factory",
             "--host", "127.0.0.1", "--port", str(port), "--workers", "2"],
            env, logs["api"],
        )  # fmt: skip
        for index in (1, 2):
            name = f"worker{index}"
            # Workers as on machines of their own: the API's URL, no database, their own data directory.
            worker_env = {k: v for k, v in env.items() if k != "REGLAB_DATABASE_URL"}
            worker_env.update(REGLAB_URL=url, REGLAB_DATA_DIR=str(tmp_path / name), NO_PROXY="127.0.0.1,localhost",
                              no_proxy="127.0.0.1,localhost")  # fmt: skip
            procs[name] = start(
                [sys.executable, "-m", "reglab.cli.main", "worker", "--hostname", f"w{index}-{tag}@%h"], worker_env,
                logs[name],
            )
        check = alive_check(procs, logs)
        wait_until(lambda: api_answers(url), 90, "the API to answer /api/health", check)
        # Both workers consume the queue before the study arrives, so neither can take it all.
        for index in (1, 2):
            node = celery_node(f"w{index}-{tag}")
            wait_until(lambda: worker_answers(redis_url, node), 120, f"worker {node} to answer a ping", check, every=1)

        created = submit(url, f"spread {tag}", grid={"training.seed": [1, 2, 3, 4]})
        run_ids = [run["id"] for run in created["runs"]]
        assert len(run_ids) == 4

        runs = wait_runs(url, run_ids, {"completed", "failed", "diverged", "cancelled"}, 240, check)
        assert [run["state"] for run in runs] == ["completed"] * 4, [(r["id"], r["state"], r.get("error")) for r in runs]
        hosts = {run["worker_host"] for run in runs}
        assert len(hosts) == 2, f"every run went to the same worker: {hosts}"
    finally:
        for proc in procs.values():
            stop_group(proc)
