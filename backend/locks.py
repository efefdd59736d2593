"""Transaction locks for writes that read before they write: one writer of a run's metric rows at a time (they
read stored rows, merge and write them back), one adder of runs to an experiment at a time (it counts them first)."""

from sqlalchemy import Connection
from sqlalchemy.orm import Session

# Lock namespaces for pg_advisory_xact_lock(namespace, id).
LOCK_NAMESPACE = 13
EXPERIMENT_NAMESPACE = 14
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


def lock_experiments(connection: Connection, experiment_ids: list[int]) -> None:
    """Serialise writers adding runs to these experiments until the transaction ends; call before counting
    their runs, so that the count stays true until the insert (two clones racing past the cap otherwise).

    Locked in id order, so two writers of the same experiments cannot deadlock. SQLite: the database's write lock.
    """
    if connection.dialect.name != "postgresql":
        connection.exec_driver_sql(_SQLITE_WRITE_LOCK)
        return
    for experiment_id in sorted(set(experiment_ids)):
        connection.exec_driver_sql(_ADVISORY, (EXPERIMENT_NAMESPACE, experiment_id))
