"""Writes tried on the event loop: done at once on SQLite and never waiting for its lock; else left to a thread."""

import os
import sqlite3
import time

import pytest
import sqlalchemy as sa

from backend import loop_writes
from backend.db import get_engine
from backend.errors import NotFound
from backend.loop_writes import write_now

sqlite_only = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


@pytest.fixture
def experiment(reglab_env) -> int:
    with get_engine().begin() as conn:
        return conn.exec_driver_sql(
            "INSERT INTO experiments (name, description, tags, base, grid) VALUES ('e', '', '[]', '{}', '{}') RETURNING id"
        ).scalar_one()


def describe(text: str):
    """A write that names what it wrote."""
    return lambda conn: conn.execute(sa.text("UPDATE experiments SET description = :d"), {"d": text}) and text


def description() -> str:
    with get_engine().connect() as conn:
        return conn.exec_driver_sql("SELECT description FROM experiments").scalar_one()


@sqlite_only
def test_a_write_done_at_once_is_committed(experiment):
    result, _ = write_now(describe("now"))

    assert result == "now" and description() == "now"


@sqlite_only
def test_a_held_write_lock_leaves_the_write_to_a_thread_without_waiting(experiment, reglab_env):
    holder = sqlite3.connect(reglab_env["REGLAB_DATABASE_URL"].removeprefix("sqlite:///"), isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    started = time.monotonic()
    assert write_now(describe("blocked")) is None
    assert time.monotonic() - started < 0.5  # the waiting path's timeout is 30 s
    holder.execute("ROLLBACK")
    holder.close()

    assert description() == ""
    assert write_now(describe("after"))[0] == "after"


@sqlite_only
def test_a_write_its_route_refuses_keeps_nothing(experiment):
    def refused(conn):
        describe("half")(conn)
        raise NotFound("run 7 not found")

    assert write_now(refused) is None
    assert description() == ""


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_postgresql_is_never_written_on_the_loop(experiment):
    assert write_now(describe("now")) is None
    assert description() == ""


@sqlite_only
def test_the_loops_writes_leave_wal_checkpoints_to_a_thread(experiment, reglab_env):
    wal = reglab_env["REGLAB_DATABASE_URL"].removeprefix("sqlite:///") + "-wal"
    every = loop_writes.CHECKPOINT_EVERY
    # 4 pages a write, all of them new (SQLite leaves a page whose bytes are the same unwritten).
    due = [write_now(describe(os.urandom(8_192).hex()))[1] for _ in range(2 * every)]

    # 2,000 pages and more: SQLite's own checkpoint, at 1,000, would have kept the WAL from growing past 4 MB.
    assert os.path.getsize(wal) > 6 * 2**20
    assert sum(call is not None for call in due) == 2
    next(call for call in due if call is not None)()
    with sqlite3.connect(wal.removesuffix("-wal")) as conn:
        busy, frames, copied = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    assert busy == 0 and frames == copied > 0


def _fill_then_checkpoint() -> int:
    """The -wal file's size after twice CHECKPOINT_EVERY writes of new pages, their due checkpoint and one write more."""
    due = [write_now(describe(os.urandom(8_192).hex()))[1] for _ in range(2 * loop_writes.CHECKPOINT_EVERY)]
    next(call for call in due if call is not None)()
    # The write after a complete checkpoint starts the WAL over; SQLite cuts the file down then.
    write_now(describe("after the checkpoint"))
    return os.path.getsize(get_engine().url.database + "-wal")


@sqlite_only
@pytest.mark.parametrize("limited", [True, False], ids=["journal_size_limit", "no limit"])
def test_a_checkpoint_leaves_the_wal_at_most_its_size_limit(experiment, monkeypatch, limited):
    from backend import db

    if not limited:
        monkeypatch.setattr(db, "WAL_SIZE_LIMIT", -1)
    db.reset_engine_cache()  # new connections, with the pragma as set now

    size = _fill_then_checkpoint()

    # Over 6 MB at its high-water mark (see above); the limit is 4 MiB.
    if limited:
        assert size <= 4 * 2**20
    else:
        assert size > 6 * 2**20


@sqlite_only
def test_the_apis_stop_leaves_no_wal_behind(experiment):
    _fill_then_checkpoint()
    wal = get_engine().url.database + "-wal"
    assert os.path.getsize(wal) > 0

    loop_writes.final_checkpoint()

    assert not os.path.exists(wal) or os.path.getsize(wal) == 0
    assert description() == "after the checkpoint"


@sqlite_only
def test_under_a_steady_stream_of_writes_the_wal_stays_near_its_limit(experiment):
    import threading

    wal = get_engine().url.database + "-wal"
    done = threading.Event()

    def stream() -> None:  # the loop's writes never pause for the checkpoints
        for _ in range(1_500):  # 4 new pages each: 24 MB of WAL frames in all
            write_now(describe(os.urandom(8_192).hex()))
        done.set()

    writer = threading.Thread(target=stream)
    writer.start()
    biggest = 0
    while not done.is_set():
        loop_writes.checkpoint()
        biggest = max(biggest, os.path.getsize(wal) if os.path.exists(wal) else 0)
    writer.join()

    # Passive checkpoints alone never let it start over (7 MB and growing); at most a checkpoint's worth past 4 MiB.
    assert biggest <= 6 * 2**20
