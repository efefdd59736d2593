"""frontend/js/layerdata.js in node: histograms of one run's epochs put on one grid, exactly."""

import json

import numpy as np
import pytest

from tests.fixtures.layer_snapshots import tensor_stats
from tests.frontend.node import evaluator


@pytest.fixture(scope="module")
def run_js(tmp_path_factory):
    return evaluator(tmp_path_factory.mktemp("layerdata"), "layerdata")


def test_nested_grids_rebin_exactly_onto_the_widest_bins(run_js):
    rng = np.random.default_rng(3)
    # A one-signed tensor on [0, 4] and a two-signed one on [-2, 2]: the grid spans [-2, 4] in bins of 1/16.
    wide = np.abs(rng.normal(0, 1.2, 500)).clip(0, 3.9)
    narrow = rng.normal(0, 0.5, 500).clip(-1.9, 1.9)
    hists = [tensor_stats(wide, "activations")["hist"], tensor_stats(narrow, "activations")["hist"]]
    grid = run_js(f"layerdata.commonGrid({json.dumps(hists)})")
    assert grid == pytest.approx(np.arange(-2, 4 + 1e-9, 1 / 16).tolist())
    for values, hist in zip((wide, narrow), hists, strict=True):
        counts = run_js(f"layerdata.rebin({json.dumps(hist)}, {json.dumps(grid)})")
        expected, _ = np.histogram(values, bins=np.array(grid))
        assert counts == expected.tolist()  # whole counts: every fine bin lies in one grid bin


def test_heatmap_columns_are_each_epochs_share_and_quantiles_become_bands(run_js):
    rng = np.random.default_rng(4)
    arrays = {epoch: rng.normal(0, 0.5 / 2 ** (epoch + 1), 300) for epoch in (-1, 0, 1)}
    snapshots = [{"epoch": e, "layers": {"dense": {"weights": tensor_stats(a, "weights")}}} for e, a in arrays.items()]
    data = run_js(f"layerdata.heatmapData({json.dumps(snapshots)}, 'dense', 'weights')")
    assert data["x"] == [-1, 0, 1]
    edges = np.array(snapshots[0]["layers"]["dense"]["weights"]["hist"]["edges"])
    z = np.array(data["z"], dtype=float)
    for column, values in enumerate(arrays.values()):
        counts, _ = np.histogram(values, bins=edges)
        assert z[:, column] == pytest.approx(counts / counts.sum(), abs=1e-12)
    series = run_js(f"layerdata.quantileSeries({json.dumps(snapshots)}, 'dense', 'weights')")
    assert [band["label"] for band in series["bands"]] == ["0–100 %", "6.68–93.32 %", "15.87–84.13 %", "30.85–69.15 %"]
    assert series["median"] == pytest.approx([float(np.median(a)) for a in arrays.values()])
    assert series["bands"][0]["hi"] == pytest.approx([float(a.max()) for a in arrays.values()])


def test_a_reposted_epoch_replaces_the_old_one_and_missing_layers_read_null(run_js):
    merged = run_js("layerdata.mergeSnapshots([{epoch: 1, layers: {a: 1}}, {epoch: -1, layers: {}}], [{epoch: 1, layers: {a: 2}}, {epoch: 0, layers: {}}])")
    assert [(s["epoch"], s["layers"]) for s in merged] == [(-1, {}), (0, {}), (1, {"a": 2})]
    values = run_js("layerdata.depthValues({layers: {a: {activations: {std: 0.9}}}}, [{name: 'a'}, {name: 'b'}], 'activations', 'std')")
    assert values == [0.9, None]
    assert run_js("layerdata.layerPages([1,2,3,4,5], 2)") == [[1, 2], [3, 4], [5]]
