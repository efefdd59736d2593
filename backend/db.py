"""Engine, session factory and the declarative base shared by every table."""

import json
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from typing import Any

import orjson

from sqlalchemy import JSON, MetaData, create_engine, event
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.pool import SingletonThreadPool

from backend.settings import get_settings

# Named constraints make Alembic migrations reproducible on SQLite and Postgres alike.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

JSONType = JSON().with_variant(JSONB(), "postgresql")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def json_loads(text: str | bytes) -> Any:
    """JSON columns decoded by orjson (several times faster than json.loads on a study's specs);
    json.loads for what only it accepts (NaN written by json.dumps on SQLite)."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)


# Execution option: on PostgreSQL (psycopg), the rows come in the binary format, so
# bytea arrives as bytes instead of hex text the driver decodes (half the time to
# read a study's series blobs). Only for statements whose rows are read raw.
BINARY_ROWS = "reglab_binary_rows"


def _binary_rows(_conn, cursor, _statement, _parameters, context, _executemany) -> None:
    if context is not None and context.execution_options.get(BINARY_ROWS):
        from psycopg.pq import Format

        cursor.format = Format.BINARY


# What SQLite leaves of the -wal file each time a checkpoint lets it start over: without a limit the file
# stays at its high-water mark (47 MB beside an 8 MB database after the tracking workload).
WAL_SIZE_LIMIT = 4 * 1024**2


def make_engine(url: str, wait: bool = True) -> Engine:
    """The engine of ``url``. ``wait=False`` (SQLite only): one connection per thread that never waits for the
    write lock and leaves WAL checkpoints to the others' commits, for writes tried on the event loop
    (backend/loop_writes.py)."""
    if url.startswith("sqlite"):
        connect_args = {"check_same_thread": False, "timeout": 30 if wait else 0}
        extra = {} if wait else {"poolclass": SingletonThreadPool}
        engine = create_engine(url, connect_args=connect_args, json_deserializer=json_loads, **extra)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record):
            cursor = dbapi_connection.cursor()
            # WAL lets the API read while a worker writes; foreign keys make deletes cascade.
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA journal_size_limit={WAL_SIZE_LIMIT}")
            if not wait:  # a checkpoint flushes to disk for milliseconds: not on the event loop
                cursor.execute("PRAGMA wal_autocheckpoint=0")
            cursor.close()

        return engine
    engine = create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20, json_deserializer=json_loads)
    if engine.dialect.driver == "psycopg":
        event.listen(engine, "before_cursor_execute", _binary_rows)
    return engine


def truncate_wal(engine: Engine, busy_timeout_ms: int = 5000) -> bool:
    """SQLite: copy the whole WAL into the database and truncate it to 0 bytes (at a clean stop, so nothing is
    left beside the database); False if a reader kept it (the next start's checkpoints catch up). PostgreSQL:
    nothing to do."""
    if engine.dialect.name != "sqlite":
        return True
    with engine.connect() as connection:
        connection.exec_driver_sql(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        busy, _frames, _copied = connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)").one()
        connection.exec_driver_sql("PRAGMA busy_timeout=30000")
    return busy == 0


@lru_cache
def get_engine() -> Engine:
    return make_engine(get_settings().database_url)


@lru_cache
def get_nowait_engine() -> Engine | None:
    """SQLite: :func:`make_engine` with ``wait=False`` on the settings' database; None on PostgreSQL."""
    url = get_settings().database_url
    return make_engine(url, wait=False) if url.startswith("sqlite") else None


@lru_cache
def get_sessionmaker() -> sessionmaker[Session]:
    return sessionmaker(bind=get_engine(), expire_on_commit=False)


@contextmanager
def session_scope() -> Iterator[Session]:
    """A session that commits on success and rolls back on error."""
    session = get_sessionmaker()()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def reset_engine_cache() -> None:
    """Forget the cached engine, e.g. after tests change REGLAB_DATABASE_URL."""
    for cached in (get_engine, get_nowait_engine):
        if cached.cache_info().currsize and (engine := cached()) is not None:
            engine.dispose()
        cached.cache_clear()
    get_sessionmaker.cache_clear()
