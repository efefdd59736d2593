"""Client.runs(), series() and analysis() against a live server: to_pandas() columns equal to the API's runs,
series() rows equal to the points stored, groups_frame() equal to the analysis."""

import builtins

import httpx
import numpy as np
import pytest

from reglab import frames
from reglab.client import Client
from tests.backend.analysis.test_router import L1, PLAIN, seed_study
from tests.backend.helpers import set_run


def test_runs_page_through_the_api_and_frame_the_params_metrics_and_tags(live_server, monkeypatch):
    pytest.importorskip("pandas")
    api = httpx.Client(base_url=live_server)
    experiment = api.post("/api/experiments", json={"name": "frames", "grid": {"regularization.dropout": [0.0, 0.2, 0.4]}}).json()
    ids = [run["id"] for run in experiment["runs"]]
    accuracies = {ids[0]: 0.8, ids[1]: 0.9, ids[2]: 0.7}
    for run_id, accuracy in accuracies.items():
        set_run(run_id, summary={"best_val_accuracy": accuracy}, state="completed")
    external = api.post("/api/runs/external", json={"experiment": "notebook", "name": "nb", "params": {"lr": 0.1, "opt": {"name": "sgd"}},
                                                    "tags": ["keep"]}).json()  # fmt: skip
    monkeypatch.setattr(frames, "PAGE", 2)  # four runs: two pages and a short one

    with Client(live_server) as client:
        runs = client.runs()
        assert [run["id"] for run in runs] == [external["run_id"], *ids[::-1]]
        frame = runs.to_pandas()
        found = client.runs(filter="metrics.best_val_accuracy >= 0.8 and params.regularization.dropout < 0.3").to_pandas()
        assert len(client.runs(limit=3)) == 3
        assert [r["id"] for r in client.runs(experiment_id=experiment["id"], state="completed")] == ids[::-1]

    assert list(frame.columns[:5]) == ["id", "name", "state", "experiment_id", "created_at"]
    assert frame.columns[-1] == "tags"
    by_id = frame.set_index("id")
    assert [by_id.loc[run_id, "params.regularization.dropout"] for run_id in ids] == [0.0, 0.2, 0.4]
    assert [by_id.loc[run_id, "metrics.best_val_accuracy"] for run_id in ids] == [0.8, 0.9, 0.7]
    assert by_id.loc[external["run_id"], "params.lr"] == 0.1 and by_id.loc[external["run_id"], "params.opt.name"] == "sgd"
    assert by_id.loc[external["run_id"], "tags"] == ["keep"]
    assert sorted(found["id"]) == [ids[0], ids[1]]
    # Every column equals the API's own answer for the run.
    for run_id in ids:
        detail = api.get(f"/api/runs/{run_id}").json()
        assert by_id.loc[run_id, "name"] == detail["name"] and by_id.loc[run_id, "created_at"] == detail["created_at"]
        assert by_id.loc[run_id, "params.optimizer.name"] == detail["spec"]["optimizer"]["name"]
        assert by_id.loc[run_id, "params.training.seed"] == detail["spec"]["training"]["seed"]
    assert len([c for c in frame.columns if c.startswith("params.")]) >= 40  # every spec leaf


def without(monkeypatch, module: str) -> None:
    """Make ``import module`` (and its submodules) fail, as where it is not installed."""
    real_import = builtins.__import__

    def blocked(name, *args, **kwargs):
        if name == module or name.startswith(module + "."):
            raise ImportError(f"No module named '{module}'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", blocked)


def test_frames_without_pandas_name_the_extra(monkeypatch):
    without(monkeypatch, "pandas")
    with pytest.raises(ImportError, match=r"pip install 'reglab\[frames\]'"):
        frames.RunList([]).to_pandas()
    with pytest.raises(ImportError, match=r"need pandas: pip install 'reglab\[frames\]'"):
        frames.Analysis({"metric": "best_val_accuracy", "groups": []}).groups_frame()
    with pytest.raises(ImportError, match=r"need pandas: pip install 'reglab\[frames\]'"):
        frames.read_series(None, [1])  # fails before any request


def test_series_without_pyarrow_name_the_extra(monkeypatch):
    pytest.importorskip("pandas")
    without(monkeypatch, "pyarrow")
    with pytest.raises(ImportError, match=r"need pyarrow: pip install 'reglab\[frames\]'"):
        frames.read_series(None, [1])


def test_series_are_every_stored_point_from_the_arrow_export(live_server, monkeypatch):
    pytest.importorskip("pandas")
    pytest.importorskip("pyarrow")
    # Run a: two epoch series with times, and a step series of the same name as one of them (both axes).
    posted_a = [{"name": name, "axis": "epoch", "x": epoch, "value": base + 0.01 * epoch, "t": 1.5 * epoch}
                for epoch in range(6) for name, base in (("loss", 1.0), ("val_accuracy", 0.5))]  # fmt: skip
    posted_a += [{"name": "loss", "axis": "step", "x": step, "value": 2.0 - step / 1000} for step in range(1200)]
    # Run b: one epoch series, no times; run c: no points at all.
    posted_b = [{"name": "val_accuracy", "axis": "epoch", "x": epoch, "value": 0.3 * epoch} for epoch in range(3)]
    with Client(live_server) as client:
        runs = []
        for name, points in (("a", posted_a), ("b", posted_b), ("c", [])):
            run = client.create_run("series", name)
            if points:
                run.record_epoch(points)
            assert run.finish("completed") is not None
            runs.append(run.run_id)
        a, b, c = runs
        frame = client.series([a, b, c])
        only_val = client.series([a, b], names=["val_accuracy"])
        just_b = client.series(np.int64(b))  # one id, as a DataFrame's id column holds it
        monkeypatch.setattr(frames, "RUN_IDS_PER_REQUEST", 1)  # one request per run, concatenated
        one_by_one = client.series([a, b, c])

    assert list(frame.columns) == ["run_id", "metric", "axis", "x", "value", "t"]
    # Every point, never downsampled: 12 epoch + 1200 step points of a, 3 of b, none of c.
    assert len(frame) == len(posted_a) + len(posted_b) == 1215
    counts = frame.groupby(["run_id", "metric", "axis"]).size().to_dict()
    assert counts == {(a, "loss", "epoch"): 6, (a, "loss", "step"): 1200, (a, "val_accuracy", "epoch"): 6,
                      (b, "val_accuracy", "epoch"): 3}  # fmt: skip
    for run_id, points in ((a, posted_a), (b, posted_b)):
        got = frame[frame["run_id"] == run_id].set_index(["metric", "axis", "x"]).sort_index()
        want = sorted(((p["name"], p["axis"], p["x"]), p["value"], p.get("t")) for p in points)
        assert list(got.index) == [key for key, _, _ in want]
        # The export stores values as float32.
        np.testing.assert_array_equal(got["value"].to_numpy(), np.array([v for _, v, _ in want], dtype=np.float32))
        np.testing.assert_array_equal(got["t"].to_numpy(), np.array([np.nan if t is None else t for *_, t in want]))
    assert len(only_val) == 9 and set(only_val["metric"]) == {"val_accuracy"}
    assert list(just_b["x"]) == [0, 1, 2] and set(just_b["run_id"]) == {b}
    assert one_by_one.equals(frame)


def test_groups_frame_equals_the_analysis(live_server):
    pytest.importorskip("pandas")
    api = httpx.Client(base_url=live_server)
    study = seed_study(api)
    with Client(live_server) as client:
        analysis = client.analysis(study["id"])
        sparsity = client.analysis(study["id"], metric="final_sparsity", baseline="kernel_l1=0.01")

    assert isinstance(analysis, dict) and analysis == api.get(f"/api/experiments/{study['id']}/analysis").json()
    frame = analysis.groups_frame()
    assert list(frame.columns) == ["label", "n", "mean", "std", "diff", "ci_low", "ci_high", "hedges_g", "p_adjusted",
                                   "verdict"]  # fmt: skip
    assert list(frame["label"]) == [group["label"] for group in analysis["groups"]] == ["kernel_l1=0.01", "kernel_l1=0.0"]
    rows = frame.set_index("label")
    for group in analysis["groups"]:
        row, stats = rows.loc[group["label"]], group["metrics"]["best_val_accuracy"]
        assert row["n"] == group["n"] and row["mean"] == stats["mean"] and row["std"] == stats["std"]
        versus = group["vs_baseline"].get("best_val_accuracy")
        if versus is None:  # the baseline itself
            assert row[["diff", "ci_low", "ci_high", "hedges_g", "p_adjusted", "verdict"]].isna().all()
            continue
        assert [row["diff"], row["ci_low"], row["ci_high"]] == [versus["diff"], *versus["ci95"]]
        assert [row["hedges_g"], row["p_adjusted"], row["verdict"]] == [
            versus["hedges_g"], versus["p_adjusted"], versus["verdict"]]  # fmt: skip
    # And the figures themselves, from the seeded values.
    plain, l1 = [v[0] for v in PLAIN.values()], [v[0] for v in L1.values()]
    assert rows.loc["kernel_l1=0.0", "mean"] == pytest.approx(np.mean(plain))
    assert rows.loc["kernel_l1=0.01", "std"] == pytest.approx(np.std(l1, ddof=1))
    assert rows.loc["kernel_l1=0.01", "diff"] == pytest.approx(np.mean(l1) - np.mean(plain))
    assert rows.loc["kernel_l1=0.01", "verdict"] == "better" and rows.loc["kernel_l1=0.01", "n"] == 3
    # metric and baseline reach the API: the plain group against the sparse one, on sparsity.
    assert sparsity["metric"] == "final_sparsity" and sparsity["baseline"] == "kernel_l1=0.01"
    flipped = sparsity.groups_frame().set_index("label")
    last_plain, last_l1 = [v[1] for v in PLAIN.values()], [v[1] for v in L1.values()]
    assert flipped.loc["kernel_l1=0.0", "diff"] == pytest.approx(np.mean(last_plain) - np.mean(last_l1))
    assert flipped.loc["kernel_l1=0.0", "verdict"] == "lower" and np.isnan(flipped.loc["kernel_l1=0.01", "diff"])
