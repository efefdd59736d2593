"""Tokens: create (the secret is shown once), list, revoke, and look one up by its secret."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.auth.models import Token
from backend.auth.scopes import SCOPES
from backend.timeutil import as_utc, utcnow

TOKEN_PREFIX = "rl_"
# Writing last_used_at on every request would add a write to every metrics batch.
LAST_USED_RESOLUTION = timedelta(seconds=60)


class TokenError(ValueError):
    """A token command that cannot be done, explained in one message."""


def hash_token(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create_token(session: Session, name: str, scope: str) -> tuple[Token, str]:
    """A new token and its secret; only the hash is stored, so the secret cannot be shown again."""
    name = name.strip()
    if not name or len(name) > 100:
        raise TokenError(f"--name must have 1 to 100 characters, got {len(name)}")
    if name.isdigit():
        raise TokenError(f"--name must not be a number (revoke takes a name or an id), got {name!r}")
    if scope not in SCOPES:
        raise TokenError(f"--scope must be one of {', '.join(SCOPES)}, got {scope!r}")
    if session.scalar(select(Token.id).where(Token.name == name, Token.revoked_at.is_(None))) is not None:
        raise TokenError(f"an active token is already named {name!r}; revoke it first or pick another name")
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = Token(name=name, scope=scope, token_hash=hash_token(secret), created_at=utcnow())
    session.add(token)
    session.commit()
    return token, secret


def list_tokens(session: Session) -> list[Token]:
    return list(session.scalars(select(Token).order_by(Token.id)))


def revoke_tokens(session: Session, name_or_id: str) -> list[Token]:
    """Revoke the active token with this id, or every active token with this name."""
    query = select(Token).where(Token.revoked_at.is_(None))
    query = query.where(Token.id == int(name_or_id)) if name_or_id.isdigit() else query.where(Token.name == name_or_id)
    tokens = list(session.scalars(query))
    if not tokens:
        raise TokenError(f"no active token with name or id {name_or_id!r}; `reglab token ls` lists them")
    now = utcnow()
    for token in tokens:
        token.revoked_at = now
    session.commit()
    return tokens


def replace_token(session: Session, name: str, scope: str) -> str:
    """Revoke the active tokens named ``name`` (left by an earlier start) and create a new one; its secret."""
    for token in session.scalars(select(Token).where(Token.name == name, Token.revoked_at.is_(None))):
        token.revoked_at = utcnow()
    session.flush()
    return create_token(session, name, scope)[1]


def authenticate(session: Session, secret: str) -> Token | None:
    """The active token with this secret (its last use noted), or None."""
    token = session.scalar(select(Token).where(Token.token_hash == hash_token(secret), Token.revoked_at.is_(None)))
    if token is None:
        return None
    now = utcnow()
    last = as_utc(token.last_used_at)
    if last is None or now - last > LAST_USED_RESOLUTION:
        token.last_used_at = now
        session.commit()
    return token
