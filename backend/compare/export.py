"""Every stored point of some runs as one long CSV, for spreadsheets and pandas.

One row per point: ``run_id, run_name, metric, axis, x, value, t``, never
downsampled. Text a person typed (run names) or a worker chose (metric names)
that starts with ``=``, ``+``, ``-`` or ``@`` (or a tab or carriage return) is
prefixed with a single quote, so a spreadsheet shows it instead of running it
as a formula; numbers are written as numbers.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Any

from sqlalchemy import select

from backend.db import session_scope
from backend.errors import NotFound
from backend.metrics.service import read_series
from backend.runs.models import Run

HEADER = ("run_id", "run_name", "metric", "axis", "x", "value", "t")
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: Any) -> Any:
    """``value`` as a safe CSV cell: formula-like text is quoted, None is empty, numbers stay numbers."""
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def run_names(run_ids: list[int]) -> dict[int, str]:
    """Names of ``run_ids``; NotFound naming any that do not exist."""
    with session_scope() as session:
        names = dict(session.execute(select(Run.id, Run.name).where(Run.id.in_(run_ids))).all())
    missing = [run_id for run_id in run_ids if run_id not in names]
    if missing:
        label = "run" if len(missing) == 1 else "runs"
        raise NotFound(f"{label} {', '.join(map(str, missing))} not found")
    return names


def csv_rows(run_ids: list[int], names: list[str] | None, run_names_by_id: dict[int, str]) -> Iterator[str]:
    """The CSV text in chunks, one run's points at a time (one query per run keeps memory bounded)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(HEADER)
    for run_id in run_ids:
        with session_scope() as session:
            series = read_series(session, [run_id], names)[run_id]
        run_name = csv_cell(run_names_by_id[run_id])
        for key, data in sorted(series.items()):
            metric = csv_cell(key.removesuffix("@step") if data["axis"] == "step" else key)
            writer.writerows(
                (run_id, run_name, metric, data["axis"], x, csv_cell(y), csv_cell(t))
                for x, y, t in zip(data["x"], data["y"], data["t"], strict=True)
            )
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()
