"""Experiments name their replicate fields (the spec fields that only repeat a condition, like seeds).

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

JSONType = sa.JSON().with_variant(JSONB(), "postgresql")


def upgrade() -> None:
    # Null reads as ["training.seed"], so existing experiments need no backfill.
    op.add_column("experiments", sa.Column("replicates", JSONType, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("experiments") as batch:
        batch.drop_column("replicates")
