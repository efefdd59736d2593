"""The run client's threads against a live API: the heartbeat keeps a run alive and brings its cancel flag back."""

import threading
import time
from datetime import timedelta

import pytest
import redis
from sqlalchemy import update

from backend.channels import REQUEUE, cancel_key
from backend.db import session_scope
from backend.runs.models import Run
from backend.settings import get_settings
from backend.timeutil import utcnow
from reglab.client import Client, Heartbeat
from tests.worker.helpers import TINY
from tests.worker.store import create_run, load_run


def wait_until(predicate, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline
        time.sleep(0.02)


def claimed(live_server, host="host-a"):
    run = Client(live_server).run(create_run(TINY))
    assert run.claim(host) is not None
    return run


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_heartbeat_thread_refreshes_a_running_run(live_server):
    run = claimed(live_server)
    first = load_run(run.run_id).heartbeat_at
    beat = Heartbeat(run, interval_s=0.05).start()
    try:
        wait_until(lambda: load_run(run.run_id).heartbeat_at > first)
        assert not run.cancel.is_set()
    finally:
        beat.stop()


def test_heartbeat_of_an_attempt_taken_over_stops_its_training(live_server):
    run = claimed(live_server)
    stopped = threading.Event()
    run.on_lost.append(stopped.set)
    beat = Heartbeat(run, interval_s=0.05).start()
    try:
        time.sleep(0.3)
        assert not stopped.is_set()
        # Taken for dead (a partition) and claimed by another worker; a beat landing between
        # the two steps makes the run look alive again, so the takeover is tried until it holds.
        for _ in range(50):
            with session_scope() as session:
                session.execute(update(Run).where(Run.id == run.run_id).values(heartbeat_at=utcnow() - timedelta(hours=1)))
            if Client(live_server).run(run.run_id).claim("host-b") is not None:
                break
        else:
            pytest.fail("another worker never took the silent run over")
        wait_until(stopped.is_set)
        assert run.cancel.is_set() and run.lost.is_set()
        assert load_run(run.run_id).worker_host == "host-b"
    finally:
        beat.stop()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_cancel_from_the_api_comes_back_with_the_next_beat(live_server):
    import httpx

    run = claimed(live_server)
    beat = Heartbeat(run, interval_s=0.05).start()
    try:
        time.sleep(0.2)
        assert not run.cancel.is_set()
        assert httpx.post(f"{live_server}/api/runs/{run.run_id}/cancel").status_code == 200
        wait_until(run.cancel.is_set)
        assert not run.requeue
    finally:
        beat.stop()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_pause_by_reglab_up_is_told_apart_from_a_cancel(live_server):
    run = claimed(live_server)
    redis.Redis.from_url(get_settings().REDIS_URL).set(cancel_key(run.run_id), REQUEUE)
    assert run.heartbeat() is True
    assert run.cancel.is_set() and run.requeue
