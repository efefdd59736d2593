"""GET /api/compare/layers on SQLite and PostgreSQL: profiles, group bands and histograms on common edges, each
checked against numpy and scipy on the raw arrays the snapshots were built from."""

import numpy as np
import pytest
from scipy import stats

from tests.backend.helpers import errors_by_field, make_experiment, set_run
from tests.backend.layers.helpers import descriptions, grid, mlp_arrays, snapshot

TINY = {"dataset": {"name": "digits", "validation_samples": 300, "train_samples": 200}, "training": {"epochs": 3}}
GRID = {"regularization.kernel_l1": [0, 0.01], "training.seed": [1, 2, 3]}
# Each seed's weights at their own scale: the runs' histogram grids differ, so re-binning has work to do.
SCALE = {1: 0.3, 2: 1.0, 3: 3.0}


def seeded_study(client):
    """Six runs, each with snapshots at -1, 0 and 1; returns the study and {run_id: {epoch: raw arrays}}."""
    study = make_experiment(client, base=TINY, grid=GRID)
    raw = {}
    for run in study["runs"]:
        spec = client.get(f"/api/runs/{run['id']}").json()["spec"]
        seed, l1 = spec["training"]["seed"], spec["regularization"]["kernel_l1"]
        rng = np.random.default_rng(seed + (100 if l1 else 0))
        raw[run["id"]] = {epoch: mlp_arrays(rng, scale=SCALE[seed] * (0.5 if l1 else 1.0)) for epoch in (-1, 0, 1)}
        set_run(run["id"], state="running", attempts=1)
        body = {"attempt": 1, "layers": descriptions(),
                "snapshots": [snapshot(epoch, arrays) for epoch, arrays in raw[run["id"]].items()]}  # fmt: skip
        assert client.post(f"/api/runs/{run['id']}/layers", json=body).status_code == 200
        set_run(run["id"], state="completed", epoch=2)
    return study, raw


def common_grid(arrays):
    """The coarsest of the arrays' power-of-two grids over their joint range, from the raw values."""
    grids = [grid(x) for x in arrays]
    width = max(g[1] - g[0] for g in grids)
    lo, hi = min(g[0] for g in grids), max(g[-1] for g in grids)
    return np.arange(round(lo / width), round(hi / width) + 1) * width


def test_profiles_and_histograms_per_run_match_numpy(client):
    study, raw = seeded_study(client)
    ids = [run["id"] for run in study["runs"]]
    response = client.get("/api/compare/layers", params={"run_ids": ",".join(map(str, ids)), "tensor": "weights",
                                                          "stat": "std", "epoch": "last"})  # fmt: skip
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["epochs"] == [-1, 0, 1] and body["epoch"] == "last"
    assert [layer["name"] for layer in body["layers"]] == ["dense", "dense_1"]
    assert body["layers"][0] == {"index": 0, "name": "dense", "type": "Dense"}
    for profile, run_id in zip(body["profiles"], ids, strict=True):
        assert profile["key"] == f"run:{run_id}" and profile["epoch"] == 1 and "low" not in profile
        expected = [np.std(raw[run_id][1][name]["weights"]) for name in ("dense", "dense_1")]
        assert profile["values"] == pytest.approx(expected, rel=1e-6)

    # One grid for every layer and run: the coarsest, counts summed into it exactly.
    every = [raw[run_id][1][name]["weights"] for run_id in ids for name in ("dense", "dense_1")]
    edges = common_grid(every)
    assert body["histograms"]["edges"] == pytest.approx(edges.tolist(), abs=0)
    for name in ("dense", "dense_1"):
        entries = body["histograms"]["by_layer"][name]
        assert [e["key"] for e in entries] == [f"run:{run_id}" for run_id in ids]
        for entry, run_id in zip(entries, ids, strict=True):
            assert entry["counts"] == np.histogram(raw[run_id][1][name]["weights"], edges)[0].tolist(), (name, run_id)

    # One layer: the grid common to that layer's runs only.
    one = client.get("/api/compare/layers", params={"run_ids": ",".join(map(str, ids)), "epoch": "-1",
                                                     "tensor": "activations", "stat": "zero_fraction", "layer": "dense"})  # fmt: skip
    assert one.status_code == 200, one.text
    one = one.json()
    edges = common_grid([raw[run_id][-1]["dense"]["activations"] for run_id in ids])
    assert one["histograms"]["edges"] == pytest.approx(edges.tolist(), abs=0)
    assert list(one["histograms"]["by_layer"]) == ["dense"]
    first = one["histograms"]["by_layer"]["dense"][0]["counts"]
    assert first == np.histogram(raw[ids[0]][-1]["dense"]["activations"], edges)[0].tolist()
    assert one["profiles"][0]["values"][0] == pytest.approx(np.mean(raw[ids[0]][-1]["dense"]["activations"] == 0), rel=1e-6)

    # An epoch no run has: every profile empty.
    none = client.get("/api/compare/layers", params={"run_ids": ",".join(map(str, ids)), "epoch": "7"}).json()
    assert all(p["epoch"] is None and p["values"] == [None, None] for p in none["profiles"])
    assert none["histograms"] == {"edges": None, "by_layer": {}}


def test_group_profiles_have_a_t_band_and_mean_histograms(client):
    study, raw = seeded_study(client)
    ids = [run["id"] for run in study["runs"]]
    body = client.get("/api/compare/layers", params={"run_ids": ",".join(map(str, ids)), "tensor": "gradients",
                                                      "stat": "l2", "group_by": "auto"}).json()  # fmt: skip
    groups = {p["label"]: p for p in body["profiles"]}
    assert set(groups) == {"kernel_l1=0.0", "kernel_l1=0.01"}
    every = [raw[run_id][1][name]["gradients"] for run_id in ids for name in ("dense", "dense_1")]
    edges = common_grid(every)
    for label, profile in groups.items():
        members = profile["run_ids"]
        assert len(members) == 3 and profile["key"] == f"group:{label}"
        norms = np.array([[np.linalg.norm(raw[r][1][name]["gradients"]) for name in ("dense", "dense_1")] for r in members])
        mean = norms.mean(axis=0)
        half = stats.t.ppf(0.975, 2) * norms.std(axis=0, ddof=1) / np.sqrt(3)
        assert profile["values"] == pytest.approx(mean.tolist(), rel=1e-5)
        assert profile["low"] == pytest.approx((mean - half).tolist(), rel=1e-5)
        assert profile["high"] == pytest.approx((mean + half).tolist(), rel=1e-5)
        entry = next(e for e in body["histograms"]["by_layer"]["dense_1"] if e["key"] == profile["key"])
        counts = np.mean([np.histogram(raw[r][1]["dense_1"]["gradients"], edges)[0] for r in members], axis=0)
        assert entry["counts"] == pytest.approx(counts.tolist(), abs=1e-9)


def test_bad_parameters_get_a_422_naming_them(client):
    study, _ = seeded_study(client)
    ids = ",".join(str(run["id"]) for run in study["runs"])
    for params, field in (
        ({"tensor": "biases"}, "tensor"),
        ({"tensor": "gradients", "stat": "max_col_norm"}, "stat"),
        ({"stat": "median"}, "stat"),
        ({"epoch": "first"}, "epoch"),
        ({"epoch": "-2"}, "epoch"),
        ({"epoch": "1.5"}, "epoch"),
        ({"group_by": "no.such.field"}, "group_by"),
    ):
        errors = errors_by_field(client.get("/api/compare/layers", params={"run_ids": ids, **params}))
        assert field in errors, (params, errors)
    assert client.get("/api/compare/layers", params={"run_ids": "999999"}).status_code == 404
