"""One writer of a run's metric rows at a time: writes read stored rows, merge, and write them back."""

from sqlalchemy import Connection
from sqlalchemy.orm import Session

# A lock namespace for pg_advisory_xact_lock(namespace, run_id).
LOCK_NAMESPACE = 13
# Driver SQL: they run on every write, and a compiled statement costs more than the lock.
_ADVISORY = "SELECT pg_advisory_xact_lock(%s, %s)"
_SQLITE_WRITE_LOCK = "DELETE FROM metric_series WHERE 0 = 1"


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
    connection = session.connection() if isinstance(session, Session) else session
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql(_ADVISORY, (LOCK_NAMESPACE, run_id))
    else:
        connection.exec_driver_sql(_SQLITE_WRITE_LOCK)
