"""End to end: a run whose worker machine dies mid-training is re-queued by the API's reaper,
resumes on another worker (no database, a data directory of its own) from the checkpoint the API holds, keeps every point stored up to the checkpoint and
ends with each epoch exactly once, its second attempt recorded with the first one's reason."""

import signal
import time
from datetime import timedelta

import pytest
from sqlalchemy import update

from backend.db import session_scope
from backend.dispatch import dispatch_pass
from backend.runs.models import Run
from reglab.spec import deep_merge
from backend.timeutil import utcnow
from tests.worker import store
from tests.worker.helpers import TINY
from tests.worker.store import create_run, load_run, send, wait_for
from backend.storage import checkpoint_prefix, get_storage, latest_checkpoint

pytestmark = pytest.mark.slow

EPOCHS, TRAIN, BATCH = 20, 1400, 16
EVERY_EPOCH = {"REGLAB_CHECKPOINT_INTERVAL_S": "0"}


def stored_points(run_id):
    return store.stored_points(run_id)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_killed_worker_run_resumes_from_its_checkpoint(celery_worker_factory):
    spec = deep_merge(
        TINY,
        {"dataset": {"train_samples": TRAIN}, "training": {"epochs": EPOCHS, "batch_size": BATCH}},
    )
    run_id = create_run(spec)
    first = celery_worker_factory(EVERY_EPOCH)
    send(run_id)
    wait_for(run_id, lambda run: run.epoch >= 2, worker=first, timeout=120)
    first.process.send_signal(signal.SIGKILL)
    first.process.wait(10)

    assert load_run(run_id).state == "running"  # a dead worker's run, until its heartbeat goes stale
    resumed_from, _ = latest_checkpoint(run_id)  # uploaded to the API's store
    assert 1 <= resumed_from < EPOCHS
    before = stored_points(run_id)
    with session_scope() as session:
        session.execute(update(Run).where(Run.id == run_id).values(heartbeat_at=utcnow() - timedelta(hours=1)))

    second = celery_worker_factory(EVERY_EPOCH)
    # The API's background pass: the silent run goes back to the queue and is sent again (the
    # killed worker's message would only be redelivered after the broker's visibility timeout).
    # The live server's own loop may run that pass first, so the test runs it until one has.
    deadline = time.monotonic() + 30
    while not (run := load_run(run_id)).attempt_errors or (run.state == "queued" and run.dispatched_at is None):
        assert time.monotonic() < deadline, "the silent run was never re-queued and sent"
        dispatch_pass()
        time.sleep(0.2)
    run = wait_for(run_id, worker=second, timeout=180)
    assert run.state == "completed", run.error
    assert run.attempts == 2 and len(run.attempt_errors) == 1
    assert run.attempt_errors[0].startswith("attempt 1: the worker") and "stopped responding" in run.attempt_errors[0]
    assert (run.summary["resumed_from_epoch"], run.summary["epochs_trained"]) == (resumed_from, EPOCHS)
    assert f"resuming from its checkpoint after epoch {resumed_from}" in second.log()

    after = stored_points(run_id)
    for name in ("loss", "val_accuracy", "learning_rate"):
        assert sorted(x for n, axis, x in after if n == name) == list(range(EPOCHS))
    steps = sorted(x for n, axis, x in after if n == "batch_loss")
    per_epoch = len(steps) // EPOCHS
    assert steps == list(range(EPOCHS * per_epoch))
    kept = {
        key: value for key, value in before.items()
        if key[2] < (resumed_from if key[1] == "epoch" else resumed_from * per_epoch)
    }  # fmt: skip
    assert kept and {key: after[key] for key in kept} == kept
    # The t offsets go on after the interrupted attempt's.
    last_kept_t = max(t for _, t in kept.values())
    assert min(t for (n, axis, x), (_, t) in after.items() if axis == "epoch" and x >= resumed_from) > last_kept_t
    assert latest_checkpoint(run_id) is None and not list(get_storage().keys(checkpoint_prefix(run_id)))
