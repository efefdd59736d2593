"""The dashboard's pages in a real Chromium against a live server, without a worker.

Live updates are driven by publishing on the runs' Redis channels from the
test, exactly as the worker does, so these stay fast.
"""

from __future__ import annotations

import json

import httpx
import pytest
import redis

from backend.channels import run_channel

pytestmark = pytest.mark.browser

XSS_NAME = '<img src=x onerror="window.__xss=1">'
TINY = {"dataset": {"name": "digits", "validation_samples": 300, "train_samples": 200}, "model": {"hidden_layers": [8]}, "training": {"epochs": 3}}


def create_study(base_url: str, name: str, grid: dict, **extra) -> dict:
    response = httpx.post(f"{base_url}/api/experiments", json={"name": name, "base": TINY, "grid": grid, **extra}, timeout=30)
    assert response.status_code == 201, response.text
    return response.json()


def wait_ready(page) -> None:
    page.wait_for_selector("body[data-ready='1']")


def publish(reglab_env, run_id: int, message: dict) -> None:
    client = redis.Redis.from_url(reglab_env["REGLAB_REDIS_URL"])
    client.publish(run_channel(run_id), json.dumps({"run_id": run_id, **message}))
    client.close()


def test_empty_database_shows_start_here(live_server, page):
    page.goto(live_server + "/")
    wait_ready(page)
    start = page.locator("#start-here")
    assert start.is_visible()
    links = start.locator("a")
    assert links.count() == 11  # one per preset
    links.filter(has_text="Dropout 0.2/0.5").click()
    page.wait_for_url("**/new?preset=dropout")
    wait_ready(page)
    page.wait_for_function("document.getElementById('run-count').textContent === '2'")


def test_user_text_is_rendered_as_text(live_server, page, reglab_env):
    study = create_study(
        live_server, XSS_NAME, {"regularization.dropout": [0.1]}, description="<b>not bold</b>", tags=["<i>tag</i>"]
    )
    run_id = study["runs"][0]["id"]
    # An error text as a failed run would show it.
    publish(reglab_env, run_id, {"type": "state", "state": "queued", "error": None})
    page.goto(live_server + "/")
    wait_ready(page)
    heading = page.locator(f"section[data-experiment-id='{study['id']}'] h2")
    assert XSS_NAME in heading.inner_text()
    assert page.locator(".description").inner_text() == "<b>not bold</b>"
    assert page.locator(".tag").first.inner_text() == "<i>tag</i>"
    assert page.locator("main img").count() == 0
    page.goto(f"{live_server}/runs/{run_id}")
    wait_ready(page)
    assert page.locator("main img").count() == 0
    point = {"name": "loss", "axis": "epoch", "x": 0, "value": 1.0, "t": 1.0}
    assert httpx.post(f"{live_server}/api/runs/{run_id}/metrics", json={"points": [point]}).status_code == 200
    page.goto(f"{live_server}/compare?run_ids={run_id}&legend=1")
    wait_ready(page)
    # Plotly renders a few tags in names; the legend must show the name literally.
    legend = page.locator("#chart-loss .legendtext").first.text_content()
    assert legend == XSS_NAME
    assert page.locator("main img").count() == 0
    assert page.evaluate("window.__xss") is None


def test_compare_extends_traces_live_without_duplicates(live_server, page, reglab_env):
    study = create_study(live_server, "live", {"regularization.kernel_l2": [0.0, 0.01]})
    first, second = (run["id"] for run in study["runs"])
    # Two epochs already stored (as the worker writes them) before the page opens.
    stored = [{"name": name, "axis": "epoch", "x": x, "value": 1.0 - 0.1 * x, "t": float(x)} for x in (0, 1) for name in ("loss", "val_loss")]
    assert httpx.post(f"{live_server}/api/runs/{first}/metrics", json={"points": stored}).status_code == 200
    page.goto(f"{live_server}/compare?run_ids={first},{second}&smooth=0")
    wait_ready(page)
    page.wait_for_selector("#live[data-state='live']")
    count_points = f"""() => document.getElementById('chart-loss').data
        .filter(t => t.meta.runId === {first} && t.meta.series === 'loss')[0].x.length"""
    assert page.evaluate(count_points) == 2
    # x=1 again (a replay) and x=2 (new): only x=2 is appended.
    points = [{"name": "loss", "axis": "epoch", "x": x, "value": 0.5, "t": float(x)} for x in (1, 2)]
    publish(reglab_env, first, {"type": "points", "points": points})
    page.wait_for_function(f"({count_points})() === 3")
    publish(reglab_env, first, {"type": "points", "points": points})
    publish(reglab_env, second, {"type": "points", "points": [{"name": "accuracy", "axis": "epoch", "x": 0, "value": 0.3, "t": 1.0}]})
    page.wait_for_function(
        f"document.getElementById('chart-accuracy').data.filter(t => t.meta.runId === {second} && t.meta.series === 'accuracy')[0].x.length === 1"
    )
    assert page.evaluate(count_points) == 3
    publish(reglab_env, second, {"type": "state", "state": "running", "epoch": 1, "epochs": 3, "error": None})
    page.wait_for_selector(f"#diff-table tr[data-run-id='{second}'] .badge[data-state='running']")
    # Exports: the data as CSV (every stored point once, from the server) and a chart as PNG, Plotly's own.
    assert httpx.post(f"{live_server}/api/runs/{first}/metrics", json={"points": points}).status_code == 200
    with page.expect_download() as download:
        page.click("#export-csv")
    csv = download.value.path().read_text().splitlines()
    assert csv[0] == "run_id,run_name,metric,axis,x,value,t"
    assert sum(line.startswith(f"{first},") and ",loss,epoch," in line for line in csv) == 3
    with page.expect_download() as download:
        page.click("#chart-loss >> xpath=.. >> button")
    assert download.value.suggested_filename == "reglab-loss.png"
    assert download.value.path().read_bytes()[:4] == b"\x89PNG"
    # Chart settings live in the URL, so the view can be shared by link.
    page.fill("#smooth", "0.5")
    page.check("#logy")
    page.select_option("#x-axis", "time")
    assert "smooth=0.5" in page.url and "logy=1" in page.url and "x=time" in page.url
    assert page.evaluate("document.getElementById('chart-loss').layout.yaxis.type") == "log"


def test_many_runs_share_a_trace_per_colour_and_hover_names_the_run(live_server, page, reglab_env):
    """Past 20 runs an epoch chart joins the runs of a colour into one trace: live points land in it, hover names the run."""
    study = create_study(live_server, "crowd", {"training.seed": list(range(1, 27))})
    runs = study["runs"]
    first, again = runs[0], runs[24]  # 26 runs in 24 colours: the 1st and the 25th share the first
    page.goto(f"{live_server}/compare?run_ids={','.join(str(run['id']) for run in runs)}")
    wait_ready(page)
    page.wait_for_selector("#live[data-state='live']")
    assert page.evaluate("document.getElementById('chart-loss').data.length") == 48  # 24 colours x (loss, val_loss)
    swatch = "(id) => document.querySelector(`#diff-table tr[data-run-id='${id}'] .swatch`).style.background"
    assert page.evaluate(swatch, first["id"]) == page.evaluate(swatch, again["id"])
    assert page.evaluate(swatch, runs[1]["id"]) != page.evaluate(swatch, first["id"])
    for run, values in ((again, (0.8, 0.4)), (first, (0.9, 0.6))):
        points = [{"name": "loss", "axis": "epoch", "x": x, "value": value, "t": float(x)} for x, value in enumerate(values)]
        publish(reglab_env, run["id"], {"type": "points", "points": points})
    shared = "() => { const t = document.getElementById('chart-loss').data.find(t => t.meta.series === 'loss'); return [t.x, t.y, t.text]; }"
    page.wait_for_function(f"({shared})()[0].length === 5")
    assert page.evaluate(shared) == [[0, 1, None, 0, 1], [0.9, 0.6, None, 0.8, 0.4], [first["name"]] * 2 + [""] + [again["name"]] * 2]
    # The mouse on the 25th run's last point: the hover names that run.
    where = """() => { const d = document.getElementById('chart-loss'), l = d._fullLayout, r = d.getBoundingClientRect();
        return [r.left + l.xaxis._offset + l.xaxis.l2p(1), r.top + l.yaxis._offset + l.yaxis.l2p(0.4)]; }"""
    page.mouse.move(*page.evaluate(where))
    page.wait_for_selector("#chart-loss .hoverlayer .hovertext")
    hover = page.text_content("#chart-loss .hoverlayer .hovertext")
    assert again["name"] in hover and "loss: 0.4" in hover
    # A hidden run leaves its colour's trace.
    page.uncheck(f"#diff-table tr[data-run-id='{again['id']}'] input.show-run")
    page.wait_for_function(f"({shared})()[0].length === 2")
    # With the charts' own legends, each run has its traces again (the legend names runs).
    page.check("#legend")
    page.wait_for_function("document.getElementById('chart-loss').data.length === 52")


def test_runs_page_follows_state_and_progress(live_server, page, reglab_env):
    study = create_study(live_server, "states", {"training.seed": [1, 2]})
    run_id = study["runs"][0]["id"]
    page.goto(f"{live_server}/?experiment_id={study['id']}")
    wait_ready(page)
    page.wait_for_selector("#live[data-state='live']")
    row = f"tr#run-{run_id}"
    assert page.locator(f"{row} .badge").inner_text() == "queued"
    publish(reglab_env, run_id, {"type": "state", "state": "running", "epoch": 0, "epochs": 3, "error": None})
    page.wait_for_selector(f"{row}[data-state='running']")
    points = [{"name": "epoch_time", "axis": "epoch", "x": 0, "value": 2.0, "t": 2.0}, {"name": "val_accuracy", "axis": "epoch", "x": 0, "value": 0.5, "t": 2.0}]
    publish(reglab_env, run_id, {"type": "points", "points": points})
    page.wait_for_function(f"document.querySelector('{row} .progress-text').textContent === '1/3'")
    assert "ETA 4 s" in page.locator(f"{row} .eta").inner_text()
    assert page.locator(f"{row} td.num").first.inner_text() == "50.00 %"
    # Select both runs: the Compare button carries them in the URL.
    page.locator(f"section[data-experiment-id='{study['id']}'] thead input[type=checkbox]").check()
    page.locator("#compare-selected").click()
    page.wait_for_url("**/compare?run_ids=*")
    assert page.url.endswith("run_ids=" + ",".join(str(run["id"]) for run in sorted(study["runs"], key=lambda r: r["id"])))


def test_new_study_shows_api_errors_next_to_fields(live_server, page):
    page.goto(live_server + "/new")
    wait_ready(page)
    page.fill("#field-regularization-dropout", "1.5")
    error = page.locator("#error-regularization-dropout")
    error.wait_for(state="visible")
    assert "1" in error.inner_text()
    page.fill("#field-regularization-dropout", "0.2")
    error.wait_for(state="hidden")
    # The schedule sub-form switches with schedule.name and the preview follows.
    page.select_option("#field-schedule-name", "piecewise")
    # The list defaults come from the server a moment after the sub-form appears.
    page.wait_for_function("document.getElementById('field-schedule-boundaries')?.value === '5, 15'")
    page.wait_for_function("window.reglabPreview && window.reglabPreview[0].spec.schedule.name === 'piecewise'")
    # The grid builder counts runs before submitting.
    page.click("#add-grid-row")
    page.select_option(".grid-row >> nth=0 >> select", "regularization.kernel_l2")
    page.fill(".grid-row >> nth=0 >> textarea", "0, 0.001, 0.01")
    page.click("#add-grid-row")
    page.select_option(".grid-row >> nth=1 >> select", "training.seed")
    page.fill(".grid-row >> nth=1 >> textarea", "1, 2")
    page.wait_for_function("document.getElementById('run-count').textContent === '6'")
    # A grid value the API rejects lands next to its grid row.
    page.fill("#study-name", "bad grid")
    page.fill(".grid-row >> nth=1 >> textarea", "1, -2")
    page.click("#submit-study")
    grid_error = page.locator("#error-grid-training-seed")
    grid_error.wait_for(state="visible")
    assert "-2" in grid_error.inner_text()
    assert page.url.endswith("/new")


def test_preview_plots_the_servers_plan_with_its_run_names(live_server, page):
    page.goto(live_server + "/new")
    wait_ready(page)
    page.select_option("#field-schedule-name", "one_cycle")
    page.click("#add-grid-row")
    page.select_option(".grid-row >> nth=0 >> select", "optimizer.name")
    page.fill(".grid-row >> nth=0 >> textarea", '"sgd", "adam"')
    page.wait_for_function("document.getElementById('run-count').textContent === '2'")
    read_traces = "() => (document.getElementById('schedule-preview').data || []).map(t => ({name: t.name, x: Array.from(t.x), y: Array.from(t.y)}))"
    page.wait_for_function(f"({read_traces})().length === 2")

    traces = page.evaluate(read_traces)
    spec = page.evaluate("window.reglabPreview[0].spec")
    base = {key: value for key, value in spec.items() if key != "optimizer"}
    body = {"name": "preview", "base": base, "grid": {"optimizer.name": ["sgd", "adam"]}}
    plan = httpx.post(f"{live_server}/api/experiments/plan", json=body, timeout=30).json()["runs"]

    # The labels are the server's run names (the page once said name=sgd).
    assert [trace["name"] for trace in traces] == [run["name"] for run in plan] == ["optimizer=sgd", "optimizer=adam"]
    for trace, run in zip(traces, plan, strict=True):
        rates = run["planned_rates"]
        assert rates["axis"] == "step"
        assert trace["y"] == rates["y"]
        assert trace["x"] == pytest.approx([step / rates["steps_per_epoch"] for step in rates["x"]])
    assert f"{plan[0]['planned_rates']['steps_per_epoch']} steps per epoch" in page.inner_text("#preview-caption")


def test_every_page_has_its_json_twin(live_server, page):
    study = create_study(live_server, "twins", {"training.seed": [1]})
    run_id = study["runs"][0]["id"]
    for path, twin in [
        ("/", "/api/runs"),
        ("/new", "/api/spec/schema"),
        (f"/compare?run_ids={run_id}", f"/api/compare?run_ids={run_id}"),
        (f"/runs/{run_id}", f"/api/runs/{run_id}"),
    ]:
        page.goto(live_server + path)
        wait_ready(page)
        href = page.get_attribute('link[rel="alternate"][type="application/json"]', "href") or page.get_attribute("#json-twin", "href")
        assert href.startswith(twin), (path, href)
        assert httpx.get(live_server + href).status_code == 200


def test_plotly_is_served_locally_with_its_version(live_server):
    page_html = httpx.get(live_server + "/compare").text
    start = page_html.index("/static/vendor/plotly-")
    url = page_html[start : page_html.index('"', start)]
    response = httpx.get(live_server + url)
    assert response.status_code == 200
    assert "immutable" in response.headers["cache-control"]
    assert url.split("plotly-")[1].removesuffix(".min.js") in response.text[:200]


def test_compare_fills_a_dropped_stream_from_rest(live_server, page, reglab_env):
    """The stream's Redis connection dies; points stored meanwhile come from REST, once each."""
    from backend.stream import stream_client_name

    study = create_study(live_server, "reconnect", {"training.seed": [1]})
    run_id = study["runs"][0]["id"]

    def store(*xs: int) -> None:
        points = [{"name": "loss", "axis": "epoch", "x": x, "value": 1.0 / (x + 1), "t": float(x)} for x in xs]
        assert httpx.post(f"{live_server}/api/runs/{run_id}/metrics", json={"points": points}).status_code == 200
        return points

    store(0)
    page.goto(f"{live_server}/compare?run_ids={run_id}")
    wait_ready(page)
    page.wait_for_selector("#live[data-state='live']")
    loss_x = "() => document.getElementById('chart-loss').data.find(t => t.meta.series === 'loss').x"
    publish(reglab_env, run_id, {"type": "points", "points": store(1)})
    page.wait_for_function(f"({loss_x})().length === 2")

    client = redis.Redis.from_url(reglab_env["REGLAB_REDIS_URL"])
    ours = [c["id"] for c in client.client_list() if c.get("name") == stream_client_name()]
    assert len(ours) == 1
    client.client_kill_filter(_id=ours[0])
    # Stored while the stream is down: their announcements are lost.
    store(2, 3)
    page.wait_for_function(f"({loss_x})().length === 4", timeout=20_000)
    page.wait_for_selector("#live[data-state='live']")
    publish(reglab_env, run_id, {"type": "points", "points": store(3)})
    page.wait_for_timeout(500)
    assert page.evaluate(loss_x) == [0, 1, 2, 3]
    client.close()


def test_runs_page_cancels_clones_and_deletes(live_server, page):
    study = create_study(live_server, "actions", {"training.seed": [1]})
    run_id = study["runs"][0]["id"]
    page.goto(f"{live_server}/?experiment_id={study['id']}")
    wait_ready(page)
    row = page.locator(f"tr#run-{run_id}")
    row.get_by_role("button", name="Clone").click()
    page.wait_for_function("document.querySelectorAll('tr[data-run-id]').length === 2")
    row = page.locator(f"tr#run-{run_id}")
    row.get_by_role("button", name="Cancel").click()
    page.wait_for_selector(f"tr#run-{run_id}[data-state='cancelled']")
    page.once("dialog", lambda dialog: dialog.accept())
    page.locator(f"tr#run-{run_id}").get_by_role("button", name="Delete").click()
    page.wait_for_function(f"!document.getElementById('run-{run_id}') && document.querySelectorAll('tr[data-run-id]').length === 1")
    assert httpx.get(f"{live_server}/api/runs/{run_id}").status_code == 404
    assert page.locator("#filter-experiment option").count() >= 2
    # Filters live in the URL: a state filter shows only matching runs.
    page.select_option("#filter-state", "completed")
    page.wait_for_url("**state=completed**")
    page.wait_for_selector("p.empty")
    assert page.locator("tr[data-run-id]").count() == 0


def test_run_page_shows_spec_and_live_curves(live_server, page, reglab_env):
    study = create_study(live_server, "one run", {"regularization.dropout": [0.3]})
    run_id = study["runs"][0]["id"]
    page.goto(f"{live_server}/runs/{run_id}")
    wait_ready(page)
    assert page.locator("#run-title").inner_text() == "one run"
    assert "0.3" in page.locator("#run-spec").inner_text()
    assert page.locator("#model-link").is_hidden()
    page.wait_for_selector("#live[data-state='live']")
    points = [{"name": name, "axis": "epoch", "x": 0, "value": 0.5, "t": 1.0} for name in ("loss", "val_loss", "epoch_time")]
    points.append({"name": "batch_loss", "axis": "step", "x": 0, "value": 0.7, "t": 0.1})
    publish(reglab_env, run_id, {"type": "points", "points": points})
    page.wait_for_function("document.getElementById('chart-loss').data.every(t => t.x.length === 1)")
    # The per-step chart appears with the first step points.
    page.wait_for_selector("#chart-steps")
    assert page.locator("#run-progress .progress-text").inner_text() == "1/3"
    assert page.locator("#run-state .badge").inner_text() == "running"


def test_live_step_points_are_downsampled_keeping_spikes(live_server, page, reglab_env):
    study = create_study(live_server, "steps", {"training.seed": [1]})
    run_id = study["runs"][0]["id"]
    page.goto(f"{live_server}/compare?run_ids={run_id}")
    wait_ready(page)
    page.wait_for_selector("#live[data-state='live']")
    # One epoch of a full dataset: 1719 batches, one spike.
    points = [{"name": "batch_loss", "axis": "step", "x": x, "value": 9.0 if x == 777 else 1.0, "t": x / 100} for x in range(1719)]
    publish(reglab_env, run_id, {"type": "points", "points": points})
    # A live page has its step chart from the start; off screen, it waits to be seen to redraw.
    page.locator("#chart-steps").scroll_into_view_if_needed()
    page.wait_for_function("document.getElementById('chart-steps').data.find(t => t.meta.series === 'batch_loss').x.length > 0")
    trace = page.evaluate("document.getElementById('chart-steps').data.find(t => t.meta.series === 'batch_loss')")
    assert len(trace["x"]) <= 32
    assert max(trace["y"]) == 9.0
    assert trace["x"] == sorted(trace["x"])


def test_runs_page_loads_more_than_one_page(live_server, page):
    study = create_study(live_server, "many", {"training.seed": list(range(1, 206))})
    assert len(study["runs"]) == 205
    page.goto(live_server + "/")
    wait_ready(page)
    rows = page.locator("tr[data-run-id]")
    assert rows.count() == 200
    assert "200 of 205" in page.inner_text("#status")
    page.click("#load-more")
    page.wait_for_function("document.querySelectorAll('tr[data-run-id]').length === 205")
    assert page.locator("#load-more").is_hidden()
    # The oldest run, only on the second page, is there now.
    assert page.locator(f"#run-{study['runs'][0]['id']}").count() == 1


def test_a_rate_moving_within_one_decade_still_gets_labelled_ticks(live_server, page):
    study = create_study(live_server, "ticks", {"optimizer.learning_rate": [0.001, 0.01]})
    slow, fast = (run["id"] for run in study["runs"])
    for run_id, rates in ((slow, [0.001, 0.0009995, 0.000999]), (fast, [0.01, 0.001, 0.0001])):
        points = [{"name": "learning_rate", "axis": "epoch", "x": x, "value": v, "t": float(x)} for x, v in enumerate(rates)]
        assert httpx.post(f"{live_server}/api/runs/{run_id}/metrics", json={"points": points}).status_code == 200
    ticks = "() => { const a = document.getElementById('chart-learning_rate').layout.yaxis; return [a.dtick ?? null, a.tickformat]; }"
    page.goto(f"{live_server}/runs/{slow}")
    wait_ready(page)
    page.wait_for_function(f"({ticks})()[0] === null")
    assert page.evaluate(ticks) == [None, ".4~g"]
    page.goto(f"{live_server}/runs/{fast}")
    wait_ready(page)
    page.wait_for_function("document.getElementById('chart-learning_rate').data[0].y.length === 3")
    assert page.evaluate(ticks) == ["D2", ".0e"]


def test_zooming_the_step_chart_fetches_the_range_and_a_reset_restores_the_downsample(live_server, page):
    study = create_study(live_server, "zoom", {"training.seed": [1]})
    run_id = study["runs"][0]["id"]
    points = [{"name": "batch_loss", "axis": "step", "x": x, "value": 1.0 + (x % 13) / 13, "t": x / 100} for x in range(5000)]
    assert httpx.post(f"{live_server}/api/runs/{run_id}/metrics", json={"points": points}).status_code == 200
    page.goto(f"{live_server}/compare?run_ids={run_id}")
    wait_ready(page)
    trace = "() => document.getElementById('chart-steps').data.find(t => t.meta.series === 'batch_loss').x"
    downsampled = page.evaluate(trace)
    assert len(downsampled) <= 1200  # 600 buckets' min and max

    with page.expect_request(lambda request: "/api/compare?" in request.url and "x_min=" in request.url) as zoom:
        page.evaluate("() => Plotly.relayout(document.getElementById('chart-steps'), {'xaxis.range': [1000.4, 1099.6]})")
    url = httpx.URL(zoom.value.url)
    assert (url.params["x_min"], url.params["x_max"]) == ("1000", "1100")
    assert url.params["names"] == "batch_loss,batch_learning_rate" and url.params["max_points"] == "600"

    # From here on, the server's x_min / x_max (the step-storage work) must answer the range.
    if httpx.get(f"{live_server}/api/runs/{run_id}/metrics", params={"x_min": 0, "x_max": 1}).status_code == 422:
        pytest.skip("this server does not take x_min / x_max yet")
    page.wait_for_function("() => document.getElementById('chart-steps').dataset.zoom === '1000-1100'")
    assert page.evaluate(trace) == list(range(1000, 1101))  # every step in the range
    page.evaluate("() => Plotly.relayout(document.getElementById('chart-steps'), {'xaxis.autorange': true})")
    page.wait_for_function("() => !('zoom' in document.getElementById('chart-steps').dataset)")
    assert page.evaluate(trace) == downsampled
