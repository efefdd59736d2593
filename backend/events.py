"""Publishing run events on Redis and asking workers to cancel.

Message formats are documented in :mod:`backend.channels`. Publishing is best
effort: a Redis that is down never fails the request that changed the state.
"""

from __future__ import annotations

import logging
from functools import lru_cache
from typing import Any

import orjson
import redis

from backend.channels import PRUNE_PREFIX, REQUEUE, cancel_channel, cancel_key, run_channel, runs_channel
from backend.settings import get_settings

log = logging.getLogger(__name__)

# A cancel request outlives any plausible queue wait, then cleans itself up.
CANCEL_TTL_S = 7 * 24 * 3600


@lru_cache(maxsize=4)
def _client(url: str, timeout: float) -> redis.Redis:
    return redis.Redis.from_url(url, socket_connect_timeout=timeout, socket_timeout=timeout)


def redis_client() -> redis.Redis:
    """A Redis client for the current settings, with the broker timeout on every socket."""
    settings = get_settings()
    return _client(settings.REDIS_URL, settings.BROKER_TIMEOUT_S)


def publish_state(run_id: int, state: str, **extra: Any) -> bool:
    """Publish ``{"type": "state", "run_id", "state", ...}`` on the run's channel and the runs channel."""
    message = orjson.dumps({"type": "state", "run_id": run_id, "state": state, **extra})
    try:
        pipe = redis_client().pipeline(transaction=False)
        pipe.publish(run_channel(run_id), message)
        pipe.publish(runs_channel(), message)
        pipe.execute()
        return True
    except (redis.RedisError, OSError) as exc:
        log.warning("could not publish state of run %s: %s", run_id, exc)
        return False


def publish_layers(run_id: int, epochs: list[int]) -> bool:
    """``{"type": "layers", "run_id", "epoch"}`` on the run's channel for each stored snapshot (an open page then
    reads ``GET /api/runs/{id}/layers?epochs=N``); best effort."""
    if not epochs:
        return True
    try:
        pipe = redis_client().pipeline(transaction=False)
        for epoch in epochs:
            pipe.publish(run_channel(run_id), orjson.dumps({"type": "layers", "run_id": run_id, "epoch": epoch}))
        pipe.execute()
        return True
    except (redis.RedisError, OSError) as exc:
        log.warning("could not announce layer snapshots of run %s: %s", run_id, exc)
        return False


def publish_queued(run_ids: list[int], experiment_ids: list[int], state: str = "queued") -> bool:
    """Announce new runs on the runs channel (open Runs pages list them): runs just sent to
    the workers (``queued``), or an external run that started elsewhere (``running``)."""
    message = orjson.dumps({"type": "runs", "state": state, "run_ids": run_ids, "experiment_ids": experiment_ids})
    try:
        redis_client().publish(runs_channel(), message)
        return True
    except (redis.RedisError, OSError) as exc:
        log.warning("could not announce %s runs %s: %s", state, run_ids, exc)
        return False


def request_cancel(
    *run_ids: int, client: redis.Redis | None = None, requeue: bool = False, prune: str | None = None
) -> None:
    """Set each run's cancel key and wake a worker listening on its cancel channel.

    ``requeue``: the run is stopped to be re-queued (``reglab up`` stopping), so
    the worker keeps its resume checkpoint. ``prune``: a study's pruner stops it,
    for this reason; the worker stops as for a cancel, and the run ends ``pruned``.
    Raises ``redis.RedisError`` when Redis is away, since then no worker can hear it.
    """
    value, message = (REQUEUE, REQUEUE.encode()) if requeue else ("1", b"cancel")
    if prune is not None:
        value = PRUNE_PREFIX + prune
    pipe = (client or redis_client()).pipeline(transaction=False)
    for run_id in run_ids:
        pipe.set(cancel_key(run_id), value, ex=CANCEL_TTL_S)
        pipe.publish(cancel_channel(run_id), message)
    pipe.execute()
