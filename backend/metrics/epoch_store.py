"""Epoch series in the ``metric_series`` table, one row per (run, name): merge-on-write, reads, truncation on resume."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import lru_cache
from typing import Any

from sqlalchemy import Connection, bindparam, delete, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from backend.db import BINARY_ROWS
from backend.metrics import epoch_series as E
from backend.locks import dialect_of, lock_run
from backend.metrics.models import MetricSeries

TABLE = MetricSeries.__table__
_BLOB_COLUMNS = [TABLE.c[c] for c in E.BLOBS]


@lru_cache(maxsize=4)
def _upsert(dialect: str):
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    statement = insert(TABLE)
    return statement.on_conflict_do_update(
        index_elements=["run_id", "name"], set_={c: statement.excluded[c] for c in ("n", "last_x", *E.BLOBS)}
    )


def _store(session: Session | Connection, run_id: int, merged: dict[str, E.Series]) -> None:
    """Upsert the series in one statement; delete those left empty."""
    kept = [{"run_id": run_id, "name": name, **E.encode(s)} for name, s in merged.items() if len(s.x)]
    gone = [name for name, s in merged.items() if not len(s.x)]
    if kept:
        session.execute(_upsert(dialect_of(session)), kept)
    if gone:
        session.execute(delete(TABLE).where(TABLE.c.run_id == run_id, TABLE.c.name.in_(gone)))


_COLUMNS = ("run_id", "name", "n", "last_x", *E.BLOBS)


@lru_cache(maxsize=64)
def _append(dialect: str, paramstyle: str, rows: int) -> str:
    """An upsert of ``rows`` rows that appends each row's new points to the stored blobs in SQL, without reading
    them, when they all come after the stored ones (the new points of a row are consecutive epochs); returns the
    names it wrote. A row whose stored series reaches its first new epoch is left as it is and not returned.

    Driver SQL, built once per row count: compiling an insert of many rows costs more than running it.
    """
    mark = "?" if paramstyle == "qmark" else "%s"
    values = ", ".join(["(" + ", ".join([mark] * len(_COLUMNS)) + ")"] * rows)
    # SQLite's || makes text of two blobs, byte for byte; the cast makes it a blob again.
    concat = "metric_series.{0} || excluded.{0}" if dialect == "postgresql" else "CAST(metric_series.{0} || excluded.{0} AS BLOB)"
    blobs = ", ".join(f"{c} = {concat.format(c)}" for c in E.BLOBS)
    return (f"INSERT INTO metric_series ({', '.join(_COLUMNS)}) VALUES {values} ON CONFLICT (run_id, name) DO UPDATE "
            f"SET n = metric_series.n + excluded.n, last_x = excluded.last_x, {blobs} "
            "WHERE metric_series.last_x < excluded.last_x - excluded.n + 1 RETURNING name")


# Plain SQL, built once: building a select per write costs more than running it on a few points.
_STORED = text(f"SELECT name, n, last_x, {', '.join(E.BLOBS)} FROM metric_series WHERE run_id = :run_id "
               "AND name IN :names").bindparams(bindparam("names", expanding=True))  # fmt: skip


def write_epochs(session: Session | Connection, run_id: int, points: Iterable[tuple[str, int, Any, Any]]) -> None:
    """Merge ``(name, x, value, t)`` points into their series.

    Training sends the next epoch of each series: one statement appends it in SQL. Anything
    else (a repeat, an earlier epoch, a gap inside the batch) is merged: one SELECT of the touched
    rows and one upsert. A point sent again overwrites itself; within one batch the last of an x wins.
    """
    by_name: dict[str, list[tuple[int, Any, Any]]] = {}
    for name, x, value, t in points:
        by_name.setdefault(name, []).append((x, value, t))
    if not by_name:
        return
    appended = []
    for name, new in by_name.items():
        row = E.append(None, new)  # None unless the batch's points of this name are in order, without repeats
        if row is not None and row["last_x"] - new[0][0] == len(new) - 1:
            appended.extend((run_id, name, *(row[c] for c in _COLUMNS[2:])))
    if appended:
        connection = session.connection() if isinstance(session, Session) else session
        if connection.dialect.name == "postgresql":
            # A merge of the same series reads and rewrites whole rows: one writer of the run at a time. SQLite's
            # writers are one at a time already, and a merge takes the write lock before it reads.
            lock_run(connection, run_id)
        sql = _append(connection.dialect.name, connection.dialect.paramstyle, len(appended) // len(_COLUMNS))
        for (name,) in connection.exec_driver_sql(sql, tuple(appended)):
            del by_name[name]
        if not by_name:
            return
    lock_run(session, run_id)
    stored = {row[0]: row[1:] for row in session.execute(_STORED, {"run_id": run_id, "names": list(by_name)})}
    rows = []
    for name, new in by_name.items():
        row = E.append(stored.get(name), new)
        if row is None:  # a repeat or an earlier epoch: merged
            old = stored.get(name)
            merged = E.merge(E.Series.empty() if old is None else E.decode(*old[2:]), E.Series.of(new))
            row = E.encode(merged)
        rows.append({"run_id": run_id, "name": name, **row})
    session.execute(_upsert(dialect_of(session)), rows)


def drop_epochs_from(session: Session | Connection, run_id: int, epoch: int) -> None:
    """Delete the run's epoch points at ``epoch`` and after (a resumed run replaces what came after its checkpoint)."""
    lock_run(session, run_id)
    statement = select(TABLE.c.name, *_BLOB_COLUMNS).where(TABLE.c.run_id == run_id, TABLE.c.last_x >= epoch)
    stored = {name: E.decode(*blobs) for name, *blobs in session.execute(statement)}
    _store(session, run_id, {name: s.take(s.x < epoch) for name, s in stored.items()})


def read_epochs(
    session: Session | Connection,
    run_ids: Sequence[int],
    names: Sequence[str] | None = None,
    before: int | None = None,
    arrays: bool = False,
) -> dict[tuple[int, str], dict[str, Any]]:
    """``{(run_id, name): {"x", "y", "t"}}`` in (run, name) order, one query; ``before``: only epochs below it.

    None marks a missing value or t; a logged NaN or infinity reads back as itself.
    ``arrays``: numpy columns for a JSON answer (see epoch_series.columns).
    """
    statement = select(TABLE.c.run_id, TABLE.c.name, *_BLOB_COLUMNS).where(TABLE.c.run_id.in_(list(run_ids)))
    if names:
        statement = statement.where(TABLE.c.name.in_(list(names)))
    # Plain tuples from the driver, the blobs in PostgreSQL's binary format: a Row per series is not needed.
    result = session.execute(statement.order_by(TABLE.c.run_id, TABLE.c.name), execution_options={BINARY_ROWS: True})
    rows = result.cursor.fetchall()
    result.close()
    series = {}
    for run_id, name, *blobs in rows:
        s = E.decode(*blobs)
        if before is not None:
            s = s.take(s.x < before)
        if len(s.x):
            series[(run_id, name)] = E.columns(s, arrays)
    return series
