"""Runs a stopped stack left behind: find them, put them back in the queue.

An interrupted run goes back to ``queued`` with its stored points; the worker
resumes it from its last checkpoint (the model and optimizer after its last
complete epoch, see ``worker/training/checkpoint.py``), or from epoch 0 if it
had none yet.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone


def recover_runs(
    database_url: str, embedded_broker: bool, heartbeat_timeout_s: float, max_attempts: int = 3
) -> tuple[int, int]:
    """Make runs a previous stop left behind trainable again; returns (requeued running, redispatched queued).

    With the embedded Redis nothing survives a restart, so every queued run is
    sent again (``dispatched_at`` cleared: the API's dispatcher picks it up) and
    every ``running`` run lost its worker. With an external broker, queued
    messages are still there and other machines' workers may be training, so
    only runs whose heartbeat went stale are taken back. Either way the run's
    attempt was lost (a clean stop re-queues its runs itself): after
    ``max_attempts`` lost attempts it is failed instead (see
    :mod:`backend.runs.attempts`). Returns the runs re-queued, not those failed.
    """
    from sqlalchemy import or_, select, update

    from backend.db import make_engine
    from backend.models import Run
    from reglab.states import QUEUED, RUNNING

    engine = make_engine(database_url)
    try:
        with engine.begin() as conn:
            orphaned = select(Run.id).where(Run.state == RUNNING)
            if not embedded_broker:
                stale = datetime.now(timezone.utc) - timedelta(seconds=heartbeat_timeout_s)
                orphaned = orphaned.where(or_(Run.heartbeat_at.is_(None), Run.heartbeat_at < stale))
            ids = list(conn.scalars(orphaned))
            requeued = lose_attempts(conn, ids, "the stack stopped while it trained", max_attempts)
            redispatched = 0
            if embedded_broker:
                redispatched = conn.execute(
                    update(Run).where(Run.state == QUEUED, Run.dispatched_at.is_not(None)).values(dispatched_at=None)
                ).rowcount
        return requeued, redispatched
    finally:
        engine.dispose()


def redispatch_queued(database_url: str) -> int:
    """After the embedded Redis restarted empty: every queued run it held is to be sent again (the API's
    dispatcher sends runs whose ``dispatched_at`` is NULL); returns how many."""
    from sqlalchemy import update

    from backend.db import make_engine
    from backend.models import Run
    from reglab.states import QUEUED

    engine = make_engine(database_url)
    try:
        with engine.begin() as conn:
            return conn.execute(
                update(Run).where(Run.state == QUEUED, Run.dispatched_at.is_not(None)).values(dispatched_at=None)
            ).rowcount
    finally:
        engine.dispose()


def has_experiments(database_url: str) -> bool:
    from sqlalchemy import select

    from backend.db import make_engine
    from backend.models import Experiment

    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            return conn.scalar(select(Experiment.id).limit(1)) is not None
    finally:
        engine.dispose()


def requeue_runs(conn, run_ids: list[int]) -> None:
    """Put interrupted runs back to ``queued``, to resume from their last checkpoint.

    Their points stay: the epochs up to the checkpoint are kept as they are,
    and the resumed attempt's first write replaces whatever came after it.
    """
    from sqlalchemy import update

    from backend.models import Run
    from reglab.states import QUEUED

    conn.execute(
        update(Run)
        .where(Run.id.in_(run_ids))
        .values(
            state=QUEUED,
            dispatched_at=None,
            started_at=None,
            heartbeat_at=None,
            worker_host=None,
        )
    )


def lose_attempts(conn, run_ids: list[int], reason: str, max_attempts: int) -> int:
    """Re-queue (or fail, after their last attempt) runs whose attempt ``reason`` ended; returns those re-queued."""
    from sqlalchemy import select

    from backend.models import Run
    from backend.runs.attempts import lose_attempt
    from backend.timeutil import utcnow
    from reglab.states import QUEUED

    if not run_ids:
        return 0
    rows = conn.execute(
        select(Run.id, Run.attempts, Run.attempt_errors, Run.epoch).where(Run.id.in_(run_ids))
    ).all()
    now = utcnow()
    return sum(lose_attempt(conn, row, reason, now, max_attempts) == QUEUED for row in rows)


def requeue_lost(database_url: str, worker_hosts: set[str] | None, reason: str, max_attempts: int) -> int:
    """After our worker died: its runs lost an attempt; re-queue them (or fail them after their last)."""
    from backend.db import make_engine

    engine = make_engine(database_url)
    try:
        with engine.begin() as conn:
            ids = running_ids(conn, worker_hosts)
            return lose_attempts(conn, ids, reason, max_attempts)
    finally:
        engine.dispose()


def running_ids(conn, worker_hosts: set[str] | None) -> list[int]:
    from sqlalchemy import select

    from backend.models import Run
    from reglab.states import RUNNING

    query = select(Run.id).where(Run.state == RUNNING)
    if worker_hosts is not None:
        query = query.where(Run.worker_host.in_(sorted(worker_hosts)))
    return list(conn.scalars(query.order_by(Run.id)))


def running_run_ids(database_url: str, worker_hosts: set[str] | None = None) -> list[int]:
    """Runs in state ``running``; with ``worker_hosts``, only those these worker processes hold."""
    from sqlalchemy import select

    from backend.db import make_engine
    from backend.models import Run
    from reglab.states import RUNNING

    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            query = select(Run.id).where(Run.state == RUNNING)
            if worker_hosts is not None:
                query = query.where(Run.worker_host.in_(sorted(worker_hosts)))
            return list(conn.scalars(query.order_by(Run.id)))
    finally:
        engine.dispose()


def requeue_interrupted(database_url: str, stopped: list[int], worker_hosts: set[str] | None = None) -> int:
    """After our worker exited: re-queue the runs it was asked to stop and any it left ``running``.

    ``stopped`` runs ended as ``cancelled`` (at our request, not a person's) or,
    if the worker was killed, are still ``running``. ``worker_hosts`` None means
    every running run was ours (the embedded broker feeds only our worker).
    """
    from sqlalchemy import and_, or_, select

    from backend.db import make_engine
    from backend.models import Run
    from reglab.states import CANCELLED, RUNNING

    engine = make_engine(database_url)
    try:
        with engine.begin() as conn:
            ours = Run.state == RUNNING
            if worker_hosts is not None:
                ours = and_(ours, Run.worker_host.in_(sorted(worker_hosts)))
            if stopped:
                ours = or_(ours, and_(Run.id.in_(stopped), Run.state.in_([RUNNING, CANCELLED])))
            ids = list(conn.scalars(select(Run.id).where(ours)))
            if ids:
                requeue_runs(conn, ids)
            return len(ids)
    finally:
        engine.dispose()


def requeue_running(database_url: str, worker_hosts: set[str] | None = None) -> int:
    """Re-queue runs left ``running`` (by ``worker_hosts``, or all of them)."""
    return requeue_interrupted(database_url, [], worker_hosts)


def ask_runs_to_stop(redis_url: str, run_ids: list[int]) -> None:
    """The API's cancel request, sent to our own broker, marked as a pause (checkpoints kept)."""
    import redis

    from backend.events import request_cancel

    client = redis.Redis.from_url(redis_url, socket_connect_timeout=2, socket_timeout=2)
    try:
        request_cancel(*run_ids, client=client, requeue=True)
    finally:
        client.close()


def forget_stop_requests(redis_url: str, run_ids: list[int]) -> None:
    """Drop our stop requests, so a re-queued run is not cancelled when it trains again."""
    import redis

    from backend.channels import cancel_key

    client = redis.Redis.from_url(redis_url, socket_connect_timeout=2, socket_timeout=2)
    try:
        client.delete(*(cancel_key(run_id) for run_id in run_ids))
    except redis.RedisError:
        pass  # the embedded Redis keeps nothing anyway
    finally:
        client.close()
