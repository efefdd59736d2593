"""Alembic environment: the URL comes from RegLab's settings, never from alembic.ini."""

from logging.config import fileConfig

from alembic import context

from backend.db import make_engine
from backend.migrate import migration_lock, pending
from backend.models import Base
from backend.search.storage import include_name
from backend.settings import get_settings

config = context.config
if config.config_file_name is not None and config.attributes.get("configure_logging", True):
    fileConfig(config.config_file_name, disable_existing_loggers=False)

target_metadata = Base.metadata


def _url() -> str:
    return config.attributes.get("url") or get_settings().database_url


def run_migrations_offline() -> None:
    context.configure(
        url=_url(), target_metadata=target_metadata, literal_binds=True, render_as_batch=True, include_name=include_name
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    url = _url()
    # One process at a time (4 API processes start at once): the others then find the database at head.
    with migration_lock(url):
        engine = make_engine(url)
        with engine.connect() as connection:
            config.attributes["applied"] = pending(connection, config)
            connection.commit()  # end the read's transaction, so alembic's own begins and commits
            if connection.dialect.name == "sqlite":
                # Batch migrations rebuild tables; with foreign keys enforced, dropping the old
                # runs table would cascade-delete every metric point (SQLite's implicit DELETE).
                connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
                connection.commit()
            # Batch mode lets later migrations alter columns on SQLite too.
            context.configure(
                connection=connection, target_metadata=target_metadata, render_as_batch=True, include_name=include_name
            )
            with context.begin_transaction():
                context.run_migrations()
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
