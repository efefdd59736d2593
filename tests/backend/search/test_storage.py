"""Optuna's tables beside RegLab's, on SQLite and PostgreSQL: created by the migration, invisible to Alembic's comparison."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect

from backend.migrate import alembic_config
from backend.models import Base
from backend.search.coordinator import create_study, load_study
from backend.search.storage import include_name, optuna_tables


def test_optuna_tables_coexist_with_alembic(database_url):
    engine = create_engine(database_url)
    try:
        assert optuna_tables() <= set(inspect(engine).get_table_names())
        with engine.connect() as connection:
            filtered = MigrationContext.configure(connection, opts={"include_name": include_name})
            assert compare_metadata(filtered, Base.metadata) == [], "autogenerate sees nothing to change"
            plain = MigrationContext.configure(connection)
            assert {d[1].name for d in compare_metadata(plain, Base.metadata) if d[0] == "remove_table"} == optuna_tables()
            head = alembic_config(database_url)
            from alembic.script import ScriptDirectory

            assert plain.get_current_revision() == ScriptDirectory.from_config(head).get_current_head()
    finally:
        engine.dispose()


def test_a_study_round_trips_without_touching_reglabs_revision(reglab_env, database_url):
    create_study(7, "maximize")
    study = load_study(7)
    trial = study.ask()
    study.tell(trial, 0.5)
    assert load_study(7).best_value == 0.5
    from alembic.script import ScriptDirectory

    engine = create_engine(database_url)
    with engine.connect() as connection:
        current = MigrationContext.configure(connection).get_current_revision()
    engine.dispose()
    assert current == ScriptDirectory.from_config(alembic_config(database_url)).get_current_head()
