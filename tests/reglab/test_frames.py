"""Client.runs() against a live server: paging, the filter, and to_pandas() columns equal to the API's runs."""

import httpx
import pytest

from reglab import frames
from reglab.client import Client
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


def test_frames_without_pandas_name_the_extra(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_pandas(name, *args, **kwargs):
        if name == "pandas":
            raise ImportError("No module named 'pandas'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_pandas)
    with pytest.raises(ImportError, match=r"pip install 'reglab\[frames\]'"):
        frames.RunList([]).to_pandas()
