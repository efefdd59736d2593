"""A worker that dies holding a delivered, unclaimed task does not leave its run waiting for the broker's
visibility timeout (a day): the dispatcher sends the run again, and a free worker trains it within the
dispatch timeout and one dispatch interval; the old message, when it comes back, is refused at the claim
and acked. Real API (uvicorn), real Celery workers, real Redis."""

import json
import signal
import socket
import time
from datetime import datetime

import httpx
import pytest
import redis

from tests.stack.procs import TINY_SPEC, wait_until

pytestmark = [pytest.mark.slow, pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)]

TIMEOUT_S = 15.0
INTERVAL_S = 1.0


@pytest.fixture
def server_env():
    return {"REGLAB_HEARTBEAT_TIMEOUT_S": str(TIMEOUT_S), "REGLAB_DISPATCH_INTERVAL_S": str(INTERVAL_S)}


def unacked(client: redis.Redis, queue: str) -> dict[bytes, list]:
    """Messages of ``queue`` delivered to a worker and not acked yet (kombu's Redis transport keeps them here)."""
    entries = {tag: json.loads(raw) for tag, raw in client.hgetall("unacked").items()}
    return {tag: entry for tag, entry in entries.items() if entry[2] == queue}


def when(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def test_a_worker_killed_between_delivery_and_claim_delays_its_run_by_one_dispatch_timeout(
    reglab_env, live_server, celery_worker_factory
):
    queue = reglab_env["REGLAB_TRAIN_QUEUE"]
    broker = redis.Redis.from_url(reglab_env["REGLAB_REDIS_URL"])
    # An API address that accepts connections and never answers: the first worker's claim hangs.
    blackhole = socket.socket()
    blackhole.bind(("127.0.0.1", 0))
    blackhole.listen(64)
    try:
        doomed = celery_worker_factory({"REGLAB_URL": f"http://127.0.0.1:{blackhole.getsockname()[1]}"})
        created = httpx.post(f"{live_server}/api/experiments", json={"name": "held", "base": TINY_SPEC}, timeout=30)
        run_id = created.json()["runs"][0]["id"]
        wait_until(lambda: unacked(broker, queue), 30, "the task to be delivered")
        doomed.process.send_signal(signal.SIGSTOP)
        first_dispatch = when(httpx.get(f"{live_server}/api/runs/{run_id}").json()["dispatched_at"])
        doomed.process.send_signal(signal.SIGKILL)
        doomed.process.wait(10)
        [(tag, old_message)] = unacked(broker, queue).items()

        rescuer = celery_worker_factory()
        ready_at = time.time()
        run = wait_until(
            lambda: (r := httpx.get(f"{live_server}/api/runs/{run_id}").json())["state"] == "completed" and r,
            120, "the run to be trained by the second worker",
        )  # fmt: skip
        # Within the timeout and one interval of its first dispatch, or of a free worker if none was ready yet.
        assert when(run["started_at"]) <= max(first_dispatch + TIMEOUT_S + INTERVAL_S, ready_at) + 3.0, run
        assert run["attempts"] == 1
        assert f"dispatched more than {TIMEOUT_S:g} s ago and never claimed" in (live_server_log(reglab_env))

        # The broker gives the dead worker's message back (as after its visibility timeout): refused, acked.
        broker.hdel("unacked", tag)
        broker.zrem("unacked_index", tag)
        broker.lpush(queue, json.dumps(old_message[0]))
        wait_until(lambda: f"run {run_id}: not claimable" in rescuer.log(), 30, "the old message's refusal")
        wait_until(lambda: not unacked(broker, queue) and broker.llen(queue) == 0, 10, "the old message to be acked")
        after = httpx.get(f"{live_server}/api/runs/{run_id}").json()
        assert (after["state"], after["attempts"]) == ("completed", 1)
    finally:
        blackhole.close()
        broker.close()


def live_server_log(env) -> str:
    from pathlib import Path

    return (Path(env["REGLAB_DATA_DIR"]).parent / "uvicorn.log").read_text(errors="replace")
