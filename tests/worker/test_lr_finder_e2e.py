"""POST /api/lr-finder trained by a real worker on digits, and the finder's arithmetic."""

import math
import time

import pytest

from reglab.spec import deep_merge
from tests.worker.helpers import TINY
from worker.training.lr_finder import rate_factor, smoothed, suggestion


def test_the_rate_reaches_max_rate_on_the_last_of_its_iterations():
    factor = rate_factor(1e-5, 10, 100)
    assert math.isclose(1e-5 * factor**100, 10, rel_tol=1e-9)


def test_the_suggestion_is_the_smoothed_minimums_rate_over_ten():
    rates = [10 ** (-5 + i * 0.1) for i in range(60)]
    losses = [2.3 - 0.03 * i for i in range(40)] + [1.1 + 0.5 * i for i in range(20)]
    found = suggestion(rates, losses)
    best = min(range(60), key=smoothed(losses).__getitem__)
    assert found["suggested_learning_rate"] == rates[best] / 10
    assert 35 <= best <= 41 and "÷ 10" in found["suggestion_method"]


@pytest.mark.slow
@pytest.mark.timeout(400)
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_lr_finder_on_digits_suggests_a_rate_inside_its_range(client, celery_worker):
    spec = deep_merge(TINY, {"dataset": {"train_samples": 1400}, "training": {"batch_size": 32}})
    response = client.post("/api/lr-finder", json={"spec": spec, "min_rate": 1e-5, "max_rate": 10, "batches": None})
    assert response.status_code == 201, response.text
    queued = response.json()
    assert set(queued) == set(client.get(f"/api/runs/{queued['id']}").json()), "shaped as GET /api/runs/{id}"
    assert queued["state"] == "queued" and queued["spec"]["lr_finder"]["max_rate"] == 10
    deadline = time.monotonic() + 300
    while (run := client.get(f"/api/runs/{queued['id']}").json())["state"] in ("queued", "running"):
        assert time.monotonic() < deadline, celery_worker.log()[-5000:]
        time.sleep(0.3)
    assert run["state"] == "completed", run.get("error")
    summary = run["summary"]
    assert 1e-5 < summary["suggested_learning_rate"] < 10
    assert "÷ 10" in summary["suggestion_method"]
    series = client.get(f"/api/runs/{run['id']}/metrics", params={"names": "finder_loss,finder_rate,finder_loss_mean"}).json()["series"]
    rates, losses = series["finder_rate"]["y"], series["finder_loss"]["y"]
    assert series["finder_loss"]["axis"] == "step" and len(rates) == len(losses) >= 10
    assert rates[0] == pytest.approx(1e-5) and all(b > a for a, b in zip(rates, rates[1:]))
    assert len(series["finder_loss_mean"]["y"]) == len(losses)


def test_bad_finder_bodies_are_422s_naming_the_field(client):
    from tests.backend.helpers import errors_by_field

    found = errors_by_field(client.post("/api/lr-finder", json={"min_rate": 1, "max_rate": 0.1}))
    assert "above min_rate" in found["max_rate"]
    found = errors_by_field(client.post("/api/lr-finder", json={"min_rate": 0}))
    assert "min_rate" in found
