"""Redis side of a running run: announcing its points and state, hearing its cancel request.

Live updates are best effort: the database holds every point, so a Redis
hiccup is logged and never fails a run.
"""

from __future__ import annotations

import json
import logging
import threading
from typing import Any

import redis

from backend.channels import REQUEUE, cancel_channel, cancel_key, run_channel, runs_channel
from backend.settings import get_settings

log = logging.getLogger(__name__)


def connect() -> redis.Redis:
    return redis.Redis.from_url(get_settings().REDIS_URL, socket_timeout=5, socket_connect_timeout=5)


class Publisher:
    """Publishes a run's messages on ``run_channel(run_id)``."""

    def __init__(self, run_id: int, client: redis.Redis | None = None):
        self.run_id = run_id
        self.channel = run_channel(run_id)
        self.client = client or connect()

    def publish(self, message: dict[str, Any], everyone: bool = False) -> None:
        """On the run's channel; with ``everyone`` on the runs channel too (state changes)."""
        try:
            data = json.dumps({**message, "run_id": self.run_id}, allow_nan=False)
            if everyone:
                pipe = self.client.pipeline(transaction=False)
                pipe.publish(self.channel, data)
                pipe.publish(runs_channel(), data)
                pipe.execute()
            else:
                self.client.publish(self.channel, data)
        except (redis.RedisError, ValueError) as error:
            log.warning("run %s: live update not published: %s", self.run_id, error)

    def points(self, points: list[dict[str, Any]]) -> None:
        self.publish({"type": "points", "points": points})

    def state(self, state: str, epoch: int, epochs: int, error: str | None = None) -> None:
        self.publish({"type": "state", "state": state, "epoch": epoch, "epochs": epochs, "error": error}, everyone=True)


class CancelWatcher:
    """Sets ``event`` when the API asks to cancel the run.

    A daemon thread subscribes to ``cancel_channel(run_id)`` and then reads
    ``cancel_key(run_id)`` once, so a request made before the subscription
    is not missed. Training checks the event, never Redis. ``requeue`` tells
    whether the stop came from ``reglab up`` pausing the run (it keeps its
    checkpoint) rather than from a person cancelling it.
    """

    def __init__(self, run_id: int, client: redis.Redis | None = None, poll_s: float = 0.5):
        self.run_id = run_id
        self.event = threading.Event()
        self.requeue = False
        self.client = client or connect()
        self.poll_s = poll_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name=f"cancel-watch-{run_id}", daemon=True)
        self._subscribed = threading.Event()

    def start(self) -> "CancelWatcher":
        self._thread.start()
        self._subscribed.wait(5)
        return self

    def _watch(self) -> None:
        pubsub = None
        try:
            pubsub = self.client.pubsub(ignore_subscribe_messages=True)
            pubsub.subscribe(cancel_channel(self.run_id))
            requested = self.client.get(cancel_key(self.run_id))
            if requested is not None:
                self._heard(requested)
            self._subscribed.set()
            while not self._stop.is_set() and not self.event.is_set():
                message = pubsub.get_message(timeout=self.poll_s)
                if message is not None:
                    self._heard(message["data"])
        except redis.RedisError as error:
            log.warning("run %s: cancel requests not heard: %s", self.run_id, error)
        finally:
            self._subscribed.set()
            if pubsub is not None:
                try:
                    pubsub.close()
                except redis.RedisError:
                    pass

    def _heard(self, request: bytes | str) -> None:
        text = request.decode() if isinstance(request, bytes) else str(request)
        self.requeue = text == REQUEUE
        self.event.set()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)

    def clear_request(self) -> None:
        """Forget a served cancel request."""
        try:
            self.client.delete(cancel_key(self.run_id))
        except redis.RedisError as error:
            log.warning("run %s: cancel key not cleared: %s", self.run_id, error)
