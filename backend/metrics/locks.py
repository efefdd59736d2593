"""One writer of a run's metric rows at a time: writes read stored rows, merge, and write them back."""

from sqlalchemy import Connection, text
from sqlalchemy.orm import Session

# A lock namespace for pg_advisory_xact_lock(namespace, run_id).
LOCK_NAMESPACE = 13
# Built once: they run on every write.
_ADVISORY = text("SELECT pg_advisory_xact_lock(:ns, :run_id)")
_SQLITE_WRITE_LOCK = text("DELETE FROM metric_series WHERE 0 = 1")


def dialect_of(session: Session | Connection) -> str:
    return session.get_bind().dialect.name if isinstance(session, Session) else session.dialect.name


def lock_run(session: Session | Connection, run_id: int) -> None:
    """Serialise writers of one run's series until the transaction ends; call before reading what is merged.

    PostgreSQL: a row lock cannot guard a row that does not exist yet, so two
    racing first writes of one row would overwrite each other; an advisory lock
    covers both. SQLite: the driver starts a transaction only at the first write,
    so a read before it could merge into a row another writer has just changed;
    a write that touches nothing takes the database's write lock first.
    Re-entrant within a transaction on both.
    """
    if dialect_of(session) == "postgresql":
        session.execute(_ADVISORY, {"ns": LOCK_NAMESPACE, "run_id": run_id})
    else:
        session.execute(_SQLITE_WRITE_LOCK)
