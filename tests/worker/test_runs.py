"""The run's state guard that makes redelivered and duplicate tasks safe (SQLite and PostgreSQL)."""

from datetime import timedelta

from sqlalchemy import update

from backend.db import session_scope
from backend.metrics.service import write_points
from backend.runs.models import Run
from tests.worker.helpers import TINY
from tests.worker.store import create_run, load_run
from worker import runs


def set_run(run_id, **values):
    with session_scope() as session:
        session.execute(update(Run).where(Run.id == run_id).values(**values))


def test_claim_queued_run(reglab_env):
    run_id = create_run(TINY)
    claim = runs.claim(run_id, "host-a")
    assert claim is not None and not claim.restarted and claim.spec == TINY
    run = load_run(run_id)
    assert (run.state, run.worker_host) == ("running", "host-a")
    assert run.started_at is not None and run.heartbeat_at is not None


def test_final_or_missing_runs_are_not_claimed(reglab_env):
    run_id = create_run(TINY)
    for state in ("completed", "failed", "cancelled", "diverged"):
        set_run(run_id, state=state)
        assert runs.claim(run_id, "host-b") is None
        assert load_run(run_id).state == state
    assert runs.claim(run_id + 1000, "host-b") is None


def test_running_run_with_fresh_heartbeat_is_left_to_its_worker(reglab_env):
    run_id = create_run(TINY)
    assert runs.claim(run_id, "host-a") is not None
    assert runs.claim(run_id, "host-b") is None
    assert load_run(run_id).worker_host == "host-a"


def test_running_run_of_a_dead_worker_restarts_from_scratch(reglab_env):
    run_id = create_run(TINY)
    assert runs.claim(run_id, "host-a") is not None
    with session_scope() as session:
        write_points(session, run_id, [{"name": "loss", "axis": "epoch", "x": 0, "value": 1.0}])
    set_run(run_id, heartbeat_at=runs.utcnow() - timedelta(hours=1), epoch=3)
    claim = runs.claim(run_id, "host-b")
    assert claim is not None and claim.restarted
    run = load_run(run_id)
    assert (run.state, run.worker_host, run.epoch) == ("running", "host-b", 0)
    from backend.metrics.models import MetricPoint

    with session_scope() as session:
        assert session.query(MetricPoint).filter_by(run_id=run_id).count() == 0


def test_finish_only_moves_running_runs(reglab_env):
    run_id = create_run(TINY)
    assert not runs.finish(run_id, "completed")
    runs.claim(run_id, "host-a")
    assert runs.finish(run_id, "completed", summary={"x": 1})
    assert not runs.finish(run_id, "failed", error="late")
    run = load_run(run_id)
    assert (run.state, run.summary, run.error) == ("completed", {"x": 1}, None)
