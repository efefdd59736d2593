"""Every chart's export menu in Chromium: SVG and the drawn data as CSV, and the publication style toggle."""

from __future__ import annotations

import csv
import io

import httpx
import pytest

from tests.browser.test_pages import TINY, wait_ready

pytestmark = pytest.mark.browser

OKABE_BLUE = "rgb(0, 114, 178)"  # #0072B2, the first Okabe–Ito colour


def seed_runs(base_url: str) -> list[int]:
    body = {"name": "exports", "base": TINY, "grid": {"regularization.dropout": [0.1, 0.3]}}
    study = httpx.post(f"{base_url}/api/experiments", json=body, timeout=30).json()
    ids = [run["id"] for run in study["runs"]]
    for k, run_id in enumerate(ids):
        points = [{"name": name, "x": epoch, "value": value} for epoch in range(4)
                  for name, value in (("loss", 1.0 / (epoch + 1) + k), ("val_loss", 1.2 / (epoch + 1) + k + (epoch % 2) * 0.3))]
        assert httpx.post(f"{base_url}/api/runs/{run_id}/metrics", json={"points": points}).status_code < 300
    return ids


def click_menu(page, chart: str, title: str):
    page.hover(f"#{chart}")
    with page.expect_download() as download:
        page.click(f"#{chart} .modebar-btn[data-title^='{title}']")
    return download.value


def test_svg_and_csv_exports_hold_the_drawn_traces(live_server, page):
    ids = seed_runs(live_server)
    page.goto(f"{live_server}/compare?run_ids={','.join(map(str, ids))}&smooth=0.5")
    wait_ready(page)

    svg = click_menu(page, "chart-loss", "Download SVG")
    assert svg.suggested_filename == "reglab-loss.svg"
    text = svg.path().read_text()
    assert text.startswith("<svg") and "class=\"scatterlayer" in text

    exported = click_menu(page, "chart-loss", "Download data as CSV")
    assert exported.suggested_filename == "reglab-loss.csv"
    rows = list(csv.DictReader(io.StringIO(exported.path().read_text())))
    traces = page.evaluate("""() => document.getElementById('chart-loss').data
        .map(t => ({name: t.name, runId: t.meta.runId, series: t.meta.series, x: t.x, y: t.y}))""")
    want = sorted((t["name"], str(t["runId"]), t["series"], x, y) for t in traces for x, y in zip(t["x"], t["y"]))
    got = sorted((r["run_or_group"], r["run_id"], r["series"], float(r["x"]), float(r["y"])) for r in rows)
    assert got == want
    # What is drawn is the smoothed curve, not the stored points: the CSV holds the former.
    stored = httpx.get(f"{live_server}/api/runs/{ids[0]}/metrics", params={"names": "val_loss"}).json()["series"]["val_loss"]["y"]
    drawn = [float(r["y"]) for r in rows if r["run_id"] == str(ids[0]) and r["series"] == "val_loss"]
    assert drawn[0] == pytest.approx(stored[0]) and drawn[1:] != pytest.approx(stored[1:])

    # Publication style: kept across pages, applied to the image exports only.
    assert OKABE_BLUE not in text
    page.hover("#chart-loss")
    page.click("#chart-loss .modebar-btn[data-title^='Publication style']")
    assert page.evaluate("localStorage.getItem('reglab.publicationStyle')") == "1"
    page.reload()
    wait_ready(page)
    styled = click_menu(page, "chart-loss", "Download SVG").path().read_text()
    assert OKABE_BLUE in styled and "rgb(255, 255, 255)" in styled
    assert 'class="xgrid' not in styled  # no gridlines
    png = click_menu(page, "chart-loss", "Download PNG").path().read_bytes()
    assert png[:4] == b"\x89PNG"
    width = page.evaluate("document.getElementById('chart-loss')._fullLayout.width")
    assert int.from_bytes(png[16:20], "big") == 2 * width  # the IHDR's width: twice the chart's


def test_study_page_report_button_downloads_the_report(live_server, page):
    from tests.browser.test_analysis_pages import seed_study

    study = seed_study(live_server)
    page.goto(f"{live_server}/experiments/{study['id']}?metric=final_sparsity")
    wait_ready(page)
    with page.expect_download() as download:
        page.click("#report-link")
    assert download.value.suggested_filename == f"reglab-study-{study['id']}.html"
    report = download.value.path().read_text()
    assert "<h1 id=\"study-title\">L2 path</h1>" in report
    assert '"metric":"final_sparsity"' in report  # the page's view, carried into the report
