"""Auth fixtures: the server's REGLAB_AUTH mode as a fixture tests parametrize, and one token per scope."""

from collections.abc import Iterator

import pytest


@pytest.fixture
def auth_mode() -> str:
    return "all"


@pytest.fixture
def auth_env() -> dict[str, str]:
    """Extra REGLAB_* settings for the server under test; override in a test module or parametrize."""
    return {}


@pytest.fixture
def reglab_env(reglab_env, auth_mode, auth_env, monkeypatch) -> Iterator[dict[str, str]]:
    """The test services' environment with REGLAB_AUTH (and ``auth_env``) set, here and for live_server."""
    from backend.settings import get_settings

    extra = {"REGLAB_AUTH": auth_mode, **auth_env}
    for key, value in extra.items():
        monkeypatch.setenv(key, value)
    get_settings.cache_clear()
    yield {**reglab_env, **extra}
    get_settings.cache_clear()


@pytest.fixture
def tokens(reglab_env) -> dict[str, str]:
    """A token per scope, created in the test database: {"read": "rl_...", ...}."""
    from backend.auth.scopes import SCOPES
    from backend.auth.service import create_token
    from backend.db import get_sessionmaker

    with get_sessionmaker()() as session:
        return {scope: create_token(session, f"{scope} token", scope)[1] for scope in SCOPES}
