"""The browser's session: sign in by pasting a token once, sign out."""

from __future__ import annotations

import secrets
from typing import Annotated, Literal

import anyio
from fastapi import APIRouter, HTTPException, Request, Response
from pydantic import BaseModel, Field
from starlette.requests import cookie_parser

from backend.auth.access import CSRF_COOKIE, SESSION_COOKIE, bearer_token, lookup
from backend.auth.limiter import get_limiter
from backend.errors import error_responses
from backend.settings import get_settings

router = APIRouter(prefix="/api/session", tags=["session"])


class SignIn(BaseModel):
    token: Annotated[str, Field(min_length=1, max_length=200, description="an API token from `reglab token create`")]


class SessionInfo(BaseModel):
    auth: Literal["off", "write", "all"] = Field(description="the server's REGLAB_AUTH mode")
    signed_in: bool
    name: str | None = None
    scope: str | None = None


def _address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


@router.get("", response_model=SessionInfo)
async def read_session(request: Request) -> SessionInfo:
    """Who this request acts as: its bearer token, else its session cookie."""
    secret = bearer_token(request.headers) or cookie_parser(request.headers.get("cookie", "")).get(SESSION_COOKIE)
    found = await anyio.to_thread.run_sync(lookup, secret) if secret else None
    auth = get_settings().AUTH
    if found is None:
        return SessionInfo(auth=auth, signed_in=False)
    return SessionInfo(auth=auth, signed_in=True, name=found[0], scope=found[1])


@router.post(
    "",
    response_model=SessionInfo,
    responses=error_responses(401, 422, 429),
)
async def sign_in(body: SignIn, request: Request, response: Response) -> SessionInfo:
    """Check a token and keep it in an HttpOnly cookie; a readable CSRF cookie goes with it."""
    limiter, address = get_limiter(), _address(request)
    if (wait := limiter.retry_after(address)) is not None:
        raise HTTPException(429, f"too many failed sign-ins from {address}; try again in {wait} s", {"Retry-After": str(wait)})
    found = await anyio.to_thread.run_sync(lookup, body.token.strip())
    if found is None:
        limiter.fail(address)
        raise HTTPException(401, "the token is invalid or revoked", {"WWW-Authenticate": 'Bearer error="invalid_token"'})
    secure = request.url.scheme == "https"
    common = {"samesite": "strict", "path": "/", "secure": secure}
    response.set_cookie(SESSION_COOKIE, body.token.strip(), httponly=True, **common)
    # Readable by the dashboard's scripts, which echo it in X-CSRF-Token on writes.
    response.set_cookie(CSRF_COOKIE, secrets.token_urlsafe(32), httponly=False, **common)
    return SessionInfo(auth=get_settings().AUTH, signed_in=True, name=found[0], scope=found[1])


@router.delete("", status_code=204)
async def sign_out(request: Request) -> Response:
    """Drop the session and CSRF cookies (the token itself stays valid; `reglab token revoke` ends it)."""
    response = Response(status_code=204)
    secure = request.url.scheme == "https"
    for name in (SESSION_COOKIE, CSRF_COOKIE):
        response.delete_cookie(name, path="/", samesite="strict", secure=secure, httponly=name == SESSION_COOKIE)
    return response
