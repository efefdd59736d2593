"""Runs made on the store tests' database, and eight writers racing on one run."""

import threading
from collections.abc import Callable

import sqlalchemy as sa

from backend.metrics.service import write_points


def new_run(engine) -> int:
    with engine.begin() as conn:
        return conn.execute(
            sa.text("INSERT INTO runs (experiment_id, name, spec, state, epoch, epochs, summary) "
                    "VALUES (1, 'r', '{}', 'queued', 0, 0, '{}') RETURNING id")  # fmt: skip
        ).scalar_one()


def race_writers(engine, run_id: int, batch: Callable[[int], list[dict]], writers: int = 8) -> None:
    """``writers`` threads released at once, each writing ``batch(k)`` to ``run_id`` in its own transaction."""
    barrier = threading.Barrier(writers)

    def write(k):
        barrier.wait()
        with engine.begin() as conn:
            write_points(conn, run_id, batch(k))

    threads = [threading.Thread(target=write, args=(k,)) for k in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
