"""Epoch series move from one row per point (metric_points) to one row per (run, name) (backend/metrics/epoch_series.py).

Existing epoch points are encoded into series rows, exactly (float64), and
metric_points, then holding nothing (0007 moved the step points), is dropped;
the downgrade recreates it and writes the epoch points back one row per point.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02
"""

from itertools import groupby

import sqlalchemy as sa
from alembic import op

from backend.metrics import epoch_series as E

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

# Points written back per statement by the downgrade: bounded memory however many are stored.
CHUNK = 200_000


def _series_table() -> sa.Table:
    return sa.table("metric_series", *(sa.column(c) for c in ("run_id", "name", "n", "last_x", *E.BLOBS)))


def upgrade() -> None:
    op.create_table(
        "metric_series",
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.Column("last_x", sa.Integer(), nullable=False),
        *(sa.Column(c, sa.LargeBinary(), nullable=False) for c in E.BLOBS),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], name=op.f("fk_metric_series_run_id_runs"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("run_id", "name", name=op.f("pk_metric_series")),
    )
    conn = op.get_bind()
    table = _series_table()
    rows = conn.execute(
        sa.text("SELECT run_id, name, x, value, t FROM metric_points WHERE axis = 'epoch' ORDER BY run_id, name, x")
    )
    batch = []
    for (run_id, name), points in groupby(rows, key=lambda row: (row[0], row[1])):
        series = E.Series.of((x, value, t) for _, _, x, value, t in points)
        batch.append({"run_id": run_id, "name": name, **E.encode(series)})
        if len(batch) >= 1000:
            conn.execute(table.insert(), batch)
            batch = []
    if batch:
        conn.execute(table.insert(), batch)
    op.drop_table("metric_points")


def downgrade() -> None:
    op.create_table(
        "metric_points",
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("axis", sa.String(8), nullable=False),
        sa.Column("x", sa.Integer(), nullable=False),
        sa.Column("value", sa.Float(), nullable=True),
        sa.Column("t", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], name=op.f("fk_metric_points_run_id_runs"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("run_id", "name", "axis", "x", name=op.f("pk_metric_points")),
    )
    conn = op.get_bind()
    rows = conn.execute(sa.text(f"SELECT run_id, name, {', '.join(E.BLOBS)} FROM metric_series"))
    points = sa.table("metric_points", *(sa.column(c) for c in ("run_id", "name", "axis", "x", "value", "t")))
    batch = []
    for run_id, name, *blobs in rows.fetchall():
        columns = E.columns(E.decode(*blobs))
        batch.extend({"run_id": run_id, "name": name, "axis": "epoch", "x": x, "value": y, "t": t}
                     for x, y, t in zip(columns["x"], columns["y"], columns["t"], strict=True))  # fmt: skip
        if len(batch) >= CHUNK:
            conn.execute(points.insert(), batch)
            batch = []
    if batch:
        conn.execute(points.insert(), batch)
    op.drop_table("metric_series")
