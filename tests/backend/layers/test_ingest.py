"""POST and GET /api/runs/{id}/layers on SQLite and PostgreSQL: round trip, replacement, guards, bounds."""

from datetime import timedelta

import numpy as np
import pytest
from sqlalchemy import func, select, update

from backend.db import session_scope
from backend.layers.models import LayerSnapshot, RunLayers
from backend.runs.models import Run
from backend.timeutil import utcnow
from tests.backend.helpers import errors_by_field
from tests.backend.layers.helpers import descriptions, mlp_arrays, snapshot


def external_run(client, name="mlp") -> int:
    response = client.post("/api/runs/external", json={"experiment": "layers", "name": name})
    assert response.status_code == 201, response.text
    return response.json()["run_id"]


def post(client, run_id, snapshots, layers=None, attempt=1):
    body = {"attempt": attempt, "snapshots": snapshots}
    if layers is not None:
        body["layers"] = layers
    return client.post(f"/api/runs/{run_id}/layers", json=body)


def f32(values):
    """As float32: a value read back equals the one posted once both are rounded to float32."""
    return np.array([np.nan if v is None else v for v in np.atleast_1d(values)], dtype=np.float32).tolist()


def assert_same(read, posted):
    """``read`` is ``posted``: counts and edges exactly, floats to float32 precision."""
    assert read.keys() == posted.keys()
    for name, tensors in posted.items():
        assert read[name].keys() == tensors.keys(), name
        for kind, stats in tensors.items():
            got = read[name][kind]
            assert got["hist"]["counts"] == stats["hist"]["counts"], (name, kind)
            assert f32(got["hist"]["edges"]) == f32(stats["hist"]["edges"]), (name, kind)
            assert f32(got["quantiles"]) == f32(stats["quantiles"]), (name, kind)
            for key in ("mean", "std", "l2", "abs_max", "zero_fraction", "max_col_norm"):
                if key in stats:
                    assert f32(got[key]) == f32(stats[key]), (name, kind, key)
            assert "saturated_fraction" not in got


def test_snapshots_read_back_as_posted_and_a_repost_replaces_its_epoch(client):
    rng = np.random.default_rng(3)
    run_id = external_run(client)
    assert client.get(f"/api/runs/{run_id}/layers").json() == {"layers": [], "snapshots": []}
    first = [snapshot(-1, mlp_arrays(rng)), snapshot(0, mlp_arrays(rng))]
    response = post(client, run_id, first, descriptions())
    assert response.json() == {"run_id": run_id, "written": 2}, response.text

    read = client.get(f"/api/runs/{run_id}/layers").json()
    assert read["layers"] == descriptions()
    assert [s["epoch"] for s in read["snapshots"]] == [-1, 0]
    for got, sent in zip(read["snapshots"], first, strict=True):
        assert_same(got["layers"], sent["layers"])

    # Epoch 0 again, with other values, and epoch 1 new; the descriptions are not sent again.
    again = [snapshot(0, mlp_arrays(rng, scale=3.0)), snapshot(1, mlp_arrays(rng))]
    assert post(client, run_id, again).json()["written"] == 2
    read = client.get(f"/api/runs/{run_id}/layers", params={"epochs": "0,1"}).json()
    assert read["layers"] == descriptions()
    assert [s["epoch"] for s in read["snapshots"]] == [0, 1]
    assert_same(read["snapshots"][0]["layers"], again[0]["layers"])
    with session_scope() as session:
        assert session.scalar(select(func.count()).select_from(LayerSnapshot).where(LayerSnapshot.run_id == run_id)) == 3
    only = client.get(f"/api/runs/{run_id}/layers", params={"epochs": "-1"}).json()["snapshots"]
    assert [s["epoch"] for s in only] == [-1]

    assert client.delete(f"/api/runs/{run_id}").status_code == 204
    with session_scope() as session:
        assert session.scalar(select(func.count()).select_from(LayerSnapshot)) == 0
        assert session.scalar(select(func.count()).select_from(RunLayers)) == 0


def test_irregular_edges_and_missing_tensors_are_kept(client):
    run_id = external_run(client)
    edges = [-1.0, -0.3, 0.0, 0.25, 2.0]
    stats = {"mean": 0.1, "std": None, "l2": 1.5, "abs_max": 2.0, "zero_fraction": 0.0,
             "hist": {"edges": edges, "counts": [1, 0, 7, 2]}}  # fmt: skip
    body = [{"epoch": 4, "layers": {"conv2d": {"activations": {**stats, "saturated_fraction": 0.25}}}}]
    assert post(client, run_id, body).status_code == 200
    got = client.get(f"/api/runs/{run_id}/layers").json()["snapshots"][0]["layers"]["conv2d"]
    assert list(got) == ["activations"]
    assert f32(got["activations"]["hist"]["edges"]) == f32(edges)
    assert got["activations"]["hist"]["counts"] == [1, 0, 7, 2]
    assert got["activations"]["std"] is None and got["activations"]["quantiles"] is None
    assert got["activations"]["saturated_fraction"] == 0.25


def test_only_the_attempt_training_the_run_may_post(client):
    from tests.worker.helpers import TINY

    study = client.post("/api/experiments", json={"name": "t", "base": TINY}).json()
    run_id = study["runs"][0]["id"]
    one = [snapshot(-1, mlp_arrays(np.random.default_rng(0)))]
    assert post(client, run_id, one).status_code == 409, "a queued run is nobody's to train"
    assert client.post(f"/api/trainer/runs/{run_id}/claim", json={"worker_host": "a"}).json()["attempt"] == 1
    assert post(client, run_id, one).status_code == 200
    with session_scope() as session:
        session.execute(update(Run).where(Run.id == run_id).values(heartbeat_at=utcnow() - timedelta(hours=1)))
    assert client.post(f"/api/trainer/runs/{run_id}/claim", json={"worker_host": "b"}).json()["attempt"] == 2
    stale = post(client, run_id, [snapshot(0, mlp_arrays(np.random.default_rng(1)))])
    assert stale.status_code == 409 and "no longer attempt 1's" in stale.json()["detail"]
    assert post(client, run_id, one, attempt=2).status_code == 200
    assert [s["epoch"] for s in client.get(f"/api/runs/{run_id}/layers").json()["snapshots"]] == [-1]
    assert post(client, 999_999, one).status_code == 404
    assert client.get("/api/runs/999999/layers").status_code == 404


def test_bad_bodies_and_epochs_get_a_422_naming_the_field(client):
    run_id = external_run(client)
    good = snapshot(0, mlp_arrays(np.random.default_rng(0), sizes=((4, 2),)))
    stats = good["layers"]["dense"]["weights"]
    cases = {
        "snapshots.0.epoch": [{**good, "epoch": -2}],
        "snapshots": [good] * 101,
        "snapshots.0.layers": [{"epoch": 1, "layers": {f"d{i}": {} for i in range(201)}}],
        "snapshots.0.layers.dense.weights.hist": [{"epoch": 1, "layers": {"dense": {"weights": {
            **stats, "hist": {"edges": [0, 1], "counts": [1, 2]}}}}}],
        "snapshots.0.layers.dense.weights.hist.counts": [{"epoch": 1, "layers": {"dense": {"weights": {
            **stats, "hist": {"edges": list(range(4098)), "counts": [0] * 4097}}}}}],
        "snapshots.0.layers.dense.weights.zero_fraction": [{"epoch": 1, "layers": {"dense": {"weights": {
            **stats, "zero_fraction": 1.5}}}}],
        "snapshots.0.layers.dense.gradients.max_col_norm": [{"epoch": 1, "layers": {"dense": {"gradients": {
            **stats}}}}],
    }  # fmt: skip
    for field, body in cases.items():
        errors = errors_by_field(post(client, run_id, body))
        assert any(f == field or f.startswith(field + ".") for f in errors), (field, errors)
    for bad in ("x", "1,,2", "-2", "1.5", "100001", "٣"):
        errors = errors_by_field(client.get(f"/api/runs/{run_id}/layers", params={"epochs": bad}))
        assert "epochs" in errors and "-1" in errors["epochs"], (bad, errors)
    assert client.get(f"/api/runs/{run_id}/layers").json()["snapshots"] == []
