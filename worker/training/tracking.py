"""The metrics tracker's sink for a real run: one epoch write per epoch, through the run's client.

The API stores the points, updates the progress and publishes both live;
the write is queued on the :class:`reglab.client.RunClient`, so training
never waits for the network.
"""

from __future__ import annotations

from typing import Any

from reglab.client import RunClient


class EpochRecorder:
    """Sends an epoch's points with the run's progress.

    The first write of an attempt also drops what an earlier, interrupted
    attempt stored from that epoch and step on, so no curve mixes two trainings
    (points before it, which a resume continues from, stay).

    Args:
        run: the run's client (its claim made).
    """

    def __init__(self, run: RunClient):
        self.run = run
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
        self.run.record_epoch(points, progress, drop_from=drop_from)


class MemorySink:
    """Keeps every epoch's points in memory: training without an API (tests, benchmarks)."""

    def __init__(self):
        self.points: list[dict[str, Any]] = []
        self.calls: list[tuple[int, float, bool]] = []

    def __call__(self, epoch: int, points: list[dict[str, Any]], epoch_seconds: float, complete: bool) -> None:
        self.points.extend(points)
        self.calls.append((epoch, epoch_seconds, complete))

    def series(self, name: str) -> list[float | None]:
        return [p["value"] for p in sorted((p for p in self.points if p["name"] == name), key=lambda p: p["x"])]
