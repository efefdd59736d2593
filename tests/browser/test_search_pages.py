"""In Chromium: the LR finder on New study, and a pruned search study's page (state badge, epochs saved, importance)."""

from __future__ import annotations

import httpx
import pytest

from tests.browser.test_pages import wait_ready
from tests.backend.helpers import set_run

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_find_learning_rate_plots_the_curve_and_fills_the_rate(live_server, celery_worker, page):
    page.goto(live_server + "/new")
    wait_ready(page)
    page.select_option("#field-dataset-name", "digits")
    page.fill("#field-dataset-validation_samples", "300")
    page.fill("#field-dataset-train_samples", "1400")
    page.fill("#field-model-hidden_layers", "16")
    page.fill("#field-training-batch_size", "32")
    page.click("#find-rate")
    page.wait_for_selector("#finder-accept", timeout=120_000)
    chart = page.evaluate("(() => { const d = document.getElementById('finder-chart'); "
                          "return { type: d.layout.xaxis.type, traces: d.data.length, shapes: d.layout.shapes.length }; })()")
    assert chart == {"type": "log", "traces": 2, "shapes": 1}
    suggested = page.evaluate("window.reglabFinder.run.summary.suggested_learning_rate")
    assert 1e-5 < suggested < 10
    page.click("#finder-accept")
    filled = float(page.input_value("#field-optimizer-learning_rate"))
    assert filled == pytest.approx(float(f"{suggested:.2g}"))


def test_study_page_shows_search_space_pruning_savings_and_importance(live_server, page):
    search = {"method": "random", "trials": 10, "parallel": 10, "seed": 0,
              "space": {"regularization.dropout": {"uniform": [0, 0.5]}, "regularization.kernel_l2": {"log_uniform": [1e-5, 1e-2]}}}  # fmt: skip
    response = httpx.post(f"{live_server}/api/experiments", json={"name": "searched", "search": search,
                          "base": {"training": {"epochs": 10}}, "pruner": {"name": "median"}}, timeout=30)  # fmt: skip
    assert response.status_code == 201, response.text
    experiment = response.json()
    runs = experiment["runs"]
    assert len(runs) == 10
    for i, run in enumerate(runs):
        spec = httpx.get(f"{live_server}/api/runs/{run['id']}").json()["spec"]
        if i == 0:
            set_run(run["id"], state="pruned", epoch=3, error="val_accuracy 0.100 at epoch 3 is below the median 0.800 of 5 runs at that epoch")
        else:
            set_run(run["id"], state="completed", epoch=10, summary={"best_val_accuracy": 0.9 - spec["regularization"]["dropout"]})
    page.goto(f"{live_server}/experiments/{experiment['id']}")
    wait_ready(page)
    assert "saved 7 GPU-epochs" in page.text_content("#epochs-saved")
    assert "uniform [0, 0.5]" in page.text_content("#grid-table")
    page.wait_for_function("document.getElementById('importance-chart').data?.length === 1", timeout=30_000)
    fields = page.evaluate("document.getElementById('importance-chart').data[0].y")
    assert fields[-1] == "regularization.dropout", "the most important bar is on top"
    page.goto(f"{live_server}/?experiment_id={experiment['id']}")
    wait_ready(page)
    badge = page.locator("tr[data-state='pruned'] .badge.state-pruned")
    assert badge.count() == 1
    assert page.locator("tr[data-state='pruned'] .prune-text").text_content().startswith("val_accuracy 0.100")
