"""The threads that keep a running run alive and listening: heartbeat and cancel watcher."""

import time

import pytest
import redis

from backend.channels import cancel_channel, cancel_key
from backend.settings import get_settings
from tests.worker.helpers import TINY
from tests.worker.store import create_run, load_run
from worker import runs
from worker.heartbeat import Heartbeat
from worker.live import CancelWatcher


def wait_until(predicate, timeout=5.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline
        time.sleep(0.02)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_heartbeat_thread_refreshes_a_running_run(reglab_env):
    run_id = create_run(TINY)
    runs.claim(run_id, "host")
    first = load_run(run_id).heartbeat_at
    beat = Heartbeat(run_id, interval_s=0.05).start()
    try:
        wait_until(lambda: load_run(run_id).heartbeat_at > first)
    finally:
        beat.stop()


def test_heartbeat_of_an_attempt_taken_over_stops_its_training(reglab_env):
    import threading

    run_id = create_run(TINY)
    first = runs.claim(run_id, "host-a")
    stop_training = threading.Event()
    beat = Heartbeat(run_id, interval_s=0.05, attempt=first.attempt, on_lost=stop_training.set).start()
    try:
        time.sleep(0.2)
        assert not stop_training.is_set()
        # Taken for dead (a partition) and claimed by another worker, as runs.claim leaves it.
        with runs.session_scope() as session:
            session.execute(runs.update(runs.Run).where(runs.Run.id == run_id).values(attempts=2, worker_host="host-b"))
        wait_until(stop_training.is_set)
        assert load_run(run_id).worker_host == "host-b"
    finally:
        beat.stop()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_cancel_watcher_hears_the_channel(reglab_env):
    watcher = CancelWatcher(4242, poll_s=0.05).start()
    try:
        assert not watcher.event.is_set()
        redis.Redis.from_url(get_settings().REDIS_URL).publish(cancel_channel(4242), "cancel")
        wait_until(watcher.event.is_set)
    finally:
        watcher.stop()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_cancel_watcher_sees_a_request_made_before_it_started(reglab_env):
    client = redis.Redis.from_url(get_settings().REDIS_URL)
    client.set(cancel_key(4343), 1)
    watcher = CancelWatcher(4343, poll_s=0.05).start()
    try:
        assert watcher.event.is_set()
        watcher.clear_request()
        assert not client.exists(cancel_key(4343))
    finally:
        watcher.stop()
