"""Enforces REGLAB_AUTH on every request, before any route runs.

One ASGI middleware, so pages, the API, the docs and routes added later are
all covered by the policy in ``backend.auth.scopes``. A request carries a
token as ``Authorization: Bearer <token>`` or, from the dashboard, in the
HttpOnly session cookie; cookie-authenticated writes must also pass the CSRF
check. Unsafe requests from a browser on another origin are refused in every
mode, ``off`` included.
"""

from __future__ import annotations

import logging
import secrets
import time
from typing import Any
from urllib.parse import quote, urlsplit

import anyio
from starlette.datastructures import Headers
from starlette.requests import cookie_parser
from starlette.responses import RedirectResponse, Response
from starlette.routing import compile_path
from starlette.types import ASGIApp, Receive, Scope, Send

from backend.auth import scopes
from backend.auth.limiter import get_limiter
from backend.auth.scopes import SAFE_METHODS, Need
from backend.auth.service import hash_token
from backend.responses import OrjsonResponse

log = logging.getLogger(__name__)

SESSION_COOKIE = "reglab_session"
CSRF_COOKIE = "reglab_csrf"
CSRF_HEADER = "x-csrf-token"
SIGNIN_PATH = "/signin"
# What REGLAB_AUTH=write leaves open.
READS = (Need.READ, Need.WORKER_READ)
NO_TOKEN = (
    "this route needs a token: send 'Authorization: Bearer <token>' (the CLI reads REGLAB_TOKEN or --token), "
    "or sign in at /signin; `reglab token create` makes one"
)


def error(status: int, detail: str, headers: dict[str, str] | None = None) -> Response:
    return OrjsonResponse({"detail": detail}, status_code=status, headers=headers)


class RouteTable:
    """Path templates of the app's routes, read from its OpenAPI document (a public, stable view of
    every route, whichever router included it); hidden routes (pages) match by their raw path."""

    def __init__(self, app: Any):
        entries = []
        try:
            paths = app.openapi().get("paths") or {}
        except Exception:
            # Fail closed: every route then needs the default for its method (worker routes need write).
            log.exception("cannot read the routes from the OpenAPI document; access falls back to the defaults")
            paths = {}
        for template, operations in paths.items():
            regex = compile_path(template)[0]
            entries.append((regex, frozenset(method.upper() for method in operations), template))
        # Fixed segments before parameters: /api/runs/external before /api/runs/{run_id}.
        entries.sort(key=lambda entry: entry[2].count("{"))
        self.entries = entries

    def template(self, method: str, path: str) -> str:
        partial = None
        for regex, methods, template in self.entries:
            if regex.match(path):
                if method in methods or (method == "HEAD" and "GET" in methods):
                    return template
                partial = partial or template
        return partial or path


def own_origin(scope: Scope, headers: Headers) -> str:
    return f"{scope.get('scheme', 'http')}://{headers.get('host', '')}".lower()


def request_origin(headers: Headers) -> str | None:
    """The Origin header, or the origin of the Referer when a browser sent no Origin."""
    if origin := headers.get("origin"):
        return origin.lower()
    if referer := headers.get("referer"):
        parts = urlsplit(referer)
        return f"{parts.scheme}://{parts.netloc}".lower()
    return None


def bearer_token(headers: Headers) -> str | None:
    kind, _, value = headers.get("authorization", "").partition(" ")
    return value.strip() or None if kind.lower() == "bearer" else None


def is_page(path: str) -> bool:
    return not path.startswith("/api/") and path != "/openapi.json"


class TokenCache:
    """Tokens seen valid in the last ``ttl_s`` seconds, so a metrics batch does not pay a database
    query (0.3-0.5 ms of CPU) for its token; a revocation therefore takes up to ``ttl_s`` to bite."""

    MAX_ENTRIES = 10_000

    def __init__(self, ttl_s: float):
        self.ttl_s = ttl_s
        self._entries: dict[str, tuple[float, tuple[str, str]]] = {}

    def get(self, secret: str) -> tuple[str, str] | None:
        entry = self._entries.get(hash_token(secret))
        if entry is None or time.monotonic() - entry[0] > self.ttl_s:
            return None
        return entry[1]

    def put(self, secret: str, found: tuple[str, str]) -> None:
        if self.ttl_s <= 0:
            return
        if len(self._entries) >= self.MAX_ENTRIES:
            self._entries.clear()
        self._entries[hash_token(secret)] = (time.monotonic(), found)


def lookup(secret: str) -> tuple[str, str] | None:
    """(name, scope) of the active token with this secret, or None; blocking, run in a thread."""
    from backend.auth.service import authenticate
    from backend.db import get_sessionmaker

    with get_sessionmaker()() as session:
        token = authenticate(session, secret)
        return None if token is None else (token.name, token.scope)


class AccessMiddleware:
    """Answers 401/403/429 (or, for pages, a redirect to /signin) before the app sees the request."""

    def __init__(self, app: ASGIApp, mode: str, cache_s: float = 0.0):
        self.app = app
        self.mode = mode
        self.cache = TokenCache(cache_s)
        self._routes: RouteTable | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            refusal = await self.check(scope)
            if refusal is not None:
                await refusal(scope, receive, send)
                return
        await self.app(scope, receive, send)

    async def check(self, scope: Scope) -> Response | None:
        method, path = scope["method"], scope["path"]
        headers = Headers(scope=scope)
        bearer = bearer_token(headers)
        unsafe = method not in SAFE_METHODS
        origin = request_origin(headers)
        if unsafe and bearer is None and origin is not None and origin != own_origin(scope, headers):
            return error(403, f"cross-site request refused: origin {origin} is not this server's")
        if self.mode == "off":
            return None
        if self._routes is None:
            self._routes = RouteTable(scope["app"])
        need = scopes.need_for(method, self._routes.template(method, path))
        if need is Need.OPEN or (self.mode == "write" and need in READS):
            return None
        cookies = cookie_parser(headers.get("cookie", ""))
        secret = bearer or cookies.get(SESSION_COOKIE)
        page = is_page(path) and not unsafe
        if not secret:
            return self.to_signin(scope) if page else error(401, NO_TOKEN, {"WWW-Authenticate": "Bearer"})
        address = (scope.get("client") or ("unknown",))[0]
        limiter = get_limiter()
        if (wait := limiter.retry_after(address)) is not None:
            return error(429, f"too many failed sign-ins from {address}; try again in {wait} s", {"Retry-After": str(wait)})
        found = self.cache.get(secret)
        if found is None and (found := await anyio.to_thread.run_sync(lookup, secret)) is not None:
            self.cache.put(secret, found)
        if found is None:
            limiter.fail(address)
            if page:
                return self.to_signin(scope)
            return error(401, "the token is invalid or revoked", {"WWW-Authenticate": 'Bearer error="invalid_token"'})
        name, scope_name = found
        if not scopes.allows(need, scope_name):
            wanted = " or ".join(sorted(need.value))
            return error(403, f"{method} {path} needs a token with scope {wanted}; token {name!r} has scope {scope_name}")
        if unsafe and bearer is None and (problem := csrf_problem(headers, cookies, origin)):
            return error(403, problem)
        scope.setdefault("state", {})["token"] = {"name": name, "scope": scope_name}
        return None

    @staticmethod
    def to_signin(scope: Scope) -> Response:
        target = scope["path"] + (f"?{scope['query_string'].decode()}" if scope.get("query_string") else "")
        return RedirectResponse(f"{SIGNIN_PATH}?next={quote(target, safe='')}", status_code=303)


def csrf_problem(headers: Headers, cookies: dict[str, str], origin: str | None) -> str | None:
    """Why a cookie-authenticated write fails the CSRF check, or None if it passes.

    Double submit: the readable ``reglab_csrf`` cookie must come back in the
    X-CSRF-Token header, which only this origin's scripts can read and set; and
    the browser must name an origin (checked against ours above).
    """
    expected, sent = cookies.get(CSRF_COOKIE), headers.get(CSRF_HEADER)
    if not expected or not sent or not secrets.compare_digest(expected.encode(), sent.encode()):
        return "CSRF check failed: a write with the session cookie needs the X-CSRF-Token header (sign in again at /signin)"
    if origin is None:
        return "CSRF check failed: the request has neither an Origin nor a Referer header"
    return None
