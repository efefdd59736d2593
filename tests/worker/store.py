"""Creating runs straight in the test database and sending them to the worker by task name,
as the API does (the tests do not depend on the API's routes)."""

from __future__ import annotations

import time
from typing import Any

from backend.db import session_scope
from backend.experiments.models import Experiment
from backend.runs.models import Run
from backend.settings import get_settings
from reglab.states import FINAL_STATES


def create_run(spec: dict[str, Any], name: str = "run") -> int:
    with session_scope() as session:
        experiment = Experiment(name=f"worker test {name}", description="", tags=[], base=spec, grid={})
        session.add(experiment)
        session.flush()
        run = Run(experiment_id=experiment.id, name=name, spec=spec, state="queued", summary={})
        session.add(run)
        session.flush()
        return run.id


def celery_client():
    from celery import Celery

    url = get_settings().REDIS_URL
    return Celery("reglab-test-client", broker=url, backend=url)


def send(run_id: int, client=None):
    client = client or celery_client()
    return client.send_task("reglab.train_run", args=[run_id], queue=get_settings().TRAIN_QUEUE)


def load_run(run_id: int) -> Run:
    with session_scope() as session:
        run = session.get(Run, run_id)
        session.expunge(run)
        return run


def wait_for(run_id: int, predicate=lambda run: run.state in FINAL_STATES, timeout: float = 120, worker=None) -> Run:
    deadline = time.monotonic() + timeout
    while True:
        run = load_run(run_id)
        if predicate(run):
            return run
        if worker is not None and worker.process.poll() is not None:
            raise AssertionError(f"the worker exited; its log:\n{worker.log()[-5000:]}")
        if time.monotonic() > deadline:
            log = worker.log()[-5000:] if worker is not None else ""
            raise AssertionError(f"run {run_id} still {run.state} (epoch {run.epoch}) after {timeout}s\n{log}")
        time.sleep(0.2)


def stored_points(run_id: int) -> dict[tuple[str, str, int], tuple[float | None, float | None]]:
    """Every stored point of a run, both axes: ``{(name, axis, x): (value, t)}`` (step series live in blocks)."""
    from backend.metrics.service import read_series

    with session_scope() as session:
        series = read_series(session, [run_id])[run_id]
    return {
        (key.removesuffix("@step"), data["axis"], x): (y, t)
        for key, data in series.items()
        for x, y, t in zip(data["x"], data["y"], data["t"], strict=True)
    }
