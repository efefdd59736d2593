"""Grouped Compare and the Study page in a real Chromium, on runs seeded through the API (no worker)."""

from __future__ import annotations

import httpx
import pytest

from backend.db import session_scope
from backend.runs.models import Run

pytestmark = pytest.mark.browser

TINY = {"dataset": {"name": "digits", "validation_samples": 300, "train_samples": 200}, "model": {"hidden_layers": [8]}, "training": {"epochs": 3}}
# kernel_l2 -> the three seeds' final sparsity: clearly apart, so the verdict is "higher".
SPARSITY = {0.0: [0.01, 0.02, 0.015], 0.001: [0.2, 0.22, 0.21], 0.01: [0.5, 0.55, 0.6]}


def seed_study(base_url: str) -> dict:
    grid = {"regularization.kernel_l2": list(SPARSITY), "training.seed": [1, 2, 3]}
    response = httpx.post(f"{base_url}/api/experiments", json={"name": "L2 path", "base": TINY, "grid": grid}, timeout=30)
    assert response.status_code == 201, response.text
    study = response.json()
    for run in study["runs"]:
        spec = httpx.get(f"{base_url}/api/runs/{run['id']}").json()["spec"]
        l2, seed = spec["regularization"]["kernel_l2"], spec["training"]["seed"]
        sparsity = SPARSITY[l2][seed - 1]
        points = [
            {"name": name, "x": epoch, "value": value}
            for epoch in range(3)
            for name, value in (("loss", 1 - 0.2 * epoch), ("val_loss", 1.1 - 0.2 * epoch + l2),
                                ("accuracy", 0.5 + 0.1 * epoch), ("val_accuracy", 0.45 + 0.1 * epoch - l2 + seed / 100),
                                ("sparsity", sparsity * (epoch + 1) / 3))
        ]
        assert httpx.post(f"{base_url}/api/runs/{run['id']}/metrics", json={"points": points}).status_code < 300
        with session_scope() as session:
            session.get(Run, run["id"]).state = "completed"
    return study


def test_grouped_compare_draws_one_mean_and_one_band_per_group(live_server, page):
    study = seed_study(live_server)
    ids = ",".join(str(run["id"]) for run in study["runs"])

    page.goto(f"{live_server}/compare?run_ids={ids}&group=auto&metric=final_sparsity")
    page.wait_for_selector("body[data-ready='1']")

    traces = page.evaluate("""() => document.getElementById('chart-sparsity').data.map(t => t.meta)""")
    means = [t for t in traces if t["kind"] == "mean"]
    bands = [t for t in traces if t["kind"] == "band"]
    assert sorted(t["group"] for t in means) == ["kernel_l2=0.0", "kernel_l2=0.001", "kernel_l2=0.01"]
    assert sorted(t["group"] for t in bands) == sorted(t["group"] for t in means)
    faint = [t for t in traces if t["kind"] == "runs"]
    assert sorted(t["group"] for t in faint) == sorted(t["group"] for t in means)
    assert sorted(run_id for t in faint for run_id in t["runIds"]) == sorted(run["id"] for run in study["runs"])
    verdicts = page.locator("#results-table tr[data-group='kernel_l2=0.01'] .verdict").inner_text()
    assert verdicts == "higher"
    assert page.locator("#results-table tr[data-group='kernel_l2=0.0'] .verdict").inner_text() == "baseline"

    first = study["runs"][0]["id"]
    page.uncheck(f"#diff-table tr[data-run-id='{first}'] input.show-run")
    shown = page.evaluate("""() => document.getElementById('chart-sparsity').data
        .filter(t => t.meta.kind === 'runs').flatMap(t => t.meta.runIds)""")
    assert first not in shown and len(shown) == 8 and f"hidden={first}" in page.url

    page.uncheck("#show-runs")
    traces = page.evaluate("""() => document.getElementById('chart-sparsity').data.map(t => t.meta.kind)""")
    assert "runs" not in traces and "mean" in traces and "runs=0" in page.url

    # Chosen fields: by seed, three groups of three.
    page.select_option("#group-by", "fields")
    with page.expect_navigation():
        page.check("#group-fields input[value='training.seed']")
    page.wait_for_selector("body[data-ready='1']")
    assert "group=training.seed" in page.url
    labels = page.eval_on_selector_all("#results-table tbody tr", "rows => rows.map(r => r.dataset.group)")
    assert sorted(labels) == ["seed=1", "seed=2", "seed=3"]


def test_study_page_shows_results_path_and_best_condition(live_server, page):
    study = seed_study(live_server)

    page.goto(f"{live_server}/experiments/{study['id']}?metric=final_sparsity")
    page.wait_for_selector("body[data-ready='1']")

    assert page.locator("#study-title").inner_text().endswith("L2 path")
    assert page.locator("#results-table tr[data-group='kernel_l2=0.01'] .verdict").inner_text() == "higher"
    assert page.locator("#results-table tbody tr").count() == 3
    path = page.evaluate("""() => { const d = document.getElementById('path-chart');
        return {kind: d.dataset.kind, points: d.data.map(t => t.y.length), ticks: d.layout.xaxis.ticktext, type: d.layout.xaxis.type}; }""")
    assert path["kind"] == "path" and path["type"] == "log"
    assert path["points"] == [3]  # one point per kernel_l2 value; final_sparsity has no train counterpart
    assert path["ticks"] == ["0", "0.001", "0.01"]
    assert "kernel_l2=0.01" in page.locator("#best-condition").inner_text()
    assert page.locator("link[rel='alternate'][type='application/json']").get_attribute("href").startswith(
        f"/api/experiments/{study['id']}/analysis"
    )

    page.select_option("#metric", "final_val_accuracy")
    assert "metric=final_val_accuracy" in page.url
    points = page.evaluate("() => document.getElementById('path-chart').data.map(t => [t.name, t.y.length])")
    assert points == [["train", 3], ["validation", 3]]
    page.locator("#results-table button[data-sort='n']").click()
    assert "sort=n" in page.url
    page.emulate_media(media="print")
    assert not page.locator("header.topbar").is_visible() and not page.locator("#export-csv").is_visible()
    assert page.locator("#results-table").is_visible()


def test_runs_table_sorts_by_clicking_a_header(live_server, page):
    study = seed_study(live_server)
    accuracy = {}
    with session_scope() as session:
        for index, run in enumerate(study["runs"]):
            row = session.get(Run, run["id"])
            accuracy[run["id"]] = 0.5 + ((index * 7) % 9) / 100
            row.summary = {"best_val_accuracy": accuracy[run["id"]]}

    page.goto(live_server + "/")
    page.wait_for_selector("body[data-ready='1']")
    page.locator("button[data-sort='best_val_accuracy']").first.click()
    page.wait_for_url("**sort=-best_val_accuracy")
    page.wait_for_function("() => document.querySelector('th[aria-sort=descending]')")
    shown = [int(i) for i in page.eval_on_selector_all("tbody tr[data-run-id]", "rows => rows.map(r => r.dataset.runId)")]
    assert shown == sorted(accuracy, key=lambda run_id: (-accuracy[run_id], -run_id))
    page.locator("button[data-sort='best_val_accuracy']").first.click()
    page.wait_for_url("**sort=best_val_accuracy")
    page.wait_for_function("() => document.querySelector('th[aria-sort=ascending]')")
    shown = [int(i) for i in page.eval_on_selector_all("tbody tr[data-run-id]", "rows => rows.map(r => r.dataset.runId)")]
    assert shown == sorted(accuracy, key=lambda run_id: (accuracy[run_id], -run_id))
    page.locator("button[data-sort='created']").first.click()
    page.wait_for_url("**sort=-created")
    page.wait_for_function("() => document.querySelector('th[aria-sort=descending] [data-sort=created]')")
    shown = [int(i) for i in page.eval_on_selector_all("tbody tr[data-run-id]", "rows => rows.map(r => r.dataset.runId)")]
    assert shown == sorted(accuracy, reverse=True)


def test_two_numeric_factors_give_a_heatmap_and_the_csv_export_is_formula_safe(live_server, page):
    grid = {"regularization.kernel_l2": [0, 0.01], "regularization.dropout": [0, 0.2], "training.seed": [1, 2]}
    response = httpx.post(f"{live_server}/api/experiments", json={"name": "=HYPERLINK(1)", "base": TINY, "grid": grid}, timeout=30)
    assert response.status_code == 201, response.text
    study = response.json()
    for run in study["runs"]:
        spec = httpx.get(f"{live_server}/api/runs/{run['id']}").json()["spec"]
        value = 0.5 + spec["regularization"]["dropout"] - spec["regularization"]["kernel_l2"] * 10 + spec["training"]["seed"] / 100
        points = [{"name": "val_accuracy", "x": e, "value": value} for e in range(2)]
        assert httpx.post(f"{live_server}/api/runs/{run['id']}/metrics", json={"points": points}).status_code < 300

    page.goto(f"{live_server}/experiments/{study['id']}?metric=final_val_accuracy")
    page.wait_for_selector("body[data-ready='1']")

    assert page.locator("#study-title").inner_text().endswith("=HYPERLINK(1)")
    heat = page.evaluate("() => { const d = document.getElementById('path-chart'); return [d.dataset.kind, d.data[0].z]; }")
    assert heat[0] == "heatmap"
    # Rows: dropout 0, 0.2; columns: kernel_l2 0, 0.01; each cell the mean of seeds 1 and 2.
    assert [pytest.approx(row) for row in [[0.515, 0.415], [0.715, 0.615]]] == heat[1]
    cells = page.evaluate("""async () => { const m = await import('/static/js/results.js');
        return ['=SUM(A1)', '+1', '-2', '@x', 'plain', 'a,b', -0.5].map(m.csvCell); }""")
    assert cells == ["'=SUM(A1)", "'+1", "'-2", "'@x", "plain", '"a,b"', "-0.5"]
    csv = page.evaluate("""async () => { const m = await import('/static/js/results.js');
        return m.analysisCsv(window.reglabStudy.analysis); }""")
    assert csv.splitlines()[0].startswith("group,baseline,metric,n,mean")
    assert len(csv.splitlines()) == 1 + 4 * 13


def test_live_points_extend_the_groups(live_server, page, reglab_env):
    import json

    import redis

    from backend.channels import run_channel

    study = seed_study(live_server)
    run_id = study["runs"][0]["id"]
    with session_scope() as session:
        session.get(Run, run_id).state = "running"
    ids = ",".join(str(run["id"]) for run in study["runs"])
    page.goto(f"{live_server}/compare?run_ids={ids}&group=auto")
    page.wait_for_selector("body[data-ready='1']")
    page.wait_for_function("() => document.getElementById('live').dataset.state === 'live'")
    group = next(g["label"] for g in httpx.get(f"{live_server}/api/experiments/{study['id']}/analysis").json()["groups"]
                 if run_id in g["run_ids"])
    mean_x = """(group) => document.getElementById('chart-sparsity').data
        .find(t => t.meta.kind === 'mean' && t.meta.group === group).x.length"""
    assert page.evaluate(mean_x, group) == 3

    # As a worker does: store the epoch, then announce it on the run's channel.
    point = {"name": "sparsity", "axis": "epoch", "x": 3, "value": 0.9, "t": 4.0}
    assert httpx.post(f"{live_server}/api/runs/{run_id}/metrics", json={"points": [point]}).status_code < 300
    client = redis.Redis.from_url(reglab_env["REGLAB_REDIS_URL"])
    client.publish(run_channel(run_id), json.dumps({"type": "points", "run_id": run_id, "points": [point]}))
    client.close()

    page.wait_for_function(f"() => ({mean_x})({json.dumps(group)}) === 4", timeout=10_000)
