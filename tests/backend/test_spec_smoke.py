from sqlalchemy import create_engine, inspect


def test_migrated_database_has_every_table(database_url):
    tables = set(inspect(create_engine(database_url)).get_table_names())
    assert {"experiments", "experiment_tags", "runs", "metric_series", "metric_blocks", "alembic_version"} <= tables
