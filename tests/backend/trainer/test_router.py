"""The trainer endpoints over HTTP: attempt guards, uploads and downloads through the store, external runs."""

from datetime import timedelta

import orjson

from sqlalchemy import update

from backend.db import session_scope
from backend.runs.models import Run
from backend.storage import get_storage
from backend.timeutil import utcnow
from tests.worker.helpers import TINY


def make_run(client):
    study = client.post("/api/experiments", json={"name": "t", "base": TINY}).json()
    return study["runs"][0]["id"]


def claim(client, run_id, host="host-a"):
    return client.post(f"/api/trainer/runs/{run_id}/claim", json={"worker_host": host})


def test_claim_heartbeat_epoch_finish_and_a_stale_attempt_refused(client):
    run_id = make_run(client)
    first = claim(client, run_id).json()
    assert (first["attempt"], first["resume"], first["stop"], first["epochs"]) == (1, None, None, 3)
    assert first["spec"]["training"]["epochs"] == 3
    assert claim(client, run_id, "host-b").status_code == 409, "a live worker holds it"

    beat = client.post(f"/api/trainer/runs/{run_id}/heartbeat", json={"attempt": 1}).json()
    assert (beat["cancel"], beat["requeue"]) == (False, False)
    points = [{"name": "val_accuracy", "axis": "epoch", "x": 0, "value": 0.5, "t": 1.0}]
    body = {"attempt": 1, "points": points, "progress": {"epoch": 1, "epoch_seconds": 1.0}}
    assert client.post(f"/api/trainer/runs/{run_id}/epoch", json=body).json() == {"run_id": run_id, "written": 1}
    assert client.post(f"/api/trainer/runs/{run_id}/epoch", json=body).json()["written"] == 1, "idempotent"
    assert client.get(f"/api/runs/{run_id}").json()["epoch"] == 1

    with session_scope() as session:
        session.execute(update(Run).where(Run.id == run_id).values(heartbeat_at=utcnow() - timedelta(hours=1)))
    second = claim(client, run_id, "host-b").json()
    assert second["attempt"] == 2 and second["restarted"]
    for path, payload in (("heartbeat", {"attempt": 1}), ("epoch", body), ("progress", {"attempt": 1, "device": "x"}),
                          ("finish", {"attempt": 1, "state": "completed"})):  # fmt: skip
        response = client.post(f"/api/trainer/runs/{run_id}/{path}", json=payload)
        assert response.status_code == 409, path
        assert "no longer attempt 1's" in response.json()["detail"]
    assert client.put(f"/api/trainer/runs/{run_id}/model", params={"attempt": 1}, content=b"x").status_code == 409

    done = client.post(f"/api/trainer/runs/{run_id}/finish", json={"attempt": 2, "state": "completed"}).json()
    assert done["state"] == "completed" and done["summary"]["final_val_accuracy"] == 0.5
    assert claim(client, run_id).status_code == 409, "a final run is never claimed"
    assert claim(client, 999999).status_code == 404


def test_model_and_checkpoints_go_through_the_store_and_a_resume_gets_them(client):
    run_id = make_run(client)
    claim(client, run_id)
    url = f"/api/trainer/runs/{run_id}"
    assert client.get(f"{url}/checkpoint").status_code == 404
    for epoch in (1, 2):
        response = client.put(f"{url}/checkpoint", params={"attempt": 1, "epoch": epoch}, content=b"ckpt%d" % epoch)
        assert response.json() == {"run_id": run_id, "key": f"run-{run_id}.checkpoint-e{epoch}.keras", "size": 5,
                                   "epoch": epoch}  # fmt: skip
    assert sorted(get_storage().keys(f"run-{run_id}.checkpoint")) == [f"run-{run_id}.checkpoint-e2.keras"]
    points = [{"name": "loss", "axis": "epoch", "x": x, "value": 1.0 / (x + 1), "t": 2.0 * x} for x in range(3)]
    client.post(f"{url}/epoch", json={"attempt": 1, "points": points})

    with session_scope() as session:
        session.execute(update(Run).where(Run.id == run_id).values(heartbeat_at=utcnow() - timedelta(hours=1)))
    resumed = claim(client, run_id, "another machine").json()
    assert resumed["resume"]["epoch"] == 2 and resumed["resume"]["t_offset"] == 2.0
    assert [e["loss"] for e in resumed["resume"]["history"]] == [1.0, 0.5]
    download = client.get(f"{url}/checkpoint")
    assert download.content == b"ckpt2" and download.headers["x-checkpoint-epoch"] == "2"

    big = b"PK" + b"\0" * (20 * 1024 * 1024)  # past the 16 MB limit of JSON bodies
    model = client.put(f"{url}/model", params={"attempt": 2}, content=big)
    assert model.status_code == 200 and model.json()["size"] == len(big)
    client.post(f"{url}/finish", json={"attempt": 2, "state": "completed"})
    assert client.get(f"/api/runs/{run_id}/model").content == big
    assert client.get(f"{url}/checkpoint").status_code == 404, "a finished run's checkpoints are gone"
    assert client.delete(f"/api/runs/{run_id}").status_code == 204
    assert get_storage().path(f"run-{run_id}.keras") is None


def test_external_runs_are_created_once_per_source_key_and_compare_by_their_params(client):
    body = {"experiment": "notebook", "name": "cnn", "params": {"dropout": 0.3, "optimizer": {"lr": 0.01}},
            "source": "tensorboard", "source_key": "tb:abc"}  # fmt: skip
    first = client.post("/api/runs/external", json=body)
    assert first.status_code == 201 and first.json()["created"] and first.json()["attempt"] == 1
    again = client.post("/api/runs/external", json=body).json()
    assert (again["run_id"], again["created"]) == (first.json()["run_id"], False)
    other = client.post("/api/runs/external", json={**body, "source_key": None, "params": {"dropout": 0.5}}).json()
    assert other["created"] and other["experiment_id"] == again["experiment_id"]

    ids = f"{again['run_id']},{other['run_id']}"
    diff = client.get("/api/compare", params={"run_ids": ids}).json()["params_diff"]
    assert diff == {"dropout": {str(again["run_id"]): 0.3, str(other["run_id"]): 0.5},
                    "optimizer.lr": {str(again["run_id"]): 0.01, str(other["run_id"]): None}}  # fmt: skip
    detail = client.get(f"/api/runs/{other['run_id']}").json()
    assert (detail["state"], detail["warnings"]) == ("running", [])
    assert client.post(f"/api/runs/{other['run_id']}/clone").status_code == 409
    bad = client.post("/api/runs/external", json={**body, "experiment": ""})
    assert bad.status_code == 422 and bad.json()["detail"][0]["field"] == "experiment"


def test_a_silent_external_run_fails_at_once_instead_of_going_to_a_worker(client):
    from backend.dispatch import reap_stale_runs

    run_id = client.post("/api/runs/external", json={"experiment": "nb", "name": "gone"}).json()["run_id"]
    with session_scope() as session:
        session.execute(update(Run).where(Run.id == run_id).values(heartbeat_at=utcnow() - timedelta(hours=1)))
    assert reap_stale_runs() == {run_id: "failed"}
    assert claim(client, run_id).status_code == 409


def test_the_epoch_fast_path_answers_as_the_declared_route(client):
    # A content type with a charset is left to the declared route; the plain one takes the fast path.
    run_id = make_run(client)
    claim(client, run_id)
    answers = []
    for content_type in ("application/json", "application/json; charset=utf-8"):
        for target, attempt in ((run_id, 1), (run_id, 2), (999999, 1)):
            body = {"attempt": attempt, "points": [{"name": "loss", "x": 0, "value": 1.0}], "progress": {"epoch": 1}}
            response = client.post(f"/api/trainer/runs/{target}/epoch", content=orjson.dumps(body),
                                   headers={"content-type": content_type})  # fmt: skip
            answers.append((response.status_code, response.json()))

    fast, declared = answers[:3], answers[3:]
    assert fast == declared
    assert [status for status, _ in fast] == [200, 409, 404] and fast[0][1] == {"run_id": run_id, "written": 1}
    assert client.get(f"/api/runs/{run_id}/metrics").json()["series"]["loss"]["y"] == [1.0]
