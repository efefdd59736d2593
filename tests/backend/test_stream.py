"""GET /api/stream: Server-Sent Events relayed from a real Redis.

The stream needs no database, so these tests serve only the stream router
with a real uvicorn (in a thread, on a free port) and read it with httpx:
ASGI test transports buffer whole responses and cannot show a live stream.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator

import httpx
import pytest
import redis
import uvicorn
from fastapi import FastAPI

from backend import stream
from backend.channels import run_channel
from backend.errors import install_error_handlers
from backend.settings import get_settings
from tests.fixtures.services import free_port


@pytest.fixture
def stream_env(redis_url, monkeypatch) -> Iterator[redis.Redis]:
    monkeypatch.setenv("REGLAB_REDIS_URL", redis_url)
    monkeypatch.setenv("REGLAB_CHANNEL_PREFIX", f"reglab-stream-test-{uuid.uuid4().hex[:8]}")
    get_settings.cache_clear()
    client = redis.Redis.from_url(redis_url)
    yield client
    client.close()
    get_settings.cache_clear()


@pytest.fixture
def stream_url(stream_env, monkeypatch) -> Iterator[str]:
    monkeypatch.setattr(stream, "HEARTBEAT_S", 0.5)
    monkeypatch.setattr(stream, "POLL_S", 0.1)
    app = FastAPI()
    install_error_handlers(app)
    app.include_router(stream.router)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)


class SseReader:
    """Parses a text/event-stream response into events and comment lines."""

    def __init__(self, response: httpx.Response):
        self.lines = response.iter_lines()
        self.comments: list[str] = []

    def next_event(self) -> dict[str, str]:
        event: dict[str, str] = {}
        for line in self.lines:
            if line == "":
                if event:
                    return event
                continue
            if line.startswith(":"):
                self.comments.append(line)
                continue
            field, _, value = line.partition(":")
            event[field] = value[1:] if value.startswith(" ") else value
        raise AssertionError("stream ended")


def test_relays_points_and_state_with_ids(stream_url, stream_env):
    points = {
        "type": "points",
        "run_id": 7,
        "points": [{"name": "loss", "axis": "epoch", "x": 0, "value": 0.5, "t": 1.25}],
    }
    state = {"type": "state", "run_id": 8, "state": "running", "epoch": 0, "epochs": 3, "error": None}
    with httpx.Client(timeout=10) as client, client.stream("GET", f"{stream_url}/api/stream?run_ids=7,8") as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        reader = SseReader(response)
        ready = reader.next_event()
        assert ready["event"] == "ready"
        assert json.loads(ready["data"]) == {"run_ids": [7, 8]}
        # Not JSON, and an unknown type: both skipped without breaking the stream.
        stream_env.publish(run_channel(7), b"not json")
        stream_env.publish(run_channel(7), json.dumps({"type": "other"}))
        stream_env.publish(run_channel(7), json.dumps(points))
        stream_env.publish(run_channel(8), json.dumps(state))
        first, second = reader.next_event(), reader.next_event()
    assert (first["event"], first["id"], json.loads(first["data"])) == ("points", "1", points)
    assert (second["event"], second["id"], json.loads(second["data"])) == ("state", "2", state)


def test_other_runs_are_not_relayed(stream_url, stream_env):
    with httpx.Client(timeout=10) as client, client.stream("GET", f"{stream_url}/api/stream?run_ids=1") as response:
        reader = SseReader(response)
        assert reader.next_event()["event"] == "ready"
        stream_env.publish(run_channel(2), json.dumps({"type": "state", "run_id": 2, "state": "running"}))
        stream_env.publish(run_channel(1), json.dumps({"type": "state", "run_id": 1, "state": "completed"}))
        event = reader.next_event()
    assert json.loads(event["data"])["run_id"] == 1


def test_heartbeat_comments_keep_an_idle_stream_open(stream_url):
    with httpx.Client(timeout=10) as client, client.stream("GET", f"{stream_url}/api/stream?run_ids=3") as response:
        reader = SseReader(response)
        assert reader.next_event()["event"] == "ready"
        deadline = time.monotonic() + 5
        for line in reader.lines:
            if line.startswith(":"):
                break
            assert time.monotonic() < deadline, "no heartbeat comment within 5 s"
        else:
            raise AssertionError("stream ended")


def test_leaving_client_unsubscribes(stream_url, stream_env):
    channel = run_channel(42)
    with httpx.Client(timeout=10) as client, client.stream("GET", f"{stream_url}/api/stream?run_ids=42") as response:
        # Keep the reader: dropping its line iterator closes the response.
        reader = SseReader(response)
        assert reader.next_event()["event"] == "ready"
        assert dict(stream_env.pubsub_numsub(channel))[channel.encode()] == 1
    deadline = time.monotonic() + 5
    while dict(stream_env.pubsub_numsub(channel))[channel.encode()] != 0:
        assert time.monotonic() < deadline, "the server kept its subscription after the client left"
        time.sleep(0.05)


@pytest.mark.parametrize(
    ("run_ids", "message"),
    [
        ("", "at least 1 run id"),
        ("1,x", "comma-separated run ids"),
        (",".join(str(i) for i in range(1, 102)), "at most 100"),
        # str.isdigit accepts a superscript two (int() then raised: a 500) and int() reads a fullwidth two as 2.
        ("\u00b2", "ASCII digits"),
        ("1,\uff12", "ASCII digits"),
        ("2147483648", "1 to 2147483647"),
    ],
)
def test_bad_run_ids_are_422(stream_url, run_ids, message):
    response = httpx.get(f"{stream_url}/api/stream", params={"run_ids": run_ids}, timeout=10)
    assert response.status_code == 422
    [error] = response.json()["detail"]
    assert error["field"] == "run_ids" and message in error["msg"] and error["type"]


def test_hundred_runs_are_accepted(stream_url):
    ids = ",".join(str(i) for i in range(1, 101))
    with httpx.Client(timeout=10) as client, client.stream("GET", f"{stream_url}/api/stream?run_ids={ids}") as response:
        reader = SseReader(response)
        ready = reader.next_event()
    assert json.loads(ready["data"])["run_ids"] == list(range(1, 101))


def test_the_runs_stream_carries_every_runs_state_and_the_runs_sent_to_workers(stream_url, stream_env):
    from backend import events
    from backend.trainer.live import publish_points

    with httpx.Client(timeout=10) as client, client.stream("GET", f"{stream_url}/api/stream/runs") as response:
        assert response.status_code == 200
        reader = SseReader(response)
        assert reader.next_event()["event"] == "ready"
        # What the API publishes when it sends new runs, then a worker's and the API's state changes.
        assert events.publish_queued([5, 6], [2])
        # What the trainer endpoints publish as a worker's epoch is stored.
        assert events.publish_state(5, "running", epoch=0, epochs=3, error=None)
        assert publish_points(5, [{"name": "loss", "axis": "epoch", "x": 0, "value": 1.0, "t": 1.0}])
        assert events.publish_state(6, "cancelled")
        received = [reader.next_event() for _ in range(3)]
    assert [(e["event"], json.loads(e["data"]).get("run_id")) for e in received] == [
        ("runs", None), ("state", 5), ("state", 6)
    ]  # fmt: skip
    assert json.loads(received[0]["data"]) == {"type": "runs", "state": "queued", "run_ids": [5, 6], "experiment_ids": [2]}
