"""The store tests' database, with the one experiment their runs belong to."""

import pytest
import sqlalchemy as sa


@pytest.fixture
def engine(database_url):
    engine = sa.create_engine(database_url)
    with engine.begin() as conn:
        conn.exec_driver_sql("INSERT INTO experiments (name, description, tags, base, grid) VALUES ('e', '', '[]', '{}', '{}')")
    yield engine
    engine.dispose()

