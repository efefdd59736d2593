"""A run's summary computed from its stored points, for runs that finish without one (external, API-ingested)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from backend.metrics.epoch_store import read_epochs

SUMMARY_METRICS = ("loss", "accuracy", "val_loss", "val_accuracy")


def summary_from_points(session: Session, run_id: int) -> dict[str, Any]:
    """best/final validation accuracy and loss over the run's epoch points (one query)."""
    stored = read_epochs(session, [run_id], SUMMARY_METRICS)
    # A logged NaN counts as no value, as a missing one does.
    series = {name: [(x, None if y != y else y) for x, y in zip(data["x"], data["y"], strict=True)]
              for (_, name), data in stored.items()}  # fmt: skip
    epochs = {x for points in series.values() for x, _ in points}
    summary: dict[str, Any] = {"epochs_trained": len(epochs)} if epochs else {}
    accuracies = [(value, x) for x, value in series.get("val_accuracy", []) if value is not None]
    if accuracies:
        best, best_epoch = max(accuracies, key=lambda pair: (pair[0], -pair[1]))
        summary.update(best_val_accuracy=best, best_epoch=best_epoch)
    losses = [value for _, value in series.get("val_loss", []) if value is not None]
    if losses:
        summary["best_val_loss"] = min(losses)
    for name, key in (("val_accuracy", "final_val_accuracy"), ("val_loss", "final_val_loss"),
                      ("loss", "final_loss"), ("accuracy", "final_accuracy")):  # fmt: skip
        if series.get(name):
            summary[key] = series[name][-1][1]
    return summary


def complete_summary(session: Session, run_id: int, given: dict[str, Any] | None) -> dict[str, Any]:
    """``given`` with whatever it lacks of the figures lists show, from the stored points."""
    given = dict(given or {})
    if all(key in given for key in ("final_val_accuracy", "final_val_loss")):
        return given
    return {**summary_from_points(session, run_id), **given}
