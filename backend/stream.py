"""Server-Sent Events for live charts: ``GET /api/stream?run_ids=1,2,3``.

The worker (and the API, on cancel and clone) publishes JSON messages on
``run_channel(run_id)``; this endpoint subscribes to the channels of the
requested runs with ``redis.asyncio`` and forwards each message as an SSE
event named after its ``type`` (``points``, ``state`` or ``layers``).

Redis pub/sub keeps no history, so an SSE id cannot be replayed after a
reconnect: ids are a per-connection sequence, and a reconnecting browser fills
the gap from the REST API instead (``GET /api/runs/{id}/metrics``). The first
event of every connection is ``ready``, sent once the subscription is active,
which tells the client (and tests) that nothing published from now on is lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
from collections.abc import AsyncIterator

import redis.asyncio as aioredis
from redis.exceptions import RedisError
from fastapi import APIRouter, Request
from sse_starlette import EventSourceResponse, ServerSentEvent

from backend.channels import run_channel, runs_channel
from backend.errors import error_responses
from backend.run_ids import RunIds
from backend.settings import get_settings

log = logging.getLogger(__name__)
router = APIRouter(prefix="/api", tags=["stream"])

# Comment lines at this interval keep proxies from closing an idle stream;
# a module constant so tests can shorten it.
HEARTBEAT_S = 15.0
# How long one wait on Redis lasts before checking whether the client left.
POLL_S = 1.0
# Browsers reconnect this soon after a dropped stream (EventSource's default is ~3 s).
RETRY_MS = 1000
EVENT_TYPES = frozenset({"points", "state", "runs", "layers"})


def decode_message(data: bytes | str) -> tuple[str, str] | None:
    """The SSE event name and payload of one pub/sub message, or None to skip it."""
    text = data.decode() if isinstance(data, bytes) else data
    try:
        kind = json.loads(text).get("type")
    except (ValueError, AttributeError):
        return None
    if kind not in EVENT_TYPES:
        return None
    # The payload is forwarded as published: no re-encoding on the hot path.
    return kind, text


def stream_client_name() -> str:
    """The Redis client name of stream subscribers (CLIENT LIST shows whose they are)."""
    return re.sub(r"[^A-Za-z0-9_.:-]", "_", f"{get_settings().CHANNEL_PREFIX}:stream")


async def relay_events(
    request: Request, run_ids: list[int], channels: list[str] | None = None
) -> AsyncIterator[ServerSentEvent]:
    """Yield one SSE event per message on the runs' channels (or ``channels``) until the client leaves."""
    channels = channels or [run_channel(run_id) for run_id in run_ids]
    client = aioredis.from_url(get_settings().REDIS_URL, client_name=stream_client_name())
    pubsub = client.pubsub()
    sequence = 0
    try:
        await pubsub.subscribe(*channels)
        # subscribe() returns before Redis confirms; wait for every confirmation
        # so "ready" really means "subscribed".
        confirmed = 0
        early: list[dict] = []  # published on a channel already confirmed, relayed after "ready"
        while confirmed < len(channels):
            message = await pubsub.get_message(timeout=POLL_S)
            if message is None:
                if await request.is_disconnected():
                    return
            elif message["type"] == "subscribe":
                confirmed += 1
            else:
                early.append(message)
        yield ServerSentEvent(data=json.dumps({"run_ids": run_ids}), event="ready", id="0", retry=RETRY_MS)
        while True:
            if early:
                message = early.pop(0)
            else:
                message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=POLL_S)
            if message is None:
                if await request.is_disconnected():
                    return
                continue
            if message["type"] != "message":
                continue
            decoded = decode_message(message["data"])
            if decoded is None:
                continue
            sequence += 1
            kind, payload = decoded
            yield ServerSentEvent(data=payload, event=kind, id=str(sequence))
    except (RedisError, OSError) as exc:
        # End the stream cleanly: the browser reconnects after RETRY_MS and refills from REST.
        log.warning("live stream of %s lost Redis: %s", f"runs {run_ids}" if run_ids else channels, exc)
    finally:
        # Runs on normal exit and on cancellation (the client went away); shield
        # it so the connection goes back to Redis even while being cancelled.
        await asyncio.shield(close_pubsub(client, pubsub))


async def close_pubsub(client: aioredis.Redis, pubsub: aioredis.client.PubSub) -> None:
    # A connection Redis already dropped must not turn a clean close into an error.
    with contextlib.suppress(Exception):
        await pubsub.unsubscribe()
        await pubsub.aclose()
    with contextlib.suppress(Exception):
        await client.aclose()


@router.get(
    "/stream",
    response_class=EventSourceResponse,
    responses={
        200: {"description": "An endless text/event-stream", "content": {"text/event-stream": {"schema": {"type": "string"}}}},
        **error_responses(422),
    },
)
async def stream_runs(
    request: Request,
    ids: RunIds,
) -> EventSourceResponse:
    """Live ``points`` and ``state`` events of the given runs (text/event-stream)."""
    return EventSourceResponse(
        relay_events(request, ids),
        ping=HEARTBEAT_S,
        # Proxies (nginx) buffer responses unless told not to.
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


@router.get(
    "/stream/runs",
    response_class=EventSourceResponse,
    responses={200: {"description": "An endless text/event-stream", "content": {"text/event-stream": {"schema": {"type": "string"}}}}},
)
async def stream_all_runs(request: Request) -> EventSourceResponse:
    """Every run's ``state`` changes, and ``runs`` when new runs are queued (text/event-stream).

    What the Runs page follows, so runs submitted elsewhere (the CLI, another
    tab) appear without a reload; per-epoch points stay on ``/api/stream``.
    """
    return EventSourceResponse(
        relay_events(request, [], channels=[runs_channel()]),
        ping=HEARTBEAT_S,
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
