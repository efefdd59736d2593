"""The server's REGLAB_AUTH mode as a fixture tests parametrize (``all`` unless a test says otherwise)."""

import pytest


@pytest.fixture
def auth_mode() -> str:
    return "all"


@pytest.fixture
def auth_env() -> dict[str, str]:
    """More REGLAB_* settings for the server; parametrize to set them."""
    return {}


@pytest.fixture
def server_env(auth_mode, auth_env) -> dict[str, str]:
    return {"REGLAB_AUTH": auth_mode, **auth_env}
