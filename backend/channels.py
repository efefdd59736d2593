"""Names of the Redis channels and keys that the API and the worker share."""

from backend.settings import get_settings


def run_channel(run_id: int) -> str:
    """Pub/sub channel announcing a run's new points and state changes."""
    return f"{get_settings().CHANNEL_PREFIX}:run:{run_id}"


def cancel_key(run_id: int) -> str:
    """Set by the API to ask the worker training ``run_id`` to stop."""
    return f"{get_settings().CHANNEL_PREFIX}:cancel:{run_id}"


def cancel_channel(run_id: int) -> str:
    """Published together with :func:`cancel_key` so a waiting worker hears it at once."""
    return f"{get_settings().CHANNEL_PREFIX}:cancel-now:{run_id}"
