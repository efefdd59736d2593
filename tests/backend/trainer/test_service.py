"""The run's state and attempt guards that make redelivered, duplicate and late writes safe (SQLite and PostgreSQL)."""

from datetime import timedelta

import pytest
from sqlalchemy import update

from backend.db import session_scope
from backend.errors import NotFound
from backend.metrics.service import write_points
from backend.runs.models import Run
from backend.timeutil import utcnow
from backend.trainer import service
from tests.worker.helpers import TINY
from tests.worker.store import create_run, load_run, stored_points


def set_run(run_id, **values):
    with session_scope() as session:
        session.execute(update(Run).where(Run.id == run_id).values(**values))


def stored(run_id):
    return {key: value for key, (value, _) in stored_points(run_id).items()}


def test_claim_queued_run(reglab_env):
    run_id = create_run(TINY)
    claim = service.claim(run_id, "host-a")
    assert claim is not None and not claim.restarted and claim.spec == TINY and claim.attempt == 1
    run = load_run(run_id)
    assert (run.state, run.worker_host) == ("running", "host-a")
    assert run.started_at is not None and run.heartbeat_at is not None


def test_final_or_missing_runs_are_not_claimed(reglab_env):
    run_id = create_run(TINY)
    for state in ("completed", "failed", "cancelled", "diverged"):
        set_run(run_id, state=state)
        assert service.claim(run_id, "host-b") is None
        assert load_run(run_id).state == state
    with pytest.raises(NotFound):
        service.claim(run_id + 1000, "host-b")


def test_running_run_with_fresh_heartbeat_is_left_to_its_worker(reglab_env):
    run_id = create_run(TINY)
    assert service.claim(run_id, "host-a") is not None
    assert service.claim(run_id, "host-b") is None
    assert load_run(run_id).worker_host == "host-a"


def test_running_run_of_a_dead_worker_is_taken_over_with_its_points(reglab_env):
    run_id = create_run(TINY)
    assert service.claim(run_id, "host-a") is not None
    with session_scope() as session:
        write_points(session, run_id, [{"name": "loss", "axis": "epoch", "x": 0, "value": 1.0}])
    set_run(run_id, heartbeat_at=utcnow() - timedelta(hours=1), epoch=3)
    claim = service.claim(run_id, "host-b")
    assert claim is not None and claim.restarted
    run = load_run(run_id)
    assert (run.state, run.worker_host, run.epoch) == ("running", "host-b", 0)
    # Kept for the resume: the new attempt's first write replaces only what follows its start.
    assert stored(run_id) == {("loss", "epoch", 0): 1.0}


def test_first_write_of_an_attempt_drops_the_interrupted_tail(reglab_env):
    run_id = create_run(TINY)
    service.claim(run_id, "host-a")
    old = [{"name": "loss", "axis": "epoch", "x": x, "value": 1.0} for x in range(3)]
    old += [{"name": "batch_loss", "axis": "step", "x": x, "value": 1.0} for x in range(10)]
    service.record_epoch(run_id, 1, old, {})
    new = [{"name": "batch_loss", "axis": "step", "x": x, "value": 2.0} for x in (4, 5)]
    service.record_epoch(run_id, 1, new, {}, drop_from=(1, 4))
    expected = {("loss", "epoch", 0): 1.0} | {("batch_loss", "step", x): 1.0 for x in range(4)}
    assert stored(run_id) == expected | {("batch_loss", "step", 4): 2.0, ("batch_loss", "step", 5): 2.0}


def test_stored_epochs_give_the_history_and_last_t(reglab_env):
    run_id = create_run(TINY)
    service.claim(run_id, "host-a")
    points = [
        {"name": name, "axis": "epoch", "x": x, "value": 0.1 * (x + 1), "t": 2.0 * (x + 1)}
        for name in ("loss", "val_accuracy") for x in range(3)
    ]  # fmt: skip
    service.record_epoch(run_id, 1, points, {})
    history, last_t = service.stored_epochs(run_id, 2)
    assert [(e["loss"], e["val_accuracy"], e["accuracy"]) for e in history] == [
        (0.1, 0.1, None), (pytest.approx(0.2), pytest.approx(0.2), None)
    ]  # fmt: skip
    assert last_t == 4.0


def test_finish_only_moves_running_runs(reglab_env):
    run_id = create_run(TINY)
    with pytest.raises(service.ClaimLost):
        service.finish(run_id, 1, "completed")
    service.claim(run_id, "host-a")
    service.finish(run_id, 1, "completed", summary={"x": 1})
    with pytest.raises(service.ClaimLost):
        service.finish(run_id, 1, "failed", error="late")
    run = load_run(run_id)
    assert (run.state, run.summary["x"], run.error) == ("completed", 1, None)


def test_a_finished_run_without_a_summary_gets_one_from_its_points(reglab_env):
    run_id = create_run(TINY)
    service.claim(run_id, "host-a")
    values = {"val_accuracy": [0.5, 0.8, 0.7], "val_loss": [1.0, 0.6, 0.65], "loss": [1.2, 0.7, 0.5]}
    points = [{"name": n, "axis": "epoch", "x": x, "value": v} for n, vs in values.items() for x, v in enumerate(vs)]
    service.record_epoch(run_id, 1, points, {"epoch": 3})
    service.finish(run_id, 1, "completed")
    assert load_run(run_id).summary == {
        "epochs_trained": 3, "best_val_accuracy": 0.8, "best_epoch": 1, "best_val_loss": 0.6,
        "final_val_accuracy": 0.7, "final_val_loss": 0.65, "final_loss": 0.5,
    }  # fmt: skip


def test_each_claim_is_an_attempt_and_a_taken_over_attempt_can_no_longer_write(reglab_env):
    run_id = create_run(TINY)
    first = service.claim(run_id, "host-a")
    assert first.attempt == 1 and load_run(run_id).attempts == 1
    service.record_epoch(run_id, 1, [{"name": "loss", "axis": "epoch", "x": 0, "value": 1.0}], {"epoch": 1})
    # host-a is taken for dead (a partition, say) and the run is claimed again.
    set_run(run_id, heartbeat_at=utcnow() - timedelta(hours=1))
    second = service.claim(run_id, "host-b")
    assert second.attempt == 2 and second.restarted
    assert load_run(run_id).attempt_errors == ["attempt 1: taken over after its worker stopped responding."]

    # host-a comes back: none of its writes land, and it is told to stop.
    with pytest.raises(service.ClaimLost):
        service.record_epoch(run_id, 1, [{"name": "loss", "axis": "epoch", "x": 1, "value": 9.0}], {"epoch": 2},
                             drop_from=(1, None))  # fmt: skip
    for write in (
        lambda: service.heartbeat(run_id, 1),
        lambda: service.set_progress(run_id, 1, device="GPU"),
        lambda: service.finish(run_id, 1, "completed", summary={"from": "a"}),
    ):
        with pytest.raises(service.ClaimLost):
            write()
    service.record_epoch(run_id, 2, [{"name": "loss", "axis": "epoch", "x": 1, "value": 0.5}], {"epoch": 2})
    assert service.heartbeat(run_id, 2) is None
    service.finish(run_id, 2, "completed", summary={"from": "b"})
    run = load_run(run_id)
    assert (run.state, run.worker_host, run.summary["from"], run.epoch) == ("completed", "host-b", "b", 2)
    assert stored(run_id) == {("loss", "epoch", 0): 1.0, ("loss", "epoch", 1): 0.5}


def test_two_workers_claiming_one_attempt_get_it_once(reglab_env):
    run_id = create_run(TINY)
    claims = [service.claim(run_id, f"host-{i}") for i in range(3)]
    assert sum(claim is not None for claim in claims) == 1
