"""The per-process sender: single clones reach the real broker just after the answer, in batches,
and a broker that is away leaves them pending for the dispatcher pass."""

import json
import threading

import redis
from sqlalchemy import select

from backend import sender
from backend.channels import runs_channel
from backend.db import session_scope
from backend.dispatch import dispatch_pass
from backend.runs.models import Run
from backend.sender import Sender
from backend.settings import get_settings
from tests.backend.helpers import make_experiment
from tests.fixtures.services import free_port


def _dispatched(run_ids):
    with session_scope() as session:
        return dict(session.execute(select(Run.id, Run.dispatched_at.is_not(None)).where(Run.id.in_(run_ids))).all())


def test_ids_submitted_within_the_linger_go_in_one_send():
    sent, first_held = [], threading.Event()

    def send(ids):
        sent.append(ids)
        first_held.wait(5)  # the next ids arrive while this send is busy: they form the next batch

    batching = Sender(send, linger_s=0.3)
    batching.submit([1])
    batching.submit([2, 3])
    batching.submit([])
    while not sent:
        threading.Event().wait(0.01)
    batching.submit([4])
    batching.submit([5])
    first_held.set()
    assert batching.flush(5)
    assert sent == [[1, 2, 3], [4, 5]]


def test_a_failing_send_is_logged_and_the_sender_goes_on(caplog):
    calls = []

    def send(ids):
        calls.append(ids)
        if len(calls) == 1:
            raise RuntimeError("broker exploded")

    flaky = Sender(send, linger_s=0)
    flaky.submit([1])
    assert flaky.flush(5)
    flaky.submit([2])
    assert flaky.flush(5)
    assert calls == [[1], [2]] and "the dispatcher pass retries" in caplog.text


def test_a_clone_is_sent_and_announced_just_after_its_answer(client):
    source = make_experiment(client, name="base")["runs"][0]
    listener = redis.Redis.from_url(get_settings().REDIS_URL).pubsub(ignore_subscribe_messages=True)
    listener.subscribe(runs_channel())
    listener.get_message(timeout=1)
    queue = get_settings().TRAIN_QUEUE
    before = redis.Redis.from_url(get_settings().REDIS_URL).llen(queue)

    ids = [client.post(f"/api/runs/{source['id']}/clone", json={"training": {"seed": s}}).json()["id"] for s in (1, 2)]

    assert sender.flush(5)
    assert _dispatched(ids) == dict.fromkeys(ids, True)
    assert redis.Redis.from_url(get_settings().REDIS_URL).llen(queue) == before + 2
    announced = []
    while (message := listener.get_message(timeout=0.5)) is not None:
        announced += json.loads(message["data"])["run_ids"]
    listener.close()
    assert announced == ids


def test_a_clone_made_while_the_broker_is_away_is_sent_by_the_dispatcher_pass(client, monkeypatch):
    source = make_experiment(client, name="base")["runs"][0]
    real_url = get_settings().REDIS_URL
    monkeypatch.setenv("REGLAB_REDIS_URL", f"redis://127.0.0.1:{free_port()}/0")
    get_settings.cache_clear()

    response = client.post(f"/api/runs/{source['id']}/clone")

    assert response.status_code == 201 and response.json()["dispatched_at"] is None
    assert sender.flush(5)
    clone = response.json()["id"]
    assert _dispatched([clone]) == {clone: False}
    monkeypatch.setenv("REGLAB_REDIS_URL", real_url)
    get_settings.cache_clear()
    dispatch_pass()
    assert _dispatched([clone]) == {clone: True}
