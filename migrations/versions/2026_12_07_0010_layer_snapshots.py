"""Per-layer snapshots: one row per (run, epoch) in a binary encoding (backend/layers/codec.py), and the run's
layer descriptions.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

JSONType = sa.JSON().with_variant(JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "layer_snapshots",
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("epoch", sa.Integer(), nullable=False),
        sa.Column("layers", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], name=op.f("fk_layer_snapshots_run_id_runs"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("run_id", "epoch", name=op.f("pk_layer_snapshots")),
    )
    op.create_table(
        "run_layers",
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("layers", JSONType, nullable=False),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], name=op.f("fk_run_layers_run_id_runs"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("run_id", name=op.f("pk_run_layers")),
    )


def downgrade() -> None:
    op.drop_table("run_layers")
    op.drop_table("layer_snapshots")
