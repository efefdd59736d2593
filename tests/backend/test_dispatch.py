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


def test_silent_running_runs_are_failed_with_an_actionable_error(client):
    runs = make_experiment(client, grid={"training.seed": [1, 2, 3]})["runs"]
    now = utcnow()
    timeout = get_settings().HEARTBEAT_TIMEOUT_S
    silent, alive, never_beat = (r["id"] for r in runs)
    set_run(
        silent,
        state="running",
        started_at=now - timedelta(hours=1),
        heartbeat_at=now - timedelta(seconds=timeout + 30),
        epoch=4,
    )
    set_run(alive, state="running", started_at=now - timedelta(hours=1), heartbeat_at=now)
    set_run(never_beat, state="running", started_at=now - timedelta(seconds=timeout + 5))
    artifacts = get_settings().artifacts_dir
    artifacts.mkdir(parents=True, exist_ok=True)
    for run_id in (silent, alive):
        (artifacts / f"run-{run_id}.checkpoint.json").write_text("{}")

    reap_stale_runs()
    # A failed run is cloned, never resumed: its checkpoint goes; a live run keeps its own.
    assert [p.name for p in artifacts.glob("run-*.checkpoint.json")] == [f"run-{alive}.checkpoint.json"]

    states = {r["id"]: r for r in client.get("/api/runs").json()["items"]}
    assert states[alive]["state"] == "running"
    assert states[silent]["state"] == "failed" and states[never_beat]["state"] == "failed"
    error = states[silent]["error"]
    assert "stopped responding" in error and "up to epoch 4" in error and "clone the run" in error
    assert f"no heartbeat for {int(timeout + 30)}" in error or f"no heartbeat for {int(timeout + 31)}" in error
    assert reap_stale_runs() == []


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
