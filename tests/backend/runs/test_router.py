"""The run endpoints through the real app: paging, filters, cancel, clone, delete, model files."""

import json

import pytest
import redis

from backend.channels import cancel_key, run_channel
from backend.settings import get_settings
from backend.timeutil import utcnow
from tests.backend.helpers import errors_by_field, make_experiment, set_run


def test_paging_newest_first_with_total(client):
    make_experiment(client, grid={"training.seed": list(range(1, 8))})

    first = client.get("/api/runs?limit=3").json()
    second = client.get("/api/runs?limit=3&offset=3").json()

    assert first["total"] == 7 and (first["limit"], first["offset"]) == (3, 0)
    ids = [r["id"] for r in first["items"] + second["items"]]
    assert ids == sorted(ids, reverse=True) and len(set(ids)) == 6
    item = first["items"][0]
    assert {"summary", "progress", "state", "created_at", "experiment_id", "experiment_name", "device", "error"} <= set(
        item
    )


def test_filters_by_experiment_state_tag_and_text(client):
    tagged = make_experiment(client, name="tagged", tags=["keep"], grid={"regularization.dropout": [0.1, 0.2]})
    other = make_experiment(client, name="other", grid={"regularization.kernel_l2": [0.001]})
    set_run(tagged["runs"][0]["id"], state="completed", summary={"val_accuracy": 0.9})

    def ids(query):
        return [r["id"] for r in client.get(f"/api/runs?{query}").json()["items"]]

    assert ids(f"experiment_id={other['id']}") == [other["runs"][0]["id"]]
    assert ids("state=completed") == [tagged["runs"][0]["id"]]
    assert ids("tag=keep") == [r["id"] for r in reversed(tagged["runs"])]
    assert ids("q=DROPOUT%3D0.2") == [tagged["runs"][1]["id"]]
    assert ids("q=100%25") == []
    completed = client.get("/api/runs?state=completed").json()["items"][0]
    assert completed["summary"] == {"val_accuracy": 0.9}


def test_list_query_bounds_name_the_parameter_and_range(client):
    errors = errors_by_field(client.get("/api/runs?limit=501&offset=-1&state=done"))

    assert errors["limit"] == "must be an integer ≥ 1 and ≤ 500, got 501"
    assert "≥ 0" in errors["offset"] and "queued" in errors["state"]


def test_cancel_a_queued_run_at_once_and_publish_it(client):
    run_id = make_experiment(client)["runs"][0]["id"]
    pubsub = redis.Redis.from_url(get_settings().REDIS_URL).pubsub()
    pubsub.subscribe(run_channel(run_id))
    pubsub.get_message(timeout=1)

    response = client.post(f"/api/runs/{run_id}/cancel")

    assert response.status_code == 200 and response.json()["state"] == "cancelled"
    message = pubsub.get_message(timeout=2)
    assert json.loads(message["data"]) == {"type": "state", "run_id": run_id, "state": "cancelled"}
    assert client.post(f"/api/runs/{run_id}/cancel").status_code == 409
    pubsub.close()


def test_cancel_a_running_run_asks_the_worker(client):
    run_id = make_experiment(client)["runs"][0]["id"]
    set_run(run_id, state="running", started_at=utcnow(), heartbeat_at=utcnow())

    response = client.post(f"/api/runs/{run_id}/cancel")

    assert response.status_code == 200 and response.json()["cancel_requested"] is True
    store = redis.Redis.from_url(get_settings().REDIS_URL)
    assert store.get(cancel_key(run_id)) == b"1" and store.ttl(cancel_key(run_id)) > 0
    store.delete(cancel_key(run_id))


def test_clone_merges_overrides_into_a_new_queued_run(client):
    source = make_experiment(client, name="base", base={"training": {"epochs": 4}})["runs"][0]

    response = client.post(f"/api/runs/{source['id']}/clone", json={"regularization": {"dropout": 0.3}})

    assert response.status_code == 201
    clone = response.json()
    assert clone["state"] == "queued" and clone["experiment_id"] == source["experiment_id"]
    assert clone["spec"]["regularization"]["dropout"] == 0.3 and clone["spec"]["training"]["epochs"] == 4
    assert clone["name"] == "base | dropout=0.3"
    bad = client.post(f"/api/runs/{source['id']}/clone", json={"optimizer": {"learning_rate": 0}})
    assert errors_by_field(bad) == {"optimizer.learning_rate": "must be > 0 and ≤ 10, got 0"}


# The clone route's fast path (backend/hot_routes.py) takes exactly this content type; any other goes to
# the declared route, which both must answer alike.
FAST = {"content-type": "application/json"}
ROUTE = {"content-type": "application/json; charset=utf-8"}


def test_a_clone_answers_what_a_read_of_the_new_run_gives(client):
    source = make_experiment(client, name="base", base={"training": {"epochs": 4}})["runs"][0]
    # alpha dropout on a ReLU network: a spec with a warning.
    overrides = {"regularization": {"dropout": 0.2, "dropout_kind": "alpha"}}

    clone = client.post(f"/api/runs/{source['id']}/clone", json=overrides).json()

    read = client.get(f"/api/runs/{clone['id']}").json()
    assert clone["dispatched_at"] is None and clone["warnings"] and clone["created_at"] is not None
    # The sender may have sent the run since the answer; nothing else differs.
    assert {**clone, "dispatched_at": None} == {**read, "dispatched_at": None}


def test_the_fast_path_and_the_route_clone_alike(client):
    source = make_experiment(client, name="base")["runs"][0]
    body = json.dumps({"training": {"seed": 3}})

    fast = client.post(f"/api/runs/{source['id']}/clone", content=body, headers=FAST)
    route = client.post(f"/api/runs/{source['id']}/clone", content=body, headers=ROUTE)

    assert fast.status_code == route.status_code == 201
    assert fast.headers["content-type"] == route.headers["content-type"]
    different = {"id", "created_at", "dispatched_at"}
    assert {k: v for k, v in fast.json().items() if k not in different} == {
        k: v for k, v in route.json().items() if k not in different
    }
    assert fast.json()["name"] == "base | seed=3"


@pytest.mark.parametrize(
    ("run", "body", "status"),
    [
        ("missing", {}, 404),
        ("source", {"optimizer": {"learning_rate": 0}}, 422),
        ("source", {"training": {"epochs": 1_000_000}}, 422),
        ("source", {"model": {"hidden_layers": [4096] * 16}}, 422),
        ("source", {"no_such_section": {}}, 422),
        ("source", [1], 422),
        ("source", {"a": [[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]}, 422),
    ],
    ids=["missing run", "out of range", "over the epoch limit", "too many parameters", "unknown field",
         "not an object", "too deep"],
)  # fmt: skip
def test_bad_clones_answer_alike_on_either_path(client, run, body, status):
    source = make_experiment(client, name="base")["runs"][0]
    run_id = source["id"] if run == "source" else 999_999
    total = client.get("/api/runs").json()["total"]

    fast = client.post(f"/api/runs/{run_id}/clone", content=json.dumps(body), headers=FAST)
    route = client.post(f"/api/runs/{run_id}/clone", content=json.dumps(body), headers=ROUTE)

    assert fast.status_code == route.status_code == status, fast.text
    assert fast.json() == route.json()
    assert client.get("/api/runs").json()["total"] == total


def test_a_clone_past_the_per_experiment_cap_is_refused_on_either_path(client, monkeypatch):
    from backend.settings import get_settings as settings

    made = make_experiment(client, name="full", grid={"training.seed": [1, 2]})
    monkeypatch.setenv("REGLAB_MAX_RUNS_PER_EXPERIMENT", "3")
    settings.cache_clear()
    source = made["runs"][0]["id"]
    body = json.dumps({"training": {"seed": 9}})

    assert client.post(f"/api/runs/{source}/clone", content=body, headers=FAST).status_code == 201
    for headers in (FAST, ROUTE):
        refused = client.post(f"/api/runs/{source}/clone", content=body, headers=headers)
        assert refused.status_code == 409
        assert refused.json() == {
            "detail": f"experiment {made['id']} already has 3 runs; 1 more would pass the limit of 3 per experiment"
        }
    monkeypatch.undo()
    settings.cache_clear()


def test_clones_racing_for_the_last_places_of_an_experiment_never_pass_its_cap(client, monkeypatch):
    import threading

    from backend.errors import Conflict
    from backend.runs.service import clone_run
    from backend.settings import get_settings as settings

    made = make_experiment(client, name="racing", grid={"training.seed": [1, 2]})
    monkeypatch.setenv("REGLAB_MAX_RUNS_PER_EXPERIMENT", "5")
    settings.cache_clear()
    barrier, outcomes = threading.Barrier(8), []

    def clone(seed):
        barrier.wait()
        try:
            outcomes.append(clone_run(made["runs"][0]["id"], {"training": {"seed": seed}})["id"])
        except Conflict:
            outcomes.append("refused")

    threads = [threading.Thread(target=clone, args=(seed,)) for seed in range(10, 18)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    monkeypatch.undo()
    settings.cache_clear()

    assert outcomes.count("refused") == 5, outcomes  # 2 runs + 3 clones fill it
    assert client.get(f"/api/runs?experiment_id={made['id']}").json()["total"] == 5


def test_delete_removes_the_run_its_points_and_its_model_file(client):
    run_id = make_experiment(client)["runs"][0]["id"]
    artifact = get_settings().artifacts_dir / f"run-{run_id}.keras"
    artifact.parent.mkdir(parents=True, exist_ok=True)
    artifact.write_bytes(b"model")
    set_run(run_id, artifact_path=str(artifact), state="completed")
    client.post(f"/api/runs/{run_id}/metrics", json={"points": [{"name": "loss", "x": 0, "value": 1.0}]})

    assert client.get(f"/api/runs/{run_id}/model").content == b"model"
    assert client.delete(f"/api/runs/{run_id}").status_code == 204

    assert not artifact.exists()
    assert client.get(f"/api/runs/{run_id}").json() == {"detail": f"run {run_id} not found"}
    assert client.get(f"/api/runs/{run_id}/metrics").status_code == 404


def test_deleting_a_running_run_cancels_it_first(client):
    run_id = make_experiment(client)["runs"][0]["id"]
    set_run(run_id, state="running", started_at=utcnow())

    assert client.delete(f"/api/runs/{run_id}").status_code == 204

    store = redis.Redis.from_url(get_settings().REDIS_URL)
    assert store.get(cancel_key(run_id)) == b"1"
    store.delete(cancel_key(run_id))


def test_model_and_summary_are_404_until_the_worker_writes_them(client):
    run_id = make_experiment(client)["runs"][0]["id"]

    assert "no saved model" in client.get(f"/api/runs/{run_id}/model").json()["detail"]
    assert client.get(f"/api/runs/{run_id}/summary").json() == {"detail": f"run {run_id} has no model summary yet"}

    summary = {
        "layers": [{"name": "dense", "class_name": "Dense", "output_shape": [None, 300], "params": 235500}],
        "total_params": 235500,
        "trainable_params": 235500,
    }
    set_run(run_id, model_summary=summary)
    assert client.get(f"/api/runs/{run_id}/summary").json() == summary
    assert client.get(f"/api/runs/{run_id}").json()["has_model_summary"] is True


def test_model_path_outside_the_artifacts_directory_is_never_served(client, tmp_path):
    run_id = make_experiment(client)["runs"][0]["id"]
    secret = tmp_path / "secret.txt"
    secret.write_text("no")
    set_run(run_id, artifact_path=str(secret))

    assert client.get(f"/api/runs/{run_id}/model").status_code == 404
    client.delete(f"/api/runs/{run_id}")
    assert secret.exists()


def test_unknown_run_ids_are_404_for_every_endpoint(client):
    for method, path in [
        ("get", "/api/runs/999"),
        ("post", "/api/runs/999/cancel"),
        ("post", "/api/runs/999/clone"),
        ("delete", "/api/runs/999"),
        ("get", "/api/runs/999/model"),
        ("get", "/api/runs/999/summary"),
        ("get", "/api/runs/999/metrics"),
    ]:
        response = getattr(client, method)(path)
        assert response.status_code == 404, path
        assert response.json() == {"detail": "run 999 not found"}


def test_batch_clone_creates_sends_and_announces_once(client):
    from sqlalchemy import select

    from backend.channels import runs_channel
    from backend.db import session_scope
    from backend.runs.models import Run

    first = make_experiment(client, name="a", base={"training": {"epochs": 4}})["runs"][0]
    second = make_experiment(client, name="b")["runs"][0]
    listener = redis.Redis.from_url(get_settings().REDIS_URL).pubsub(ignore_subscribe_messages=True)
    listener.subscribe(runs_channel())
    listener.get_message(timeout=1)  # the subscription's confirmation
    body = {"clones": [{"run_id": first["id"], "overrides": {"training": {"seed": seed}}} for seed in (1, 2, 3)]}
    body["clones"].append({"run_id": second["id"]})

    response = client.post("/api/runs/clone", json=body)

    assert response.status_code == 201
    runs = response.json()["runs"]
    assert [run["name"] for run in runs] == ["a | seed=1", "a | seed=2", "a | seed=3", "b (clone)"]
    assert [run["experiment_id"] for run in runs] == [first["experiment_id"]] * 3 + [second["experiment_id"]]
    assert [run["spec"]["training"]["seed"] for run in runs[:3]] == [1, 2, 3] and runs[0]["spec"]["training"]["epochs"] == 4
    ids = [run["id"] for run in runs]
    with session_scope() as session:
        assert all(at is not None for at in session.scalars(select(Run.dispatched_at).where(Run.id.in_(ids))))
    messages = []
    while (message := listener.get_message(timeout=0.5)) is not None:
        messages.append(json.loads(message["data"]))
    listener.close()
    assert messages == [{"type": "runs", "state": "queued", "run_ids": ids,
                         "experiment_ids": sorted({first["experiment_id"], second["experiment_id"]})}]


def test_batch_clone_creates_nothing_unless_every_clone_is_valid(client):
    source = make_experiment(client, name="base")["runs"][0]
    total = client.get("/api/runs").json()["total"]
    good = {"run_id": source["id"], "overrides": {"regularization": {"dropout": 0.3}}}

    bad = client.post("/api/runs/clone", json={"clones": [good, {"run_id": source["id"], "overrides": {"optimizer": {"learning_rate": 0}}}]})
    missing = client.post("/api/runs/clone", json={"clones": [good, {"run_id": 999_999}]})
    empty = client.post("/api/runs/clone", json={"clones": []})
    too_many = client.post("/api/runs/clone", json={"clones": [good] * 257})

    assert errors_by_field(bad) == {"clones.1.optimizer.learning_rate": "must be > 0 and ≤ 10, got 0"}
    assert missing.status_code == 404 and "999999" in missing.json()["detail"]
    assert empty.status_code == 422 and "clones" in errors_by_field(empty)
    assert too_many.status_code == 422 and "256" in errors_by_field(too_many)["clones"]
    assert client.get("/api/runs").json()["total"] == total
