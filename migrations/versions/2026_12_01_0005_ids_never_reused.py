"""Ids are never reused on SQLite: experiments, runs and datasets get AUTOINCREMENT.

SQLite otherwise hands the largest deleted id to the next row, so a link to a
deleted run (or a task still queued for it) would lead to a newer one. PostgreSQL's
sequences never reuse ids; there this migration does nothing.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01
"""

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

TABLES = ("experiments", "runs", "datasets")


def _rebuild(autoincrement: bool) -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    # env.py turns foreign keys off for migrations, so the rebuild keeps every child row.
    for table in TABLES:
        with op.batch_alter_table(table, recreate="always", table_kwargs={"sqlite_autoincrement": autoincrement}):
            pass


def upgrade() -> None:
    _rebuild(True)


def downgrade() -> None:
    _rebuild(False)
