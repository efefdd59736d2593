"""What `reglab up` does with runs a previous stop left behind (no processes started)."""

from datetime import timedelta

import pytest

from backend.cli.recovery import recover_runs, requeue_running
from backend.db import make_engine
from backend.metrics.service import read_series, write_points
from backend.models import Experiment, Run
from backend.timeutil import utcnow


@pytest.fixture
def session(database_url):
    from sqlalchemy.orm import Session

    engine = make_engine(database_url)
    with Session(engine, expire_on_commit=False) as session:
        yield session
    engine.dispose()


def _runs(session, **states_and_fields):
    experiment = Experiment(name="left behind", base={}, grid={})
    session.add(experiment)
    session.flush()
    runs = {}
    for key, fields in states_and_fields.items():
        run = Run(experiment_id=experiment.id, name=key, spec={}, epochs=10, **fields)
        session.add(run)
        runs[key] = run
    session.flush()
    for run in runs.values():
        write_points(session, run.id, [{"name": "loss", "axis": "epoch", "x": x, "value": 1.0} for x in range(3)])
    session.commit()
    return runs


def test_embedded_broker_requeues_running_and_redispatches_queued(database_url, session):
    now = utcnow()
    runs = _runs(
        session,
        running={"state": "running", "dispatched_at": now, "started_at": now, "heartbeat_at": now, "epoch": 3, "worker_host": "w"},
        queued_sent={"state": "queued", "dispatched_at": now},
        queued_unsent={"state": "queued"},
        done={"state": "completed", "dispatched_at": now, "epoch": 10},
    )
    assert recover_runs(database_url, embedded_broker=True, heartbeat_timeout_s=120) == (1, 1)

    session.expire_all()
    running = session.get(Run, runs["running"].id)
    assert (running.state, running.dispatched_at, running.epoch, running.worker_host) == ("queued", None, 3, None)
    # It resumes from its checkpoint, so every run keeps its points.
    points = read_series(session, [runs["running"].id, runs["done"].id])
    assert points[runs["running"].id]["loss"]["x"] == [0, 1, 2] and points[runs["done"].id]["loss"]["x"] == [0, 1, 2]
    assert session.get(Run, runs["queued_sent"].id).dispatched_at is None
    done = session.get(Run, runs["done"].id)
    assert (done.state, done.epoch) == ("completed", 10)


def test_external_broker_takes_back_only_silent_runs(database_url, session):
    now = utcnow()
    runs = _runs(
        session,
        alive={"state": "running", "dispatched_at": now, "started_at": now, "heartbeat_at": now},
        silent={"state": "running", "dispatched_at": now, "started_at": now - timedelta(hours=1),
                "heartbeat_at": now - timedelta(hours=1)},
        queued_sent={"state": "queued", "dispatched_at": now},
    )  # fmt: skip
    assert recover_runs(database_url, embedded_broker=False, heartbeat_timeout_s=120) == (1, 0)
    session.expire_all()
    assert session.get(Run, runs["alive"].id).state == "running"
    assert session.get(Run, runs["silent"].id).state == "queued"
    # The external broker still holds its message: not sent twice.
    assert session.get(Run, runs["queued_sent"].id).dispatched_at is not None


def test_requeue_after_stop(database_url, session):
    now = utcnow()
    runs = _runs(session, running={"state": "running", "dispatched_at": now, "started_at": now}, done={"state": "completed"})
    assert requeue_running(database_url) == 1
    session.expire_all()
    assert session.get(Run, runs["running"].id).state == "queued"
    assert session.get(Run, runs["done"].id).state == "completed"
    kept = read_series(session, [runs["running"].id])[runs["running"].id]
    assert kept["loss"]["x"] == [0, 1, 2]
