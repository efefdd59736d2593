"""Runs sent to a worker that never claimed them are sent again, on a real Redis and both databases."""

from datetime import timedelta

import redis
from sqlalchemy import select

from backend.db import session_scope
from backend.dispatch import dispatch_pass, stale_dispatch_ids
from backend.runs.models import Run
from backend.settings import get_settings
from backend.timeutil import as_utc, utcnow
from tests.backend.helpers import make_experiment, set_run


def _queue() -> redis.Redis:
    return redis.Redis.from_url(get_settings().REDIS_URL)


def _dispatched_at(run_id):
    with session_scope() as session:
        return as_utc(session.scalar(select(Run.dispatched_at).where(Run.id == run_id)))


def test_the_query_finds_only_queued_runs_sent_before_the_cutoff_oldest_first(client):
    ids = [r["id"] for r in make_experiment(client, grid={"training.seed": [1, 2, 3, 4, 5, 6]})["runs"]]
    now = utcnow()
    older, old, fresh, never_sent, claimed, done = ids
    set_run(older, dispatched_at=now - timedelta(minutes=30))
    set_run(old, dispatched_at=now - timedelta(minutes=10))
    set_run(fresh, dispatched_at=now - timedelta(seconds=30))
    set_run(never_sent, dispatched_at=None)
    set_run(claimed, state="running", dispatched_at=now - timedelta(hours=1), started_at=now, heartbeat_at=now)
    set_run(done, state="completed", dispatched_at=now - timedelta(hours=1))

    cutoff = now - timedelta(minutes=5)
    assert stale_dispatch_ids(cutoff) == [older, old]
    assert stale_dispatch_ids(cutoff, limit=1) == [older]
    assert stale_dispatch_ids(now - timedelta(hours=2)) == []


def test_a_delivered_message_never_claimed_is_sent_again_once_the_queue_is_drained(client):
    settings = get_settings()
    stuck, waiting = (r["id"] for r in make_experiment(client, grid={"training.seed": [1, 2]})["runs"])
    queue = _queue()
    assert queue.llen(settings.TRAIN_QUEUE) == 2
    long_ago = utcnow() - timedelta(seconds=settings.dispatch_timeout_s + 60)
    set_run(stuck, dispatched_at=long_ago)

    # Its message still waits in the queue (no free worker): sending a copy would only pile them up.
    assert dispatch_pass()["resent"] == 0
    assert dispatch_pass()["resent"] == 0

    # A worker takes both messages; it claims `waiting`, then dies before claiming `stuck`.
    queue.delete(settings.TRAIN_QUEUE)
    set_run(waiting, state="running", started_at=utcnow(), heartbeat_at=utcnow())
    # The first pass to see the queue empty leaves a just-delivered message time for its claim.
    assert dispatch_pass()["resent"] == 0
    assert dispatch_pass()["resent"] == 1

    assert queue.llen(settings.TRAIN_QUEUE) == 1
    assert _dispatched_at(stuck) > long_ago + timedelta(seconds=59)
    # Sent again at most once per timeout: the new dispatch is fresh.
    queue.delete(settings.TRAIN_QUEUE)
    assert dispatch_pass()["resent"] == 0 and dispatch_pass()["resent"] == 0
    with session_scope() as session:
        assert session.scalar(select(Run.state).where(Run.id == stuck)) == "queued"


def test_a_dispatch_younger_than_the_timeout_is_left_alone(client, monkeypatch):
    monkeypatch.setenv("REGLAB_DISPATCH_TIMEOUT_S", "3600")
    get_settings.cache_clear()
    assert get_settings().dispatch_timeout_s == 3600
    run_id = make_experiment(client)["runs"][0]["id"]
    sent_at = utcnow() - timedelta(seconds=get_settings().HEARTBEAT_TIMEOUT_S + 60)
    set_run(run_id, dispatched_at=sent_at)
    _queue().delete(get_settings().TRAIN_QUEUE)

    assert [dispatch_pass()["resent"] for _ in range(3)] == [0, 0, 0]
    assert _dispatched_at(run_id) == as_utc(sent_at)
