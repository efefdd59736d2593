"""End to end in Chromium: submit a preset from the form, watch it train, compare it.

A real uvicorn, a real Celery worker and Redis. The "LR schedules" preset is
shrunk in the form (digits, 400 examples, one layer of 16 units, 2 epochs) so
its five runs train in seconds on two busy cores.
"""

from __future__ import annotations

import math

import httpx
import pytest

from tests.browser.test_pages import wait_ready

pytestmark = [pytest.mark.browser, pytest.mark.slow]

EPOCHS = 2
SHRINK = {
    "#field-dataset-validation_samples": "300",
    "#field-dataset-train_samples": "400",
    "#field-model-hidden_layers": "16",
    "#field-training-epochs": str(EPOCHS),
    "#field-training-batch_size": "64",
}
# Records every state each run row shows, so the test sees queued -> running -> completed.
RECORD_STATES = """
window.__statesSeen = {};
const record = () => {
  for (const row of document.querySelectorAll('tr[data-run-id][data-state]')) {
    const seen = (window.__statesSeen[row.dataset.runId] ||= []);
    if (seen[seen.length - 1] !== row.dataset.state) seen.push(row.dataset.state);
  }
};
new MutationObserver(record).observe(document, { subtree: true, childList: true, attributes: true, attributeFilter: ['data-state'] });
"""
ORDER = {"queued": 0, "running": 1, "completed": 2}


def shrink_form(page) -> None:
    page.select_option("#field-dataset-name", "digits")
    for selector, value in SHRINK.items():
        page.fill(selector, value)


def test_preset_trains_live_and_compares(live_server, celery_worker, page, test_output_dir):
    page.add_init_script(RECORD_STATES)
    page.goto(live_server + "/new?preset=schedules")
    wait_ready(page)
    page.wait_for_function("document.getElementById('run-count').textContent === '5'")
    shrink_form(page)
    page.wait_for_function(
        "window.reglabPreview && window.reglabPreview.every(p => "
        f"p.planned_rates.epochs === {EPOCHS} && p.planned_rates.steps_per_epoch === 7)"
    )
    # The server's plan, as the preview drew it: 14 steps, so nothing is downsampled.
    preview = {run["name"]: run["planned_rates"] for run in page.evaluate("window.reglabPreview")}
    page.click("#submit-study")
    page.wait_for_url("**/?experiment_id=*")
    wait_ready(page)
    assert page.locator("tr[data-run-id]").count() == 5

    try:
        page.wait_for_function(
            "[...document.querySelectorAll('tr[data-run-id]')].every(r => r.dataset.state === 'completed')",
            timeout=150_000,
        )
    except Exception:
        runs = httpx.get(f"{live_server}/api/runs").json()["items"]
        states = [(r["id"], r["state"], r["epoch"], r["error"]) for r in runs]
        pytest.fail(f"runs did not all complete: {states}\nworker log:\n{celery_worker.log()[-4000:]}")
    page.screenshot(path=str(test_output_dir / "runs.png"), full_page=True)
    seen = page.evaluate("window.__statesSeen")
    assert len(seen) == 5
    for states in seen.values():
        assert states[-1] == "completed", seen
        assert [ORDER[s] for s in states] == sorted(ORDER[s] for s in states), seen
    # The first run may already be running when the page opens; the others wait in the queue.
    assert sum(states == ["queued", "running", "completed"] for states in seen.values()) >= 3, seen
    run_ids = sorted(int(run_id) for run_id in seen)

    # The schedule preview agrees with the rates the worker recorded.
    for run_id in run_ids:
        run = httpx.get(f"{live_server}/api/runs/{run_id}").json()
        series = httpx.get(
            f"{live_server}/api/runs/{run_id}/metrics", params={"names": "learning_rate,batch_learning_rate"}
        ).json()["series"]
        rates = preview[run["name"]]
        recorded = series["batch_learning_rate" if rates["axis"] == "step" else "learning_rate"]
        assert recorded["x"] == rates["x"], run["name"]
        assert_close(recorded["y"], rates["y"], run["name"])

    # Compare: one trace per run and per series on every chart, a colour per run.
    page.goto(f"{live_server}/compare?run_ids={','.join(map(str, run_ids))}")
    wait_ready(page)
    charts = page.evaluate(
        """() => [...document.querySelectorAll('.plot[data-chart]')].map(div => ({
            chart: div.dataset.chart,
            traces: div.data.map(t => [t.meta.runId, t.meta.series, t.x.length, t.line.color, t.line.dash]),
        }))"""
    )
    by_chart = {chart["chart"]: chart["traces"] for chart in charts}
    expected_series = {
        "loss": ["loss", "val_loss"],
        "accuracy": ["accuracy", "val_accuracy"],
        "learning_rate": ["learning_rate"],
        "gap": ["data_loss", "val_data_loss"],
        "weight_l2": ["weight_l2"],
        "sparsity": ["sparsity"],
        "steps": ["batch_loss", "batch_learning_rate"],
    }
    assert set(by_chart) == set(expected_series)
    colours: dict[int, str] = {}
    for chart, names in expected_series.items():
        traces = by_chart[chart]
        assert sorted((t[0], t[1]) for t in traces) == sorted((r, n) for r in run_ids for n in names), chart
        for run_id, name, length, colour, dash in traces:
            assert length == (EPOCHS * 7 if chart == "steps" else EPOCHS), (chart, name, length)
            assert colours.setdefault(run_id, colour) == colour
            assert dash == ("dash" if name.startswith("val_") else "dot" if name == "batch_learning_rate" else "solid")
    assert len(set(colours.values())) == len(run_ids)
    assert page.locator("#diff-table tbody tr").count() == 5
    assert "schedule" in page.locator("#diff-table thead").inner_text()

    page.screenshot(path=str(test_output_dir / "compare.png"), full_page=True)
    page.emulate_media(color_scheme="dark")
    page.wait_for_timeout(300)
    page.screenshot(path=str(test_output_dir / "compare-dark.png"), full_page=True)
    page.emulate_media(color_scheme="light")

    # The run page: summary, layer table and the trained model.
    page.goto(f"{live_server}/runs/{run_ids[0]}")
    wait_ready(page)
    page.wait_for_selector("#layer-table tbody tr")
    assert page.locator("#layer-table tbody tr").count() >= 3
    assert "test accuracy" in page.locator("#run-summary").inner_text()
    model = page.locator("#model-link")
    assert model.is_visible()
    assert httpx.get(live_server + model.get_attribute("href")).status_code == 200
    page.screenshot(path=str(test_output_dir / "run.png"), full_page=True)


def assert_close(recorded: list[float], planned: list[float], label: str) -> None:
    assert len(recorded) == len(planned), label
    for i, (got, want) in enumerate(zip(recorded, planned)):
        # The worker records float32 rates.
        assert math.isclose(got, want, rel_tol=1e-5, abs_tol=1e-9), (label, i, got, want)
