"""Dispatch with the broker away and back, and the reaper of silent runs, on a real Redis."""

from datetime import timedelta

import redis
from sqlalchemy import select

from backend.db import session_scope
from backend.dispatch import dispatch_pass, reap_stale_runs
from backend.runs.models import Run
from backend.settings import get_settings
from backend.timeutil import utcnow
from tests.backend.helpers import make_experiment, set_run
from tests.fixtures.services import free_port


def _dispatched(run_ids):
    with session_scope() as session:
        rows = session.execute(select(Run.id, Run.dispatched_at).where(Run.id.in_(run_ids)))
        return {run_id: at is not None for run_id, at in rows}


def _queue_length():
    settings = get_settings()
    return redis.Redis.from_url(settings.REDIS_URL).llen(settings.TRAIN_QUEUE)


def test_submission_is_dispatched_when_the_broker_answers(client):
    ids = [r["id"] for r in make_experiment(client, grid={"training.seed": [1, 2]})["runs"]]

    assert _dispatched(ids) == {ids[0]: True, ids[1]: True}
    assert _queue_length() == 2


def test_broker_down_leaves_runs_queued_then_they_are_sent_when_it_returns(client, monkeypatch):
    real_url = get_settings().REDIS_URL
    monkeypatch.setenv("REGLAB_REDIS_URL", f"redis://127.0.0.1:{free_port()}/0")
    get_settings.cache_clear()

    response = client.post("/api/experiments", json={"name": "away", "grid": {"training.seed": [1, 2, 3]}})

    assert response.status_code == 201
    ids = [r["id"] for r in response.json()["runs"]]
    assert all(r["state"] == "queued" and r["dispatched_at"] is None for r in response.json()["runs"])
    assert client.get("/api/health").json()["broker"] == "unreachable"
    assert dispatch_pass()["dispatched"] == 0

    monkeypatch.setenv("REGLAB_REDIS_URL", real_url)
    get_settings.cache_clear()
    dispatch_pass()

    assert _dispatched(ids) == dict.fromkeys(ids, True)
    assert _queue_length() == 3
    assert dispatch_pass()["dispatched"] == 0  # the row guard: never sent twice


def _go_silent(run_id, attempts, epoch):
    timeout = get_settings().HEARTBEAT_TIMEOUT_S
    now = utcnow()
    set_run(
        run_id,
        state="running",
        attempts=attempts,
        started_at=now - timedelta(hours=1),
        heartbeat_at=now - timedelta(seconds=timeout + 30),
        worker_host=f"machine-{attempts} (pid 7)",
        epoch=epoch,
    )


def test_silent_runs_are_requeued_to_resume_then_failed_after_their_last_attempt(client):
    runs = make_experiment(client, grid={"training.seed": [1, 2, 3]})["runs"]
    now = utcnow()
    timeout = get_settings().HEARTBEAT_TIMEOUT_S
    assert get_settings().MAX_ATTEMPTS == 3
    silent, alive, never_beat = (r["id"] for r in runs)
    _go_silent(silent, attempts=1, epoch=4)
    set_run(alive, state="running", attempts=1, started_at=now - timedelta(hours=1), heartbeat_at=now)
    set_run(never_beat, state="running", attempts=1, started_at=now - timedelta(seconds=timeout + 5))
    artifacts = get_settings().artifacts_dir
    artifacts.mkdir(parents=True, exist_ok=True)
    for run_id in (silent, alive):
        (artifacts / f"run-{run_id}.checkpoint.json").write_text("{}")

    assert dispatch_pass() == {"reaped": 2, "pending": 2, "dispatched": 2, "resent": 0}
    items = {r["id"]: r for r in client.get("/api/runs").json()["items"]}
    assert items[alive]["state"] == "running"
    # Back in the queue, sent to the workers again, its checkpoint kept to resume from.
    assert items[silent]["state"] == items[never_beat]["state"] == "queued"
    assert _dispatched([silent, never_beat]) == {silent: True, never_beat: True}
    assert (artifacts / f"run-{silent}.checkpoint.json").exists()
    assert (items[silent]["attempts"], items[silent]["max_attempts"], items[silent]["error"]) == (1, 3, None)
    [reason] = items[silent]["attempt_errors"]
    assert reason.startswith("attempt 1: the worker (machine-1 (pid 7)) stopped responding after epoch 4")
    assert f"no heartbeat for {int(timeout + 30)}" in reason or f"no heartbeat for {int(timeout + 31)}" in reason
    assert reap_stale_runs() == {}

    _go_silent(silent, attempts=2, epoch=6)
    assert reap_stale_runs() == {silent: "queued"}
    _go_silent(silent, attempts=3, epoch=7)
    assert reap_stale_runs() == {silent: "failed"}
    run = client.get(f"/api/runs/{silent}").json()
    assert run["state"] == "failed" and run["attempts"] == 3
    assert [e.split(":")[0] for e in run["attempt_errors"]] == ["attempt 1", "attempt 2", "attempt 3"]
    error = run["error"]
    assert "lost its worker on 3 attempts (REGLAB_MAX_ATTEMPTS=3)" in error and "up to epoch 7" in error
    assert all(e in error for e in run["attempt_errors"]) and "clone the run" in error
    # A failed run is cloned, never resumed: its checkpoint goes; a live run keeps its own.
    assert sorted(p.name for p in artifacts.glob("run-*.checkpoint.json")) == [f"run-{alive}.checkpoint.json"]
    assert reap_stale_runs() == {}


def test_a_reaper_late_for_an_attempt_taken_over_changes_nothing(client):
    run_id = make_experiment(client)["runs"][0]["id"]
    _go_silent(run_id, attempts=1, epoch=1)
    # Another worker claims it between the reaper's read and its update: the update's guard sees it.
    from backend.runs.attempts import lose_attempt

    with session_scope() as session:
        row = session.execute(select(Run.id, Run.attempts, Run.attempt_errors, Run.epoch).where(Run.id == run_id)).one()
    set_run(run_id, attempts=2)  # another worker claimed it meanwhile
    with session_scope() as session:
        assert lose_attempt(session, row, "late", utcnow(), 3) is None
    assert client.get(f"/api/runs/{run_id}").json()["state"] == "running"


def test_the_background_loop_dispatches_when_the_broker_returns(reglab_env, monkeypatch):
    import time

    from fastapi.testclient import TestClient

    from backend.main import create_app

    real_url = reglab_env["REGLAB_REDIS_URL"]
    monkeypatch.setenv("REGLAB_DISPATCH_INTERVAL_S", "0.2")
    monkeypatch.setenv("REGLAB_REDIS_URL", f"redis://127.0.0.1:{free_port()}/0")
    get_settings.cache_clear()
    with TestClient(create_app()) as app_client:
        ids = [r["id"] for r in make_experiment(app_client, grid={"training.seed": [1, 2]})["runs"]]
        assert _dispatched(ids) == dict.fromkeys(ids, False)

        monkeypatch.setenv("REGLAB_REDIS_URL", real_url)
        get_settings.cache_clear()
        deadline = time.monotonic() + 5
        while _dispatched(ids) != dict.fromkeys(ids, True) and time.monotonic() < deadline:
            time.sleep(0.1)

    assert _dispatched(ids) == dict.fromkeys(ids, True)
    queue = reglab_env["REGLAB_TRAIN_QUEUE"]
    redis.Redis.from_url(real_url).delete(queue, f"_kombu.binding.{queue}")
