"""A TPE search study trained by two real Celery workers, with the whole stack restarted mid-study."""

import signal
import subprocess
import time

import httpx
import pytest
from sqlalchemy import select

from backend.db import session_scope
from backend.runs.models import Run
from backend.search.coordinator import load_study
from reglab.spec import deep_merge
from tests.fixtures.api import ApiServer
from tests.fixtures.worker import start_worker
from tests.worker.helpers import TINY

pytestmark = pytest.mark.slow

SPACE = {
    "regularization.kernel_l2": {"log_uniform": [1e-5, 1e-1]},
    "regularization.dropout": {"uniform": [0.0, 0.5]},
    "optimizer.name": {"choice": ["nadam", "sgd"]},
}


def told(experiment_id: int) -> list:
    return [t for t in load_study(experiment_id).get_trials() if t.state.is_finished()]


def wait_for(condition, timeout, what, logs):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}\n{logs()[-6000:]}"
        time.sleep(0.5)


@pytest.mark.timeout(900)
def test_tpe_study_over_two_workers_survives_a_restart_with_exactly_its_trials(reglab_env, tmp_path):
    # A short heartbeat timeout: runs the stopped stack left running are taken back within seconds.
    env = {**reglab_env, "REGLAB_HEARTBEAT_TIMEOUT_S": "4", "REGLAB_DISPATCH_INTERVAL_S": "0.5"}
    api = ApiServer(env, tmp_path / "api.log").start()
    workers = [start_worker(env, tmp_path / f"w{i}", api.url) for i in range(2)]

    def logs() -> str:
        with session_scope() as session:
            rows = session.execute(select(Run.id, Run.trial, Run.state, Run.attempts, Run.error)).all()
        states = [(t.number, t.state.name) for t in load_study(experiment_id).get_trials()]
        return (api.log_path.read_text(errors="replace") + "".join(w.log()[-2000:] for w in workers)
                + f"\nruns: {rows}\ntrials: {states}")  # fmt: skip

    experiment_id = 0

    try:
        body = {
            "name": "tpe e2e",
            "base": deep_merge(TINY, {"training": {"epochs": 1}}),
            "search": {"method": "tpe", "trials": 8, "parallel": 2, "seed": 0, "space": SPACE,
                       "objective": {"metric": "best_val_accuracy", "direction": "maximize"}},
        }  # fmt: skip
        response = httpx.post(f"{api.url}/api/experiments", json=body, timeout=30)
        assert response.status_code == 201, response.text
        experiment_id = response.json()["id"]
        wait_for(lambda: len(told(experiment_id)) >= 3, 240, "3 told trials", logs)

        # Stop the whole stack mid-study, then start it again: the workers first (a warm shutdown hands
        # the task it holds back to the broker; a run already started is reaped and resumed), then the API.
        for worker in workers:  # both at once, so one does not train on while the other stops
            worker.process.send_signal(signal.SIGTERM)
        for worker in workers:
            try:
                worker.process.wait(30)
            except subprocess.TimeoutExpired:
                worker.process.kill()
                worker.process.wait(10)
        api.stop()
        assert len(told(experiment_id)) < 8, "the restart comes mid-study"
        api.start()
        workers = [start_worker(env, tmp_path / f"w{i}-again", api.url) for i in range(2)]

        wait_for(lambda: len(told(experiment_id)) == 8, 400, "all 8 trials told", logs)
        time.sleep(2)  # a repeated ask would show up within a few dispatcher passes
        trials = load_study(experiment_id).get_trials()
        assert len(trials) == 8 and [t.number for t in trials] == list(range(8))
        with session_scope() as session:
            runs = session.execute(
                select(Run.trial, Run.state, Run.summary, Run.spec).where(Run.experiment_id == experiment_id)
            ).all()
        assert sorted(run.trial for run in runs) == list(range(8)), "one run per trial, none lost or repeated"
        for run in runs:
            trial = trials[run.trial]
            reg, optimizer = run.spec["regularization"], run.spec["optimizer"]
            assert 1e-5 <= reg["kernel_l2"] <= 1e-1 and 0.0 <= reg["dropout"] <= 0.5
            assert optimizer["name"] in ("nadam", "sgd")
            assert trial.params["regularization.kernel_l2"] == reg["kernel_l2"]
            if run.state == "completed":
                assert trial.state.name == "COMPLETE" and trial.value == run.summary["best_val_accuracy"]
            else:
                assert trial.state.name == "FAIL", (run.state, trial.state)
        assert sum(t.state.name == "COMPLETE" for t in trials) >= 6, logs()[-4000:]
    finally:
        for worker in workers:
            worker.stop()
        api.stop()
