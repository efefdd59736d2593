"""Orderings of the runs list, done in SQL: a column, or a number in the run's summary."""

from __future__ import annotations

from typing import Any, Literal

from sqlalchemy import func

from backend.runs.models import Run

SortParam = Literal[
    "created", "-created", "name", "-name", "state", "-state", "progress", "-progress",
    "best_val_accuracy", "-best_val_accuracy", "final_val_accuracy", "-final_val_accuracy",
    "test_accuracy", "-test_accuracy", "epoch_time", "-epoch_time",
]


def _column(key: str) -> Any:
    if key == "created":
        return Run.id  # ids grow with creation time, and the primary key is indexed
    if key == "name":
        return func.lower(Run.name)
    if key == "state":
        return Run.state
    if key == "progress":
        return Run.epoch
    if key == "epoch_time":
        return Run.epoch_seconds
    return Run.summary[key].as_float()


def order_by(sort: str) -> list[Any]:
    """ORDER BY clauses for ``sort`` (``-`` first means descending); runs without the value go last."""
    descending = sort.startswith("-")
    column = _column(sort.lstrip("-"))
    ordered = column.desc() if descending else column.asc()
    return [ordered.nulls_last(), Run.id.desc()]
