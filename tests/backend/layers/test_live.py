"""A stored snapshot is announced on the run's channel, and the SSE relay forwards it as a ``layers`` event."""

import json
import time

import numpy as np

from backend import events, stream
from backend.channels import run_channel
from tests.backend.layers.helpers import mlp_arrays, snapshot


def test_a_posted_snapshot_is_published_as_a_layers_event(client):
    run_id = client.post("/api/runs/external", json={"experiment": "live", "name": "r"}).json()["run_id"]
    pubsub = events.redis_client().pubsub()
    pubsub.subscribe(run_channel(run_id))
    assert pubsub.get_message(timeout=5)["type"] == "subscribe"
    body = {"attempt": 1, "snapshots": [snapshot(3, mlp_arrays(np.random.default_rng(0)))]}
    assert client.post(f"/api/runs/{run_id}/layers", json=body).status_code == 200
    deadline, message = time.monotonic() + 5, None
    while message is None and time.monotonic() < deadline:
        message = pubsub.get_message(ignore_subscribe_messages=True, timeout=1)
    pubsub.close()
    assert message is not None, "nothing published"
    assert json.loads(message["data"]) == {"type": "layers", "run_id": run_id, "epoch": 3}
    assert stream.decode_message(message["data"]) == ("layers", message["data"].decode())
