"""Apply Alembic migrations from code: the API, `reglab up` and tests share it.

Every API process migrates at start (the compose stack runs 4, after its
`migrate` service), so every upgrade, `alembic upgrade head` included, runs
under a lock only one process holds at a time (taken in migrations/env.py): a
PostgreSQL advisory lock, or a lock file next to a SQLite database. The first
process migrates; the others wait, find the database at head and do nothing.
"""

from __future__ import annotations

import contextlib
import fcntl
from collections.abc import Iterator
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text

from backend.settings import get_settings

ROOT = Path(__file__).resolve().parent.parent
# pg_advisory_lock's key for RegLab's migrations ("RegL" in ASCII); any constant would do.
ADVISORY_LOCK_KEY = 0x5265674C


def alembic_config(url: str | None = None) -> Config:
    config = Config(str(ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(ROOT / "migrations"))
    config.attributes["url"] = url or get_settings().database_url
    config.attributes["configure_logging"] = False
    return config


def sqlite_path(url: str) -> Path | None:
    """The database file of a SQLite URL (None for an in-memory one)."""
    path = url.split("///", 1)[1] if "///" in url else ""
    return Path(path) if path and path != ":memory:" else None


@contextlib.contextmanager
def migration_lock(url: str) -> Iterator[None]:
    """Hold the database's migration lock (blocks until other processes release it)."""
    if url.startswith("postgresql"):
        from backend.db import make_engine

        engine = make_engine(url)
        try:
            # Session-level lock on its own connection, outside any transaction the
            # migration opens; released explicitly, and by Postgres if we die.
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(text("SELECT pg_advisory_lock(:key)"), {"key": ADVISORY_LOCK_KEY})
                try:
                    yield
                finally:
                    conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": ADVISORY_LOCK_KEY})
        finally:
            engine.dispose()
        return
    path = sqlite_path(url) if url.startswith("sqlite") else None
    if path is None:
        yield
        return
    with open(path.with_name(path.name + ".migrate-lock"), "a") as lock_file:
        fcntl.flock(lock_file, fcntl.LOCK_EX)  # released when the file closes, or the process dies
        try:
            yield
        finally:
            fcntl.flock(lock_file, fcntl.LOCK_UN)


def pending(connection, config: Config) -> bool:
    """Whether the database on ``connection`` is behind the migration scripts' head."""
    heads = set(ScriptDirectory.from_config(config).get_heads())
    return set(MigrationContext.configure(connection).get_current_heads()) != heads


def upgrade_head(url: str | None = None) -> bool:
    """Migrate the database to head (under the migration lock); True if this call applied anything."""
    url = url or get_settings().database_url
    path = sqlite_path(url) if url.startswith("sqlite") else None
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
    config = alembic_config(url)
    command.upgrade(config, "head")
    return bool(config.attributes.get("applied"))


if __name__ == "__main__":
    applied = upgrade_head()
    print(f"database {'migrated to' if applied else 'already at'} head: {get_settings().database_url}")
