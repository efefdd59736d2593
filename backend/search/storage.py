"""Optuna's RDB storage on RegLab's own database.

Optuna's tables live next to RegLab's: the migration creates them (under the
migration lock) and RegLab's Alembic leaves them out of its comparisons
(:data:`OPTUNA_TABLES`). Optuna would also check "its" Alembic revision,
which here is RegLab's, so that check is skipped: the installed Optuna
version's tables are the ones the migration created.
"""

from __future__ import annotations

import logging
from functools import lru_cache

from sqlalchemy import insert, select
from sqlalchemy.engine import Connection

from backend.settings import get_settings


def _models():
    # Optuna's table definitions (a private module, but the only one that describes them).
    from optuna.storages._rdb import models

    return models


def optuna_tables() -> frozenset[str]:
    return frozenset(_models().BaseModel.metadata.tables)


def include_name(name: str | None, type_: str, _parent_names: dict) -> bool:
    """Alembic's filter (migrations/env.py): Optuna's tables stay out of autogenerate and ``alembic check``."""
    return not (type_ == "table" and name in optuna_tables())


def create_optuna_tables(connection: Connection) -> None:
    """Optuna's tables and its version row, as its RDBStorage would create them on first use."""
    import optuna

    models = _models()
    models.BaseModel.metadata.create_all(connection)
    version = models.VersionInfoModel.__table__
    if connection.execute(select(version.c.version_info_id)).first() is None:
        connection.execute(
            insert(version).values(version_info_id=1, schema_version=models.SCHEMA_VERSION,
                                   library_version=optuna.__version__)  # fmt: skip
        )


def drop_optuna_tables(connection: Connection) -> None:
    _models().BaseModel.metadata.drop_all(connection)


def _sqlite_pragmas(engine) -> None:
    """RegLab's own SQLite settings on Optuna's connections: an ask or tell commits a dozen times, and
    with SQLite's default synchronous=FULL each commit waits for the disk."""
    from sqlalchemy import event

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_connection, _record):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    engine.dispose()  # connections opened before the listener get the pragmas when reopened


@lru_cache(maxsize=4)
def _storage(url: str):
    import optuna

    logging.getLogger("optuna").setLevel(logging.WARNING)
    rdb = optuna.storages.RDBStorage(
        url,
        engine_kwargs={"pool_pre_ping": True} if url.startswith("postgresql") else {"connect_args": {"timeout": 30}},
        skip_table_creation=True,
        skip_compatibility_check=True,
    )
    if url.startswith("sqlite"):
        _sqlite_pragmas(rdb.engine)
    # Optuna's own cache of finished trials (they never change, so it is safe across processes), kept
    # for the process: without it every step re-reads every trial, several times (bench/search_overhead.py).
    return optuna.storages.get_storage(rdb)


def get_storage():
    """The RDBStorage on REGLAB_DATABASE_URL (one per process; migrations must have run)."""
    return _storage(get_settings().database_url)


def study_name(experiment_id: int) -> str:
    return f"reglab-experiment-{experiment_id}"
