"""The metrics tracker's sink for a real run: one database write and one publish per epoch."""

from __future__ import annotations

import logging
from typing import Any

from backend.metrics.downsample import min_max_indices
from worker import runs
from worker.live import Publisher

log = logging.getLogger(__name__)


class EpochRecorder:
    """Writes an epoch's points with the run's progress in one transaction, then announces them.

    The first write of an attempt also drops what an earlier, interrupted
    attempt stored from that epoch and step on, so no curve mixes two trainings
    (points before it, which a resume continues from, stay).

    Args:
        run_id: the run.
        epochs: planned epochs, for the progress message.
        publisher: where live updates go (None: database only).
        attempt: the claim's attempt number: writes stop (``ClaimLost``) once it is not the run's.
    """

    def __init__(self, run_id: int, epochs: int, publisher: Publisher | None = None, attempt: int | None = None):
        self.run_id = run_id
        self.attempt = attempt
        self.epochs = epochs
        self.publisher = publisher
        self.completed_epochs = 0
        self.seconds: list[float] = []
        self.first_write = True

    def __call__(self, epoch: int, points: list[dict[str, Any]], epoch_seconds: float, complete: bool) -> None:
        progress: dict[str, Any] = {}
        if complete:
            self.completed_epochs = epoch + 1
            self.seconds.append(epoch_seconds)
            progress = {"epoch": self.completed_epochs, "epoch_seconds": sum(self.seconds) / len(self.seconds)}
        drop_from = None
        if self.first_write:
            steps = [p["x"] for p in points if p["axis"] == "step"]
            drop_from = (epoch, min(steps) if steps else None)
            self.first_write = False
        runs.record_epoch(self.run_id, points, progress, drop_from=drop_from, attempt=self.attempt)
        if self.publisher is not None:
            if points:
                self.publisher.points(live_points(points))
            if complete:
                self.publisher.state(runs.RUNNING, self.completed_epochs, self.epochs)


# Step points per series and epoch that a live message carries. The store keeps
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


class MemorySink:
    """Keeps every epoch's points in memory: training without a database (tests, benchmarks)."""

    def __init__(self):
        self.points: list[dict[str, Any]] = []
        self.calls: list[tuple[int, float, bool]] = []

    def __call__(self, epoch: int, points: list[dict[str, Any]], epoch_seconds: float, complete: bool) -> None:
        self.points.extend(points)
        self.calls.append((epoch, epoch_seconds, complete))

    def series(self, name: str) -> list[float | None]:
        return [p["value"] for p in sorted((p for p in self.points if p["name"] == name), key=lambda p: p["x"])]
