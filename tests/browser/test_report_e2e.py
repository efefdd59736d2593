"""A finished 2 × 2 digits study's report, trained by a real worker, opened from disk in Chromium.

Every request the page attempts is routed to abort (and recorded): the report
must draw its charts without one, under its own Content-Security-Policy.
"""

from __future__ import annotations

import csv
import io
import time

import httpx
import pytest

from reglab.spec import deep_merge
from tests.worker.helpers import TINY

pytestmark = [pytest.mark.browser, pytest.mark.slow]

NAME = 'L1 <script>window.__pwned = 1</script> & "friends"'


def wait_all_final(base_url: str, study_id: int, worker, timeout: float = 240) -> list[dict]:
    deadline = time.monotonic() + timeout
    while True:
        runs = httpx.get(f"{base_url}/api/experiments/{study_id}", timeout=30).json()["runs"]
        if all(run["state"] not in ("queued", "running") for run in runs):
            return runs
        assert worker.process.poll() is None, worker.log()[-4000:]
        assert time.monotonic() < deadline, f"runs still training\n{worker.log()[-4000:]}"
        time.sleep(0.5)


def open_offline(page, path) -> list[str]:
    """Opens ``path`` from disk with every other request aborted; returns the requests attempted."""
    url = path.as_uri()
    attempted: list[str] = []

    def route(request_route) -> None:
        if request_route.request.url == url:
            request_route.continue_()
            return
        attempted.append(request_route.request.url)
        request_route.abort()

    page.context.route("**/*", route)
    page.on("request", lambda request: None if request.url == url else attempted.append(request.url))
    page.goto(url)
    page.wait_for_selector("body[data-ready='1']")
    page.wait_for_timeout(300)  # anything the charts would ask for late
    return attempted


def test_report_of_a_trained_study_draws_offline_and_shows_the_verdicts(live_server, celery_worker, strict_page, tmp_path):
    body = {
        "name": NAME,
        "description": "Does a little L1 cost accuracy? <b>two</b> seeds each.",
        "base": deep_merge(TINY, {"training": {"epochs": 2}}),
        "grid": {"regularization.kernel_l1": [0.0, 0.01], "training.seed": [1, 2]},
    }
    response = httpx.post(f"{live_server}/api/experiments", json=body, timeout=30)
    assert response.status_code == 201, response.text
    study = response.json()
    runs = wait_all_final(live_server, study["id"], celery_worker)
    assert {run["state"] for run in runs} == {"completed"}, [run["error"] for run in runs]

    response = httpx.get(f"{live_server}/api/experiments/{study['id']}/report", timeout=60)
    assert response.status_code == 200, response.text
    assert len(response.content) < 5_000_000
    report = tmp_path / "study.html"
    report.write_bytes(response.content)

    page = strict_page
    attempted = open_offline(page, report)
    assert attempted == []

    # The charts are drawn: the path, and the six grouped curves with a mean per condition.
    drawn = page.evaluate("""() => [...document.querySelectorAll('.js-plotly-plot')]
        .map(div => ({id: div.id, chart: div.dataset.chart, traces: div.data.length,
                      points: div.data.reduce((n, t) => n + (t.x ? t.x.length : 0), 0),
                      svg: div.querySelectorAll('.main-svg .trace, .main-svg .point').length}))""")
    with_points = [chart for chart in drawn if chart["points"] > 0 and chart["svg"] > 0]
    assert len(with_points) >= 3, drawn
    analysis = httpx.get(f"{live_server}/api/experiments/{study['id']}/analysis", timeout=30).json()
    labels = sorted(group["label"] for group in analysis["groups"])
    assert labels == ["kernel_l1=0.0", "kernel_l1=0.01"]
    means = page.evaluate("""() => document.getElementById('chart-loss').data
        .filter(t => t.meta.kind === 'mean').map(t => [t.meta.group, t.meta.series, t.x.length])""")
    assert sorted(means) == sorted([label, series, 2] for label in labels for series in ("loss", "val_loss"))

    # The results table: each condition's label and its verdict, as the analysis gives them.
    rows = page.eval_on_selector_all("#results-table tbody tr", "rows => rows.map(r => [r.dataset.group, r.querySelector('.verdict').textContent])")
    metric = analysis["metric"]
    expected = []
    for group in analysis["groups"]:
        if group["label"] == analysis["baseline"]:
            expected.append([group["label"], "baseline"])
        else:
            verdict = group["vs_baseline"][metric]["verdict"]
            expected.append([group["label"], verdict if verdict else "no test"])
    assert sorted(rows) == sorted(expected)
    assert page.locator("#best-condition strong").inner_text() in labels

    # The name is text: shown as typed, its script never ran.
    assert page.locator("#study-title").inner_text() == NAME
    assert page.title() == f"{NAME} · RegLab report"
    assert page.evaluate("window.__pwned") is None
    assert page.locator("#study-json").inner_text().count("window.__pwned") == 1

    # The reproduce block holds the study as created.
    assert '"regularization.kernel_l1"' in page.locator("#study-json").inner_text()
    assert "reglab submit study.json" in page.locator("#submit-command").inner_text()

    # The export menu works from disk too: a grouped chart's data as CSV, exactly its traces.
    chart = page.locator("#chart-accuracy")
    chart.hover()
    with page.expect_download() as download:
        page.click("#chart-accuracy .modebar-btn[data-title='Download data as CSV']")
    assert download.value.suggested_filename == "reglab-accuracy.csv"
    table = list(csv.DictReader(io.StringIO(download.value.path().read_text())))
    traces = page.evaluate("""() => document.getElementById('chart-accuracy').data
        .map(t => ({group: t.meta.group, series: t.meta.series, kind: t.meta.kind, x: t.x, y: t.y}))""")
    want = sorted((t["group"], t["series"], t["kind"], float(x), float(y)) for t in traces for x, y in zip(t["x"], t["y"]))
    got = sorted((r["run_or_group"], r["series"], r["kind"], float(r["x"]), float(r["y"])) for r in table)
    assert got == want
    assert attempted == []
