"""The Runs page follows every run without a reload: "idle" when nothing runs and all is well,
runs submitted elsewhere appear within a second, re-queued runs show their attempt."""

from __future__ import annotations

import json
import time

import httpx
import redis
import pytest

from backend.channels import run_channel
from reglab.states import QUEUED
from tests.backend.helpers import set_run
from tests.browser.test_pages import create_study, wait_ready

pytestmark = pytest.mark.browser


def test_runs_page_is_idle_then_shows_runs_submitted_elsewhere_within_a_second(live_server, page, reglab_env):
    page.goto(live_server + "/")
    wait_ready(page)
    page.wait_for_selector("#live[data-state='idle']")
    assert page.locator("#live").inner_text() == "idle"

    # Submitted elsewhere (the CLI does exactly this POST), while the page stays open.
    study = create_study(live_server, "from the CLI", {"training.seed": [1, 2]})
    submitted = time.monotonic()
    first, second = (run["id"] for run in study["runs"])
    page.wait_for_selector(f"tr#run-{second}", timeout=5_000)
    took = time.monotonic() - submitted
    assert took < 1.0, f"the new runs took {took:.2f} s to appear"
    assert page.locator("tr[data-run-id]").count() == 2
    page.wait_for_selector("#live[data-state='live']")  # queued runs to follow now

    # A worker's state change reaches the row over the experiments-level stream.
    client = redis.Redis.from_url(reglab_env["REGLAB_REDIS_URL"])
    from backend import events

    set_run(first, state="running", attempts=1)
    assert events.publish_state(first, "running", epoch=1, epochs=3, error=None)
    page.wait_for_selector(f"tr#run-{first}[data-state='running']")

    # Its worker dies: re-queued for a second attempt, the reason as the tooltip.
    reason = "attempt 1: the worker (m1 (pid 7)) stopped responding after epoch 1 (no heartbeat for 130 s)."
    set_run(first, state=QUEUED, attempt_errors=[reason], heartbeat_at=None)
    from backend import events

    assert events.publish_state(first, QUEUED)
    attempt = page.locator(f"tr#run-{first} .attempt")
    attempt.wait_for()
    assert attempt.inner_text() == "attempt 2 of 3"
    assert attempt.get_attribute("title") == reason
    assert page.locator(f"tr#run-{second} .attempt").count() == 0

    # Both end: nothing left to follow, the page says idle again.
    for run_id in (first, second):
        set_run(run_id, state="completed")
        client.publish(run_channel(run_id), json.dumps({"type": "state", "run_id": run_id, "state": "completed"}))
        assert events.publish_state(run_id, "completed")
    page.wait_for_selector("#live[data-state='idle']")
    client.close()
    assert httpx.get(f"{live_server}/api/health", timeout=5).status_code == 200


def test_a_reload_answered_before_a_run_started_does_not_put_its_row_back_to_queued(live_server, page, reglab_env):
    study = create_study(live_server, "slow answer", {"training.seed": [1]})
    run_id = study["runs"][0]["id"]
    page.goto(live_server + "/")
    wait_ready(page)
    page.wait_for_selector(f"tr#run-{run_id}[data-state='queued']")

    # The next list answer is read now, while the run is queued, and held back.
    held = []
    page.route("**/api/runs?*", lambda route: held.append((route, route.fetch())))
    page.evaluate("document.dispatchEvent(new Event('visibilitychange'))")
    deadline = time.monotonic() + 5
    while not held and time.monotonic() < deadline:
        page.wait_for_timeout(50)
    assert held, "the page did not reload its runs"

    # The run starts, and the live message arrives before that answer does.
    from backend import events

    set_run(run_id, state="running", attempts=1)
    assert events.publish_state(run_id, "running", epoch=0, epochs=3, error=None)
    page.wait_for_selector(f"tr#run-{run_id}[data-state='running']")
    page.evaluate(f"document.getElementById('run-{run_id}').dataset.before = '1'")

    route, answer = held[0]
    assert answer.json()["items"][0]["state"] == "queued"
    route.fulfill(response=answer)
    page.wait_for_function(f"!document.getElementById('run-{run_id}').dataset.before")  # drawn from the answer
    assert page.locator(f"tr#run-{run_id}").get_attribute("data-state") == "running"
    page.unroute("**/api/runs?*")
