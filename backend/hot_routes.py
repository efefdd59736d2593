"""The routes called once per epoch or per run, answered without FastAPI's per-request stack.

``POST /api/runs/{id}/metrics`` and ``POST /api/trainer/runs/{id}/epoch`` with a
well-formed JSON body are parsed with orjson, checked in bulk
(backend/metrics/batch.py) and handed to the routes' own service calls in one hop
to a thread: routing through every route, solving dependencies, a model per point
and the response model cost more than the database work of a 6-point batch
(bench/trainer_ingest.py); on SQLite, the metrics POST first tries a small
batch's write on the event loop itself, without the hop (backend/loop_writes.py).
``POST /api/runs/{id}/clone`` likewise, one hop to a thread instead of one per
dependency and the handler (bench/clone_runs.py).
Every other request (one with a query string included, which the routes refuse
or read), and any body a route's ``*_fast`` handler does not certainly accept
(it returns None), goes on to the declared routes, which stay the reference:
their OpenAPI entries and their 422s.

Added before the access check, so it runs inside it, inside the security headers
and inside the app's body-size limit.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, NamedTuple

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from backend.errors import ApiError
from backend.responses import dumps
from backend.run_ids import MAX_ID


class HotAnswer(NamedTuple):
    """What a hot call answers: the JSON body, what to run once it is sent, and the status."""

    body: dict[str, Any]
    after: Callable[[], None] | None = None
    status: int = 200


class HotCall(NamedTuple):
    """A route's work: ``call`` does it in a thread; ``now``, where a route has one, tries it first on the event
    loop and returns None when it cannot be done at once (see backend/loop_writes.py), leaving it to ``call``."""

    call: Callable[[], HotAnswer]
    now: Callable[[], HotAnswer | None] | None = None


# A route's fast handler: (run id, parsed body) -> the call, or None to leave the request to the route.
Handler = Callable[[int, Any], HotCall | None]
JSON = (b"content-type", b"application/json")


class HotRoutes:
    """ASGI middleware serving ``{path regex with a run_id group: handler}`` for POSTs with a JSON body."""

    def __init__(self, app: ASGIApp, routes: dict[str, Handler]):
        self.app = app
        self.routes = [(re.compile(pattern), handler) for pattern, handler in routes.items()]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        for pattern, handler in self.routes:
            if (match := pattern.fullmatch(scope["path"])) is not None:
                break
        else:
            await self.app(scope, receive, send)
            return
        run_id = int(match["run_id"])
        if (
            not 1 <= run_id <= MAX_ID
            or scope.get("query_string")
            or dict(scope["headers"]).get(b"content-type") != b"application/json"
        ):
            await self.app(scope, receive, send)
            return
        body = await read_body(receive)
        if body is None:  # the client went away
            return
        try:
            call = handler(run_id, orjson.loads(body))
        except orjson.JSONDecodeError:  # NaN, for one: the route's parser reads it
            call = None
        if call is None:
            await self.app(scope, replay(body, receive), send)
            return
        try:
            answer = call.now() if call.now is not None else None
            if answer is None:
                answer = await run_in_threadpool(call.call)
        except ApiError as exc:  # as backend.errors' handler answers it
            await respond(send, exc.status_code, {"detail": exc.detail})
            return
        await respond(send, answer.status, answer.body)
        if answer.after is not None:
            await run_in_threadpool(answer.after)


async def read_body(receive: Receive) -> bytes | None:
    chunks = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


def replay(body: bytes, receive: Receive) -> Receive:
    """``receive`` with the body already read given back first."""
    sent = False

    async def again() -> Message:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return again


async def respond(send: Send, status: int, content: dict[str, Any]) -> None:
    body = dumps(content)  # as the routes' OrjsonResponse writes it
    headers = [JSON, (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
