"""Layer snapshots and descriptions in their tables: idempotent writes, reads of one run or of one epoch of many."""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from sqlalchemy import Connection, func, select, tuple_
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from backend.db import BINARY_ROWS
from backend.layers import codec
from backend.layers.models import LayerSnapshot, RunLayers

SNAPSHOTS = LayerSnapshot.__table__
DESCRIPTIONS = RunLayers.__table__


@lru_cache(maxsize=4)
def _upsert(dialect: str, table_name: str):
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    table = SNAPSHOTS if table_name == SNAPSHOTS.name else DESCRIPTIONS
    statement = insert(table)
    keys = [c.name for c in table.primary_key]
    return statement.on_conflict_do_update(
        index_elements=keys, set_={c.name: statement.excluded[c.name] for c in table.columns if c.name not in keys}
    )


def write_snapshots(
    connection: Connection, run_id: int, snapshots: Sequence[dict[str, Any]], descriptions: list[dict[str, Any]] | None
) -> list[int]:
    """Store the run's snapshots (``{"epoch", "layers"}``; an epoch stored already is replaced, and within one
    batch the last of an epoch wins) and, when given, its layer descriptions. Returns the epochs written."""
    dialect = connection.dialect.name
    if descriptions is not None:
        connection.execute(_upsert(dialect, DESCRIPTIONS.name), {"run_id": run_id, "layers": descriptions})
    by_epoch = {snapshot["epoch"]: snapshot["layers"] for snapshot in snapshots}
    rows = [
        {"run_id": run_id, "epoch": epoch, "layers": len(layers), "data": codec.encode(layers)}
        for epoch, layers in sorted(by_epoch.items())
    ]
    if rows:
        connection.execute(_upsert(dialect, SNAPSHOTS.name), rows)
    return list(sorted(by_epoch))


def _raw(connection: Connection, statement) -> list[tuple]:
    # Plain tuples, bytea in PostgreSQL's binary format (see backend.db.BINARY_ROWS).
    result = connection.execute(statement, execution_options={BINARY_ROWS: True})
    rows = result.cursor.fetchall()
    result.close()
    return rows


def read_snapshots(connection: Connection, run_id: int, epochs: Sequence[int] | None = None) -> list[tuple[int, codec.Snapshot]]:
    """``[(epoch, snapshot)]`` of one run sorted by epoch, only ``epochs`` when given; one query."""
    statement = select(SNAPSHOTS.c.epoch, SNAPSHOTS.c.data).where(SNAPSHOTS.c.run_id == run_id)
    if epochs is not None:
        statement = statement.where(SNAPSHOTS.c.epoch.in_(list(epochs)))
    return [(epoch, codec.decode(bytes(data))) for epoch, data in _raw(connection, statement.order_by(SNAPSHOTS.c.epoch))]


def read_epoch(connection: Connection, run_ids: Sequence[int], epoch: int | None) -> dict[int, tuple[int, codec.Snapshot]]:
    """``{run_id: (epoch, snapshot)}`` of the runs at ``epoch`` (None: each run's last); one query, and only the
    rows of that epoch are read and decoded (the epoch is a key column)."""
    ids = list(run_ids)
    statement = select(SNAPSHOTS.c.run_id, SNAPSHOTS.c.epoch, SNAPSHOTS.c.data).where(SNAPSHOTS.c.run_id.in_(ids))
    if epoch is None:
        last = (
            select(SNAPSHOTS.c.run_id, func.max(SNAPSHOTS.c.epoch))
            .where(SNAPSHOTS.c.run_id.in_(ids))
            .group_by(SNAPSHOTS.c.run_id)
        )
        statement = statement.where(tuple_(SNAPSHOTS.c.run_id, SNAPSHOTS.c.epoch).in_(last))
    else:
        statement = statement.where(SNAPSHOTS.c.epoch == epoch)
    return {run_id: (at, codec.decode(bytes(data))) for run_id, at, data in _raw(connection, statement)}


def stored_epochs(connection: Connection, run_ids: Sequence[int]) -> list[int]:
    """Every epoch any of the runs has a snapshot of, sorted (read from the key, no blob opened)."""
    statement = select(SNAPSHOTS.c.epoch).where(SNAPSHOTS.c.run_id.in_(list(run_ids))).distinct().order_by(SNAPSHOTS.c.epoch)
    return list(connection.scalars(statement))


def read_descriptions(connection: Connection, run_ids: Sequence[int]) -> dict[int, list[dict[str, Any]]]:
    """``{run_id: layer descriptions}`` of the runs that have them."""
    statement = select(DESCRIPTIONS.c.run_id, DESCRIPTIONS.c.layers).where(DESCRIPTIONS.c.run_id.in_(list(run_ids)))
    return {run_id: layers for run_id, layers in connection.execute(statement)}
