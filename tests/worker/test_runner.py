"""execute_run in-process against a live API: outcomes that need no training (the Celery path is in test_e2e)."""

import pytest
import redis
from pydantic import ValidationError

from backend.channels import cancel_key
from backend.settings import get_settings
from reglab.spec import RunSpec
from reglab.client import Client
from tests.worker.helpers import TINY
from tests.worker.store import create_run, load_run
from worker.runner import execute_run, failure_message


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_invalid_stored_spec_fails_with_the_field_named(live_server):
    run_id = create_run({**TINY, "training": {"epochs": 0}})
    client = Client(live_server)
    assert execute_run(run_id, client) == "failed"
    run = load_run(run_id)
    assert run.state == "failed" and run.error.startswith("the stored spec is invalid: training.epochs")
    assert execute_run(run_id, client) == "skipped", "a final run is never trained again"
    assert execute_run(run_id + 1000, client) == "skipped", "nor a missing one"


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_run_cancelled_while_queued_is_not_trained(live_server):
    run_id = create_run(TINY)
    store = redis.Redis.from_url(get_settings().REDIS_URL)
    store.set(cancel_key(run_id), 1)
    assert execute_run(run_id, Client(live_server)) == "cancelled"
    run = load_run(run_id)
    assert (run.state, run.epoch) == ("cancelled", 0)
    assert not store.exists(cancel_key(run_id)), "the served request is cleared"


def test_failure_messages_are_one_actionable_line():
    with pytest.raises(ValidationError) as error:
        RunSpec.model_validate({"optimizer": {"learning_rate": -1}})
    assert failure_message(error.value).startswith("the stored spec is invalid: optimizer.learning_rate")
    assert failure_message(MemoryError()).startswith("out of memory")
    assert failure_message(ValueError("bad thing\nsecond line")) == "ValueError: bad thing"
