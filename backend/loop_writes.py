"""Short SQLite writes done on the event loop itself, when they can be done at once.

Storing a 6-point metrics batch costs SQLite less than handing it to a thread
and back (bench/trainer_ingest.py), so the hot routes try it here first, on a
connection that never waits: when another writer holds the database's write
lock, or the write fails in any way the database or the route reports, nothing
is kept and the request goes on to a thread as before, whose connection waits
and whose errors are the answer. The loop is held for the write alone, never
for a lock or a disk flush: this connection leaves WAL checkpoints (milliseconds,
with a flush) to a thread, one passive checkpoint every :data:`CHECKPOINT_EVERY`
writes, after the answer. Each checkpoint that lets the WAL start over leaves the file at most
``journal_size_limit`` (:data:`backend.db.WAL_SIZE_LIMIT`), and the API's stop truncates it to nothing
(:func:`final_checkpoint`). PostgreSQL: never (every statement waits on the network).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError

from backend.db import WAL_SIZE_LIMIT, get_engine, get_nowait_engine, truncate_wal
from backend.errors import ApiError

log = logging.getLogger(__name__)
T = TypeVar("T")

# About 1,000 WAL pages (SQLite's own checkpoint interval) at a few pages a write.
CHECKPOINT_EVERY = 250
# Bytes of a WAL frame besides its page.
WAL_FRAME_HEADER = 24
# How long a restarting checkpoint, holding the write lock, waits for readers: a reader longer than this
# (an export) leaves the WAL as it is until the next checkpoint.
RESTART_WAIT_MS = 500
_written = 0
_count_lock = threading.Lock()


def write_now(work: Callable[[Connection], T]) -> tuple[T, Callable[[], None] | None] | None:
    """``work`` in a transaction on SQLite's never-waiting connection: its result and a checkpoint to run in a
    thread once it is due (else None); None when it could not be done at once (then nothing was written)."""
    engine = get_nowait_engine()
    if engine is None:
        return None
    try:
        with engine.begin() as connection:
            result = work(connection)
    except (DBAPIError, ApiError):  # locked, missing or refused: the waiting path does it, or says why not
        return None
    global _written
    with _count_lock:
        _written += 1
        due = _written % CHECKPOINT_EVERY == 0
    return result, (checkpoint if due else None)


def checkpoint() -> None:
    """Copy the WAL into the database as far as no reader needs it, without waiting for anyone; past
    :data:`WAL_SIZE_LIMIT`, also start it over.

    Under a steady stream of writes a passive checkpoint never catches the last frame (the loop writes
    more while it copies), so the WAL would never start over and its file would only grow. Once the WAL
    holds more than the limit, a RESTART checkpoint holds the write lock while it copies the rest (the
    loop's writes meanwhile go to threads, which wait) and waits a moment for readers, so that the next
    write starts the file over and SQLite cuts it down to ``journal_size_limit``.
    """
    try:
        with get_engine().connect() as connection:
            _busy, frames, _copied = connection.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)").one()
            page = connection.exec_driver_sql("PRAGMA page_size").scalar_one()
            if frames * (page + WAL_FRAME_HEADER) > WAL_SIZE_LIMIT:
                connection.exec_driver_sql(f"PRAGMA busy_timeout={RESTART_WAIT_MS}")
                try:
                    connection.exec_driver_sql("PRAGMA wal_checkpoint(RESTART)")
                finally:
                    connection.exec_driver_sql("PRAGMA busy_timeout=30000")
    except DBAPIError as exc:  # the next one, or another connection's commit, catches up
        log.warning("WAL checkpoint skipped: %s", exc)


def final_checkpoint() -> None:
    """At the API's stop: the whole WAL copied into the database and the file truncated, so a stopped
    RegLab leaves only its database; a reader still holding it (another process) only delays that."""
    try:
        if not truncate_wal(get_engine()):
            log.warning("WAL not truncated at stop: another connection was reading it")
    except DBAPIError as exc:
        log.warning("WAL not truncated at stop: %s", exc)
