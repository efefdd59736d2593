"""Live fan-out of ingested points: the API publishes what it stored, thinned for the wire."""

from __future__ import annotations

import logging
from typing import Any

import orjson
import redis

from backend.channels import run_channel, runs_channel
from backend.events import redis_client
from backend.metrics.downsample import min_max_indices

log = logging.getLogger(__name__)

# Step points per series and batch that a live message carries. The store keeps
# every step; live charts need only the shape, and a full Fashion-MNIST epoch
# would otherwise put ~1,700 points per series (300 KB) on the wire per run.
LIVE_STEP_POINTS = 200


def live_points(points: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``points`` with each step series thinned to its min-max outline (spikes survive)."""
    series: dict[str, list[dict[str, Any]]] = {}
    kept = []
    for point in points:
        if point["axis"] == "step":
            series.setdefault(point["name"], []).append(point)
        else:
            kept.append(point)
    for steps in series.values():
        values = [p["value"] for p in steps]
        kept.extend(steps[i] for i in min_max_indices(values, LIVE_STEP_POINTS))
    return kept


def publish_points(run_id: int, points: list[dict[str, Any]], state: dict[str, Any] | None = None) -> bool:
    """``{"type": "points", "run_id", "points"}`` on the run's channel, then ``state`` (the progress) on it
    and on the runs channel: one round trip to Redis; best effort."""

    if not points and state is None:
        return True
    try:
        pipe = redis_client().pipeline(transaction=False)
        if points:
            pipe.publish(run_channel(run_id), orjson.dumps({"type": "points", "points": live_points(points), "run_id": run_id}))
        if state is not None:
            message = orjson.dumps(state)
            pipe.publish(run_channel(run_id), message)
            pipe.publish(runs_channel(), message)
        pipe.execute()
        return True
    except (redis.RedisError, OSError, TypeError) as exc:
        log.warning("run %s: live points not published: %s", run_id, exc)
        return False
