"""Every stored point of some runs, never downsampled: one long CSV for
spreadsheets, or Arrow IPC for pandas, polars and DuckDB.

Both stream one run at a time (one query per run keeps memory bounded).

CSV: one row per point, ``run_id, run_name, metric, axis, x, value, t``.
Text a person typed (run names) or a worker chose (metric names) that starts
with ``=``, ``+``, ``-`` or ``@`` (or a tab or carriage return) is prefixed
with a single quote, so a spreadsheet shows it instead of running it as a
formula; numbers are written as numbers.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Any

import numpy as np
import pyarrow as pa
from sqlalchemy import select

from backend.db import session_scope
from backend.errors import NotFound
from backend.metrics.service import read_series
from backend.runs.models import Run

HEADER = ("run_id", "run_name", "metric", "axis", "x", "value", "t")
ARROW_MEDIA_TYPE = "application/vnd.apache.arrow.stream"
# The same long table as the CSV, columnar: 29 bytes a point (run names are in GET /api/compare).
# Dictionaries are per record batch (one batch per run), which the IPC stream format allows.
ARROW_SCHEMA = pa.schema(
    [
        ("run_id", pa.int32()),
        ("metric", pa.dictionary(pa.int32(), pa.string())),
        ("axis", pa.dictionary(pa.int8(), pa.string())),
        ("x", pa.int64()),
        ("value", pa.float32()),
        ("t", pa.float64()),  # seconds since the run started; null when not recorded
    ]
)
AXES = pa.array(["epoch", "step"])
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


def run_series(run_id: int, names: list[str] | None) -> Iterator[tuple[str, dict[str, Any]]]:
    """One run's series as ``(metric, {"axis", "x", "y", "t"})`` in name order, raw."""
    with session_scope() as session:
        series = read_series(session, [run_id], names)[run_id]
    for key, data in sorted(series.items()):
        # A name logged on both axes keys its step series name@step; the axis column tells them apart.
        yield (key.removesuffix("@step") if data["axis"] == "step" else key), data


def arrow_batch(run_id: int, series: list[tuple[str, dict[str, Any]]]) -> pa.RecordBatch:
    """One run's series as one record batch of :data:`ARROW_SCHEMA`."""
    lengths = np.array([len(data["x"]) for _, data in series], dtype=np.int64)
    metrics = pa.DictionaryArray.from_arrays(
        pa.array(np.repeat(np.arange(len(series), dtype=np.int32), lengths)), pa.array([name for name, _ in series])
    )
    axis_codes = np.repeat(np.array([data["axis"] == "step" for _, data in series], dtype=np.int8), lengths)
    columns = [
        pa.array(np.full(int(lengths.sum()), run_id, dtype=np.int32)),
        metrics,
        pa.DictionaryArray.from_arrays(pa.array(axis_codes), AXES),
        pa.array(concat(series, "x", np.int64)),
        pa.array(concat(series, "y", np.float32)),
        # None (no time recorded) stays a null, so t goes through pyarrow's list conversion.
        pa.array([t for _, data in series for t in data["t"]], type=pa.float64()),
    ]
    return pa.record_batch(columns, schema=ARROW_SCHEMA)


def concat(series: list[tuple[str, dict[str, Any]]], column: str, dtype: type) -> np.ndarray:
    parts = [np.asarray(data[column], dtype=dtype) for _, data in series]
    return np.concatenate(parts) if parts else np.empty(0, dtype=dtype)


def arrow_chunks(run_ids: list[int], names: list[str] | None) -> Iterator[bytes]:
    """An Arrow IPC stream in chunks: the schema, one record batch per run with points, the end marker."""
    sink = io.BytesIO()

    def drain() -> bytes:
        chunk = sink.getvalue()
        sink.seek(0)
        sink.truncate()
        return chunk

    with pa.ipc.new_stream(sink, ARROW_SCHEMA) as writer:
        yield drain()
        for run_id in run_ids:
            series = list(run_series(run_id, names))
            if series:
                writer.write_batch(arrow_batch(run_id, series))
                yield drain()
    yield drain()


def csv_rows(run_ids: list[int], names: list[str] | None, run_names_by_id: dict[int, str]) -> Iterator[str]:
    """The CSV text in chunks, one run's points at a time (one query per run keeps memory bounded)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(HEADER)
    for run_id in run_ids:
        run_name = csv_cell(run_names_by_id[run_id])
        for name, data in run_series(run_id, names):
            metric = csv_cell(name)
            writer.writerows(
                (run_id, run_name, metric, data["axis"], x, csv_cell(y), csv_cell(t))
                for x, y, t in zip(data["x"], data["y"], data["t"], strict=True)
            )
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()
