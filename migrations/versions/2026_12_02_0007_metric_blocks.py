"""Step series move from one row per point to blocks of 992 steps (backend/metrics/blocks.py).

Existing step points are encoded into blocks (values and t become float32) and
leave metric_points; the downgrade writes them back one row per point.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02
"""

from itertools import groupby

import numpy as np
import sqlalchemy as sa
from alembic import op

from backend.metrics import blocks

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

SCALARS = ("n", "first_x", "last_x", "lo", "hi")
# Small blobs first: SQLite keeps a row's first bytes in its page and the rest in a chain of
# overflow pages, which a read of a later column walks; the summary read must not walk past values.
BLOBS = ("stats", "summary", "present", "vals", "ts")
INTS = {"n", "first_x", "last_x"}
# Points written back per statement by the downgrade: bounded memory however many are stored.
CHUNK = 200_000


def _blocks_table() -> sa.Table:
    return sa.table(
        "metric_blocks",
        *(sa.column(c) for c in ("run_id", "name", "axis", "block", *SCALARS, *BLOBS)),
    )


def upgrade() -> None:
    op.create_table(
        "metric_blocks",
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("axis", sa.String(8), nullable=False),
        sa.Column("block", sa.Integer(), nullable=False),
        *(sa.Column(c, sa.Integer() if c in INTS else sa.Float(), nullable=c not in INTS) for c in SCALARS),
        *(sa.Column(c, sa.LargeBinary(), nullable=False) for c in BLOBS),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], name=op.f("fk_metric_blocks_run_id_runs"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("run_id", "name", "axis", "block", name=op.f("pk_metric_blocks")),
    )
    conn = op.get_bind()
    table = _blocks_table()
    rows = conn.execute(
        sa.text("SELECT run_id, name, x, value, t FROM metric_points WHERE axis = 'step' ORDER BY run_id, name, x")
    )
    for (run_id, name), points in groupby(rows, key=lambda row: (row[0], row[1])):
        _, _, x, y, t = zip(*points)
        x = np.asarray(x, np.int64)
        ids, which = np.unique(x // blocks.BLOCK, return_inverse=True)
        values = np.full((len(ids), blocks.BLOCK), np.nan, "<f4")
        ts = np.full((len(ids), blocks.BLOCK), np.nan, "<f4")
        present = np.zeros((len(ids), blocks.BLOCK), bool)
        offsets = x % blocks.BLOCK
        values[which, offsets] = np.asarray(y, np.float64)
        ts[which, offsets] = np.asarray(t, np.float64)
        present[which, offsets] = True
        encoded = [{"run_id": run_id, "name": name, "axis": "step", **row} for row in blocks.encode(ids, values, ts, present)]
        conn.execute(table.insert(), encoded)
    conn.execute(sa.text("DELETE FROM metric_points WHERE axis = 'step'"))


def downgrade() -> None:
    conn = op.get_bind()
    rows = conn.execute(sa.text("SELECT run_id, name, block, vals, ts, present FROM metric_blocks WHERE axis = 'step'"))
    points = sa.table("metric_points", *(sa.column(c) for c in ("run_id", "name", "axis", "x", "value", "t")))
    batch = []
    for run_id, name, block, vals, ts, present in rows.fetchall():
        offsets, v, t = blocks.decode(vals, ts, present)
        batch.extend(
            {"run_id": run_id, "name": name, "axis": "step", "x": block * blocks.BLOCK + o,
             "value": None if y != y else y, "t": None if s != s else s}  # fmt: skip
            for o, y, s in zip(offsets.tolist(), v.astype(float).tolist(), t.astype(float).tolist())
        )
        if len(batch) >= CHUNK:
            conn.execute(points.insert(), batch)
            batch = []
    if batch:
        conn.execute(points.insert(), batch)
    op.drop_table("metric_blocks")
