"""Names of the Redis channels and keys that the API and the worker share.

Messages on :func:`run_channel` are JSON objects with a ``type``:

- ``{"type": "state", "run_id": 7, "state": "running", ...}``: a state change,
  published by whoever made it (the API for ``cancelled``, a clone's
  ``queued``, a reaped run's ``failed``; the worker for the rest). Extra keys
  may follow, e.g. ``"cancel_requested": true`` when the API asked a running
  run to stop, or ``"experiment_id"`` on a new run.
- ``{"type": "points", "run_id": 7, "points": [{"name": "loss", "axis": "epoch",
  "x": 3, "value": 0.41, "t": 12.5}, ...]}``: new metric points, published by
  the worker after it stored them (``axis`` is ``epoch`` or ``step``, ``t`` the
  seconds since the run started).

Every ``state`` message is also published on :func:`runs_channel`, the
experiments-level channel the Runs page follows, together with
``{"type": "runs", "state": "queued", "run_ids": [...], "experiment_ids": [...]}``
when the API sends new (or re-queued) runs to the workers.

To cancel, the API sets :func:`cancel_key` (value ``"1"``, with a TTL) and
publishes ``cancel`` on :func:`cancel_channel`; the worker checks the key and
may listen on the channel, stops the run and publishes its final state.
``reglab up`` stopping its worker sets ``"requeue"`` and publishes ``requeue``
instead: the run stops the same way but keeps its resume checkpoint, since it
goes back to the queue.
"""

from backend.settings import get_settings

# cancel_key's value (and the channel's message) when a stop is only a pause.
REQUEUE = "requeue"
# cancel_key's value starts with this when a study's pruner stopped the run; the reason follows.
PRUNE_PREFIX = "prune:"


def run_channel(run_id: int) -> str:
    """Pub/sub channel announcing a run's new points and state changes."""
    return f"{get_settings().CHANNEL_PREFIX}:run:{run_id}"


def runs_channel() -> str:
    """Pub/sub channel with every run's state changes and the runs sent to the workers."""
    return f"{get_settings().CHANNEL_PREFIX}:runs"


def cancel_key(run_id: int) -> str:
    """Set by the API to ask the worker training ``run_id`` to stop."""
    return f"{get_settings().CHANNEL_PREFIX}:cancel:{run_id}"


def cancel_channel(run_id: int) -> str:
    """Published together with :func:`cancel_key` so a waiting worker hears it at once."""
    return f"{get_settings().CHANNEL_PREFIX}:cancel-now:{run_id}"
