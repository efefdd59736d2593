"""Migration 0002: experiments gain ``replicates``; it downgrades and upgrades again on both databases."""

import sqlalchemy as sa
from alembic import command

from backend.migrate import alembic_config


def columns(url: str) -> set[str]:
    engine = sa.create_engine(url)
    try:
        return {column["name"] for column in sa.inspect(engine).get_columns("experiments")}
    finally:
        engine.dispose()


def test_replicates_column_comes_and_goes(database_url):
    assert "replicates" in columns(database_url)

    command.downgrade(alembic_config(database_url), "0001")
    assert "replicates" not in columns(database_url)

    command.upgrade(alembic_config(database_url), "head")
    assert "replicates" in columns(database_url)
