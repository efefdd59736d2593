"""Search studies: an experiment's search and pruner, a run's trial number, and Optuna's own tables.

Optuna's tables are created here, under the migration lock, rather than by
Optuna on first use: four API processes starting at once would otherwise race
to create them, and Optuna would stamp its own revision into an empty
``alembic_version`` table on a new database.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

JSONType = sa.JSON().with_variant(JSONB(), "postgresql")


def upgrade() -> None:
    from backend.search.storage import create_optuna_tables

    op.add_column("experiments", sa.Column("search", JSONType, nullable=True))
    op.add_column("experiments", sa.Column("pruner", JSONType, nullable=True))
    op.add_column("experiments", sa.Column("study_done_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("runs", sa.Column("trial", sa.Integer(), nullable=True))
    create_optuna_tables(op.get_bind())


def downgrade() -> None:
    from backend.search.storage import drop_optuna_tables

    drop_optuna_tables(op.get_bind())
    with op.batch_alter_table("runs") as batch:
        batch.drop_column("trial")
    with op.batch_alter_table("experiments") as batch:
        batch.drop_column("study_done_at")
        batch.drop_column("pruner")
        batch.drop_column("search")
