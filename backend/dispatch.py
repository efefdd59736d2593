"""Sending runs to the workers, and the background pass that retries and reaps.

The API sends tasks by name on a small Celery app of its own, so it never
imports the worker (or TensorFlow). Publishing never retries and every
connection times out quickly: a broker that is down leaves the run `queued`
with ``dispatched_at`` NULL, and :func:`dispatch_pass` sends it later.

A run sent but never claimed is sent again once its dispatch is older than
``REGLAB_DISPATCH_TIMEOUT_S`` and the train queue has been empty for a pass
(so its message was delivered, not waiting behind others): the worker that
took it died or hangs before its claim, and the broker would give the
message back only after its visibility timeout, a day later. The old
message, when it comes back, finds the run claimed or final and is refused
at the claim (the worker acks it and moves on).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from datetime import datetime, timedelta
from functools import lru_cache

import redis
from celery import Celery
from sqlalchemy import or_, select, update

from backend import events
from backend.artifacts import remove_checkpoints
from backend.db import session_scope
from backend.runs.attempts import lose_attempt
from backend.runs.models import Run
from backend.search.coordinator import search_pass
from backend.settings import get_settings
from backend.timeutil import as_utc, utcnow
from backend.trainer.external import is_external
from reglab.states import FAILED, QUEUED, RUNNING

log = logging.getLogger(__name__)

TRAIN_TASK = "reglab.train_run"
# Runs sent per pass; the rest wait for the next pass.
PASS_BATCH = 500
# How long a broker that answered is taken to still answer: a PING per send was a third of a
# single clone's server time (bench/clone_runs.py). A broker lost meanwhile fails the send itself,
# within the broker timeout, and the runs stay pending.
BROKER_CHECK_TTL_S = 1.0
_answered_at: dict[str, float] = {}
# Consecutive passes that found the train queue empty, by (broker, queue).
_empty_passes: dict[tuple[str, str], int] = {}


@lru_cache(maxsize=4)
def _celery(redis_url: str, timeout: float) -> Celery:
    app = Celery("reglab-api", broker=redis_url, backend=redis_url, set_as_current=False)
    app.conf.update(
        broker_connection_timeout=timeout,
        broker_connection_retry=False,
        broker_connection_retry_on_startup=False,
        broker_connection_max_retries=0,
        broker_transport_options={
            "socket_connect_timeout": timeout,
            "socket_timeout": timeout,
            "max_retries": 0,
        },
        redis_socket_connect_timeout=timeout,
        redis_socket_timeout=timeout,
        task_publish_retry=False,
    )
    return app


def celery_app() -> Celery:
    """The API's publishing-only Celery app for the current settings."""
    settings = get_settings()
    return _celery(settings.REDIS_URL, settings.BROKER_TIMEOUT_S)


def broker_answers() -> bool:
    """Whether Redis answers a PING within the broker timeout (an answer is trusted for BROKER_CHECK_TTL_S)."""
    url = get_settings().REDIS_URL
    if time.monotonic() - _answered_at.get(url, float("-inf")) < BROKER_CHECK_TTL_S:
        return True
    try:
        answered = bool(events.redis_client().ping())
    except (redis.RedisError, OSError):
        answered = False
    if answered:
        _answered_at[url] = time.monotonic()
    else:
        _answered_at.pop(url, None)
    return answered


def _send_batch(run_ids: list[int], stale_before: datetime | None = None) -> tuple[int, Exception | None]:
    """Claim runs, send their tasks and commit, all in one transaction.

    The conditional UPDATE is the lock: of two API processes, only one gets
    each row back. Committing after the sends means an API that dies half-way
    commits nothing: its runs keep ``dispatched_at`` NULL and the next pass
    sends them again. A task sent twice is harmless, since a worker claims a
    run only while it is queued. With ``stale_before``, runs sent before it
    and still queued are sent again too. Returns (runs sent, the broker error
    if one stopped the batch; then the whole batch is released).
    """
    settings = get_settings()
    app = celery_app()
    unsent = Run.dispatched_at.is_(None)
    if stale_before is not None:
        unsent = or_(unsent, Run.dispatched_at < stale_before)
    with session_scope() as session:
        claimed_rows = sorted(
            session.execute(
                update(Run)
                .where(Run.id.in_(run_ids), Run.state == QUEUED, unsent)
                .values(dispatched_at=utcnow())
                .returning(Run.id, Run.experiment_id)
            ).all()
        )
        claimed = [run_id for run_id, _ in claimed_rows]
        try:
            # One pipeline for the whole batch: the tasks reach Redis together when the batch closes.
            with app.producer_or_acquire() as producer, producer.batch():
                for index, run_id in enumerate(claimed):
                    app.send_task(
                        TRAIN_TASK,
                        args=[run_id],
                        queue=settings.TRAIN_QUEUE,
                        retry=False,
                        ignore_result=True,
                        producer=producer,
                        # The first task declares the queue; declaring it again per task was a sixth of a send.
                        **({} if index == 0 else {"declare": []}),
                    )
        except Exception as exc:  # kombu and redis raise many types; the answer is the same: try later
            _answered_at.pop(settings.REDIS_URL, None)
            # Some may have reached the broker before the failure: sending them again is harmless.
            if claimed:
                session.execute(update(Run).where(Run.id.in_(claimed)).values(dispatched_at=None))
            return 0, exc  # the broker is failing: no announcement either
    if claimed_rows:  # after the commit, so a page that reloads on it sees the runs
        events.publish_queued([run_id for run_id, _ in claimed_rows], sorted({e for _, e in claimed_rows}))
    return len(claimed), None


def dispatch_runs(run_ids: Iterable[int], stale_before: datetime | None = None) -> int:
    """Send each run's task if the broker answers; return how many were sent.

    Never raises for a broker problem: runs that could not be sent keep
    ``dispatched_at`` NULL for the next :func:`dispatch_pass`. ``stale_before``:
    see :func:`_send_batch`.
    """
    ids = list(run_ids)
    if not ids or not broker_answers():
        return 0
    sent = 0
    for start in range(0, len(ids), PASS_BATCH):
        done, error = _send_batch(ids[start : start + PASS_BATCH], stale_before)
        sent += done
        if error is not None:
            log.warning("broker unavailable, %d of %d runs left queued: %s", len(ids) - sent, len(ids), error)
            break
    return sent


def pending_run_ids(limit: int = PASS_BATCH) -> list[int]:
    """Queued runs that never reached the broker, oldest first."""
    with session_scope() as session:
        return list(
            session.scalars(
                select(Run.id).where(Run.state == QUEUED, Run.dispatched_at.is_(None)).order_by(Run.id).limit(limit)
            )
        )


def stale_dispatch_ids(cutoff: datetime, limit: int = PASS_BATCH) -> list[int]:
    """Queued runs sent to the broker before ``cutoff`` that no worker claimed (a claim makes them running),
    longest waiting first."""
    with session_scope() as session:
        return list(
            session.scalars(
                select(Run.id)
                .where(Run.state == QUEUED, Run.dispatched_at < cutoff)
                .order_by(Run.dispatched_at, Run.id)
                .limit(limit)
            )
        )


def queue_drained() -> bool:
    """Whether the train queue was empty at this pass and the one before: every message sent was delivered,
    and a message delivered just before the last pass had a whole interval to be claimed.

    A run whose message waits in the queue behind others is not lost: sending it again would only pile
    copies up. Unknown (the broker not answering) counts as not drained.
    """
    settings = get_settings()
    key = (settings.REDIS_URL, settings.TRAIN_QUEUE)
    try:
        waiting = events.redis_client().llen(settings.TRAIN_QUEUE)
    except (redis.RedisError, OSError):
        waiting = None
    if waiting != 0:
        _empty_passes.pop(key, None)
        return False
    _empty_passes[key] = _empty_passes.get(key, 0) + 1
    return _empty_passes[key] >= 2


def resend_stale_dispatches(now: datetime | None = None) -> int:
    """Send again the runs whose message was delivered to a worker that never claimed them; how many were sent."""
    if not queue_drained():
        return 0
    timeout = get_settings().dispatch_timeout_s
    cutoff = (now or utcnow()) - timedelta(seconds=timeout)
    stale = stale_dispatch_ids(cutoff)
    if not stale:
        return 0
    sent = dispatch_runs(stale, stale_before=cutoff)
    if sent:
        log.warning(
            "run(s) %s sent again: dispatched more than %g s ago and never claimed (the worker that took the task "
            "died or hangs before its claim)", ", ".join(map(str, stale)), timeout,
        )  # fmt: skip
    return sent


def stale_message(seconds: float, epoch: int, worker_host: str | None = None) -> str:
    worker = f" ({worker_host})" if worker_host else ""
    return f"the worker{worker} stopped responding after epoch {epoch} (no heartbeat for {int(seconds)} s)"


def reap_stale_runs(now: datetime | None = None) -> dict[int, str]:
    """Running runs whose worker stopped sending heartbeats: re-queued, or failed after their last attempt.

    Returns ``{run_id: new state}`` (``queued`` or ``failed``).
    """
    settings = get_settings()
    now = now or utcnow()
    cutoff = now - timedelta(seconds=settings.HEARTBEAT_TIMEOUT_S)
    # A run that never sent a heartbeat is judged by when it started.
    silent = ((Run.heartbeat_at.is_not(None)) & (Run.heartbeat_at < cutoff)) | (
        (Run.heartbeat_at.is_(None)) & (Run.started_at < cutoff)
    )
    reaped: dict[int, str] = {}
    with session_scope() as session:
        rows = session.execute(
            select(
                Run.id, Run.heartbeat_at, Run.started_at, Run.epoch, Run.attempts, Run.attempt_errors, Run.worker_host,
                Run.spec,
            ).where(Run.state == RUNNING, silent)
        ).all()
        for row in rows:
            seen = as_utc(row.heartbeat_at or row.started_at)
            reason = stale_message((now - seen).total_seconds(), row.epoch, row.worker_host)
            # Guarded by state, attempt and silence: a run that just finished, beat, or
            # was reaped by another API process stays as it is.
            # No worker can resume an external run: its client is its only trainer.
            max_attempts = 1 if is_external(row.spec) else settings.MAX_ATTEMPTS
            state = lose_attempt(session, row, reason, now, max_attempts, silent)
            if state is not None:
                reaped[row.id] = state
    for run_id, state in reaped.items():
        if state == FAILED:
            remove_checkpoints(run_id)  # a failed run is cloned, never resumed
        else:
            log.warning("run %s lost its worker; re-queued to resume from its last checkpoint", run_id)
        events.publish_state(run_id, state)
    return reaped


def dispatch_pass() -> dict[str, int]:
    """One pass of the background loop: reap silent runs, send runs the broker missed (re-queued ones too),
    then send again those a worker took and never claimed."""
    reaped = reap_stale_runs()
    search_pass(send=dispatch_runs)
    pending = pending_run_ids()
    sent = dispatch_runs(pending) if pending else 0
    resent = resend_stale_dispatches()
    return {"reaped": len(reaped), "pending": len(pending), "dispatched": sent, "resent": resent}
