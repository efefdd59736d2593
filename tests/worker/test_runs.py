"""The run's state guard that makes redelivered and duplicate tasks safe (SQLite and PostgreSQL)."""

from datetime import timedelta

import pytest
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


def stored(run_id):
    from backend.metrics.models import MetricPoint

    with session_scope() as session:
        return {(p.name, p.axis, p.x): p.value for p in session.query(MetricPoint).filter_by(run_id=run_id)}


def test_running_run_of_a_dead_worker_is_taken_over_with_its_points(reglab_env):
    run_id = create_run(TINY)
    assert runs.claim(run_id, "host-a") is not None
    with session_scope() as session:
        write_points(session, run_id, [{"name": "loss", "axis": "epoch", "x": 0, "value": 1.0}])
    set_run(run_id, heartbeat_at=runs.utcnow() - timedelta(hours=1), epoch=3)
    claim = runs.claim(run_id, "host-b")
    assert claim is not None and claim.restarted
    run = load_run(run_id)
    assert (run.state, run.worker_host, run.epoch) == ("running", "host-b", 0)
    # Kept for the resume: the new attempt's first write replaces only what follows its start.
    assert stored(run_id) == {("loss", "epoch", 0): 1.0}


def test_first_write_of_an_attempt_drops_the_interrupted_tail(reglab_env):
    run_id = create_run(TINY)
    runs.claim(run_id, "host-a")
    old = [{"name": "loss", "axis": "epoch", "x": x, "value": 1.0} for x in range(3)]
    old += [{"name": "batch_loss", "axis": "step", "x": x, "value": 1.0} for x in range(10)]
    runs.record_epoch(run_id, old, {})
    new = [{"name": "batch_loss", "axis": "step", "x": x, "value": 2.0} for x in (4, 5)]
    runs.record_epoch(run_id, new, {}, drop_from=(1, 4))
    expected = {("loss", "epoch", 0): 1.0} | {("batch_loss", "step", x): 1.0 for x in range(4)}
    assert stored(run_id) == expected | {("batch_loss", "step", 4): 2.0, ("batch_loss", "step", 5): 2.0}


def test_stored_epochs_give_the_history_and_last_t(reglab_env):
    run_id = create_run(TINY)
    runs.claim(run_id, "host-a")
    points = [
        {"name": name, "axis": "epoch", "x": x, "value": 0.1 * (x + 1), "t": 2.0 * (x + 1)}
        for name in ("loss", "val_accuracy") for x in range(3)
    ]  # fmt: skip
    runs.record_epoch(run_id, points, {})
    history, last_t = runs.stored_epochs(run_id, 2)
    assert [(e["loss"], e["val_accuracy"], e["accuracy"]) for e in history] == [
        (0.1, 0.1, None), (pytest.approx(0.2), pytest.approx(0.2), None)
    ]  # fmt: skip
    assert last_t == 4.0


def test_finish_only_moves_running_runs(reglab_env):
    run_id = create_run(TINY)
    assert not runs.finish(run_id, "completed")
    runs.claim(run_id, "host-a")
    assert runs.finish(run_id, "completed", summary={"x": 1})
    assert not runs.finish(run_id, "failed", error="late")
    run = load_run(run_id)
    assert (run.state, run.summary, run.error) == ("completed", {"x": 1}, None)


def test_each_claim_is_an_attempt_and_a_taken_over_attempt_can_no_longer_write(reglab_env):
    run_id = create_run(TINY)
    first = runs.claim(run_id, "host-a")
    assert first.attempt == 1 and load_run(run_id).attempts == 1
    runs.record_epoch(run_id, [{"name": "loss", "axis": "epoch", "x": 0, "value": 1.0}], {"epoch": 1}, attempt=1)
    # host-a is taken for dead (a partition, say) and the run is claimed again.
    set_run(run_id, heartbeat_at=runs.utcnow() - timedelta(hours=1))
    second = runs.claim(run_id, "host-b")
    assert second.attempt == 2 and second.restarted
    assert load_run(run_id).attempt_errors == ["attempt 1: taken over after its worker stopped responding."]

    # host-a comes back: none of its writes land, and it is told to stop.
    with pytest.raises(runs.ClaimLost):
        runs.record_epoch(run_id, [{"name": "loss", "axis": "epoch", "x": 1, "value": 9.0}], {"epoch": 2},
                          drop_from=(1, None), attempt=1)  # fmt: skip
    assert not runs.heartbeat(run_id, attempt=1)
    assert not runs.set_progress(run_id, 1, device="GPU")
    assert not runs.finish(run_id, "completed", 1, summary={"from": "a"})
    runs.record_epoch(run_id, [{"name": "loss", "axis": "epoch", "x": 1, "value": 0.5}], {"epoch": 2}, attempt=2)
    assert runs.heartbeat(run_id, attempt=2)
    assert runs.finish(run_id, "completed", 2, summary={"from": "b"})
    run = load_run(run_id)
    assert (run.state, run.worker_host, run.summary, run.epoch) == ("completed", "host-b", {"from": "b"}, 2)
    assert stored(run_id) == {("loss", "epoch", 0): 1.0, ("loss", "epoch", 1): 0.5}


def test_two_workers_claiming_one_attempt_get_it_once(reglab_env):
    run_id = create_run(TINY)
    claims = [runs.claim(run_id, f"host-{i}") for i in range(3)]
    assert sum(claim is not None for claim in claims) == 1
