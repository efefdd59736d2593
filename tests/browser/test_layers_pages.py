"""The Layers views in a real Chromium against a live server: the Run page's heatmaps,
distribution bands and depth profile, and the Compare page's Layers tab.

Snapshots are built with numpy in the test (tests/fixtures/layer_snapshots.py) and
posted through the real ingest endpoint; every expectation is computed here with
numpy from the same arrays (a histogram on the coarsest epoch's edges, percentiles,
standard deviations), never by the page's own code.
"""

from __future__ import annotations

import httpx
import numpy as np
import pytest

from tests.browser.test_pages import create_study, publish, wait_ready
from tests.fixtures.layer_snapshots import layer_descriptions, snapshot

pytestmark = pytest.mark.browser

UNITS = [16, 8, 10]
EPOCHS = [-1, 0, 1, 2]
BANDS = ["0–100 %", "6.68–93.32 %", "15.87–84.13 %", "30.85–69.15 %"]


def run_arrays(seed: int, epochs=EPOCHS, shift: float = 0.0) -> dict[int, dict]:
    """{epoch: {layer: {tensor: array}}}: weights narrow by half each epoch (so epoch -1 has the coarsest
    grid), activations' spread grows with depth, gradients' shrinks."""
    rng = np.random.default_rng(seed)
    layers = layer_descriptions(UNITS)
    out = {}
    for epoch in epochs:
        out[epoch] = {
            layer["name"]: {
                "weights": rng.normal(shift, 0.6 / 2 ** (epoch + 1), 400),
                "activations": np.abs(rng.normal(0.0, 1.0 + layer["index"] + 0.2 * epoch, 256)),
                "gradients": rng.normal(0.0, 1e-2 / (1 + layer["index"]) / (2 + epoch), 400),
            }
            for layer in layers
        }
    return out


def post_layers(base_url: str, run_id: int, arrays: dict[int, dict], first: bool = True) -> None:
    """Posts as a worker does: it claims the run (attempt 1), then sends the snapshots with the layers' descriptions."""
    if first:
        claim = httpx.post(f"{base_url}/api/trainer/runs/{run_id}/claim", json={"worker_host": "test"}, timeout=30)
        assert claim.status_code == 200 and claim.json()["attempt"] == 1, claim.text
    payload = {"attempt": 1, "snapshots": [snapshot(epoch, tensors) for epoch, tensors in arrays.items()]}
    if first:
        payload["layers"] = layer_descriptions(UNITS)
    response = httpx.post(f"{base_url}/api/runs/{run_id}/layers", json=payload, timeout=30)
    assert response.status_code == 200, response.text


PLOTS = """() => [...document.querySelectorAll('#layer-charts .plot')].map(d => ({
    layer: d.dataset.layer, traces: (d.data || []).map(t => ({type: t.type, name: t.name, x: t.x, y: t.y, z: t.z}))}))"""
DEPTH = "() => ({epoch: document.getElementById('depth-profile').dataset.epoch, traces: document.getElementById('depth-profile').data.map(t => ({name: t.name, x: t.x, y: t.y}))})"


def set_range(page, selector: str, value: int) -> None:
    page.locator(selector).evaluate("(el, v) => { el.value = String(v); el.dispatchEvent(new Event('input', {bubbles: true})); }", value)


def test_run_page_draws_heatmaps_quantile_bands_and_a_depth_profile_that_plays(live_server, page, reglab_env):
    run_id = create_study(live_server, "layers", {"training.seed": [1]})["runs"][0]["id"]
    arrays = run_arrays(7)
    post_layers(live_server, run_id, arrays)
    page.goto(f"{live_server}/runs/{run_id}")
    wait_ready(page)
    page.wait_for_selector("#layer-stats[data-loaded='1']")
    assert page.locator("#layer-stats-empty").is_hidden()

    # Heatmaps: one per layer, epochs on x; each column is the share of the epoch's weights in each bin of
    # the common grid, which is epoch -1's (the widest): numpy's histogram of the raw values on those edges.
    plots = page.evaluate(PLOTS)
    assert [plot["layer"] for plot in plots] == ["dense", "dense_1", "dense_2"]
    coarse = snapshot(-1, arrays[-1])["layers"]
    for plot in plots:
        (trace,) = plot["traces"]
        assert trace["type"] == "heatmap" and trace["x"] == EPOCHS
        edges = np.array(coarse[plot["layer"]]["weights"]["hist"]["edges"])
        assert trace["y"] == pytest.approx(((edges[:-1] + edges[1:]) / 2).tolist())
        z = np.array(trace["z"], dtype=float)
        for column, epoch in enumerate(EPOCHS):
            counts, _ = np.histogram(arrays[epoch][plot["layer"]]["weights"], bins=edges)
            assert z[:, column] == pytest.approx(counts / counts.sum(), abs=1e-12)

    # Distribution mode: four nested bands and the median over epochs (numpy's percentiles).
    page.select_option("#layer-tensor", "activations")
    page.select_option("#layer-view", "distribution")
    plots = page.evaluate(PLOTS)
    for plot in plots:
        assert [trace["name"] for trace in plot["traces"]] == [*BANDS, "median"]
        median = plot["traces"][-1]
        assert median["x"] == EPOCHS
        assert median["y"] == pytest.approx([float(np.percentile(arrays[e][plot["layer"]]["activations"], 50)) for e in EPOCHS])
        outer = plot["traces"][0]  # the 0-100 % band: maxima forward, minima back
        assert max(outer["y"]) == pytest.approx(max(float(arrays[e][plot["layer"]]["activations"].max()) for e in EPOCHS))

    # Depth profile: activation std and gradient L2 against layer index, at the last epoch first.
    def expected(epoch):
        names = [layer["name"] for layer in layer_descriptions(UNITS)]
        return ([float(np.std(arrays[epoch][n]["activations"])) for n in names],
                [float(np.linalg.norm(arrays[epoch][n]["gradients"])) for n in names])

    depth = page.evaluate(DEPTH)
    assert depth["epoch"] == "2"
    assert [trace["name"] for trace in depth["traces"]] == ["activation std", "gradient L2"]
    assert all(trace["x"] == [0, 1, 2] for trace in depth["traces"])
    std, l2 = expected(2)
    assert depth["traces"][0]["y"] == pytest.approx(std) and depth["traces"][1]["y"] == pytest.approx(l2)
    # The slider moves it to the snapshot before training...
    set_range(page, "#depth-epoch", 0)
    depth = page.evaluate(DEPTH)
    assert depth["epoch"] == "-1" and page.locator("#depth-epoch-value").inner_text() == "before training"
    std, l2 = expected(-1)
    assert depth["traces"][0]["y"] == pytest.approx(std) and depth["traces"][1]["y"] == pytest.approx(l2)
    # ...and Play steps through every epoch to the last, then stops.
    page.click("#depth-play")
    page.wait_for_function("document.getElementById('depth-profile').dataset.epoch === '1'")
    page.wait_for_function("document.getElementById('depth-profile').dataset.epoch === '2'")
    page.wait_for_function("document.getElementById('depth-play').textContent === 'Play'")

    # Live: a stored snapshot is announced on the run's channel; the page fetches that epoch and extends.
    page.wait_for_selector("#live[data-state='live']")
    page.select_option("#layer-view", "heatmap")
    post_layers(live_server, run_id, run_arrays(8, epochs=[3]), first=False)
    publish(reglab_env, run_id, {"type": "layers", "epoch": 3})
    page.wait_for_function("document.querySelector('#layer-charts .plot').data[0].x.length === 5")
    assert page.evaluate(PLOTS)[0]["traces"][0]["x"] == [*EPOCHS, 3]
    assert page.evaluate(DEPTH)["epoch"] == "3"  # the profile was on the newest epoch: it follows


def test_a_run_without_layer_statistics_says_so(live_server, page):
    run_id = create_study(live_server, "no layers", {"training.seed": [1]})["runs"][0]["id"]
    page.goto(f"{live_server}/runs/{run_id}")
    wait_ready(page)
    page.wait_for_selector("#layer-stats[data-loaded='1']")
    assert page.locator("#layer-stats-empty").inner_text() == "No layer statistics recorded."
    assert page.locator("#layer-stats-body").is_hidden()


def draw_count(page) -> int:
    return int(page.evaluate("document.getElementById('layers-view').dataset.drawn || 0"))


def wait_drawn(page, after: int) -> None:
    page.wait_for_function(f"Number(document.getElementById('layers-view').dataset.drawn || 0) > {after}")


def test_compare_layers_tab_overlays_runs_and_groups(live_server, page):
    study = create_study(live_server, "layers compare", {"regularization.kernel_l2": [0.0, 0.01], "training.seed": [1, 2]})
    runs = study["runs"]
    arrays = {}
    for i, run in enumerate(runs):
        arrays[run["id"]] = run_arrays(100 + i, shift=0.05 * i)
        post_layers(live_server, run["id"], arrays[run["id"]])
    ids = ",".join(str(run["id"]) for run in runs)

    # Per run: one depth profile line and one histogram per run, the URL keeping the tab's state.
    page.goto(f"{live_server}/compare?run_ids={ids}&view=layers")
    wait_ready(page)
    wait_drawn(page, 0)
    profile = page.evaluate("document.getElementById('layers-profile').data.map(t => ({kind: t.meta.kind, key: t.meta.key, x: t.x, y: t.y}))")
    assert [trace["kind"] for trace in profile] == ["profile"] * 4
    assert sorted(trace["key"] for trace in profile) == sorted(f"run:{run['id']}" for run in runs)
    first = next(trace for trace in profile if trace["key"] == f"run:{runs[0]['id']}")
    names = [layer["name"] for layer in layer_descriptions(UNITS)]
    assert first["x"] == [0, 1, 2]
    assert first["y"] == pytest.approx([float(np.std(arrays[runs[0]["id"]][2][n]["weights"])) for n in names])
    histogram = "document.getElementById('layers-histogram').data.map(t => ({key: t.meta.key, y: t.y}))"
    assert len(page.evaluate(histogram)) == 4

    # The epoch slider asks for another epoch; the layer picker and log y redraw the histograms.
    drawn = draw_count(page)
    set_range(page, "#layers-epoch", 0)
    wait_drawn(page, drawn)
    assert "lepoch=-1" in page.url
    profile = page.evaluate("document.getElementById('layers-profile').data.map(t => ({key: t.meta.key, epoch: t.meta.epoch, y: t.y}))")
    first = next(trace for trace in profile if trace["key"] == f"run:{runs[0]['id']}")
    assert first["epoch"] == -1
    assert first["y"] == pytest.approx([float(np.std(arrays[runs[0]["id"]][-1][n]["weights"])) for n in names])
    page.select_option("#layers-layer", "dense_1")
    page.check("#layers-hist-log")
    assert "llayer=dense_1" in page.url and "hlog=1" in page.url
    assert page.evaluate("document.getElementById('layers-histogram').layout.yaxis.type") == "log"
    hist = page.evaluate(histogram)
    assert len(hist) == 4
    # Counts of the four runs at epoch -1 on one set of edges: their totals are each tensor's size.
    assert all(sum(y or 0 for y in trace["y"]) == 400 for trace in hist)

    # Grouped by the penalty: one histogram per group, and the depth profile has a band under each group's mean.
    page.goto(f"{live_server}/compare?run_ids={ids}&view=layers&group=auto&ltensor=activations")
    wait_ready(page)
    wait_drawn(page, 0)
    kinds = page.evaluate("document.getElementById('layers-profile').data.map(t => t.meta.kind)")
    assert kinds.count("band") == 2 and kinds.count("profile") == 2
    groups = page.evaluate("document.getElementById('layers-profile').data.filter(t => t.meta.kind === 'profile').map(t => t.meta.key)")
    assert all(key.startswith("group:") for key in groups)
    assert len(page.evaluate(histogram)) == 2
    assert page.locator("#layers-tensor").input_value() == "activations"
