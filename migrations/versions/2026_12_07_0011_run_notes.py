"""Run notes and tags: plain-text notes and a list of tags a person sets on a run (PATCH /api/runs/{id}).

An external run's tags, until now only in its spec, become its run tags, so the
run filter's ``tags CONTAINS`` finds them.

Revision ID: 0011_run_notes
Revises: 0010
Create Date: 2026-12-07
"""

import json

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0011_run_notes"
down_revision = "0010"
branch_labels = None
depends_on = None

JSONType = sa.JSON().with_variant(JSONB(), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.add_column(sa.Column("notes", sa.Text(), nullable=False, server_default=""))
        batch.add_column(sa.Column("tags", JSONType, nullable=False, server_default="[]"))
    runs = sa.table("runs", sa.column("id"), sa.column("spec", JSONType), sa.column("tags", JSONType))
    connection = op.get_bind()
    updates = []
    for run_id, spec in connection.execute(sa.select(runs.c.id, runs.c.spec)):
        if isinstance(spec, str):
            spec = json.loads(spec)
        external = spec.get("external") if isinstance(spec, dict) else None
        tags = external.get("tags") if isinstance(external, dict) else None
        if isinstance(tags, list) and tags:
            updates.append({"run_id": run_id, "new_tags": [str(tag) for tag in tags]})
    if updates:
        connection.execute(
            runs.update().where(runs.c.id == sa.bindparam("run_id")).values(tags=sa.bindparam("new_tags")), updates
        )


def downgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.drop_column("tags")
        batch.drop_column("notes")
