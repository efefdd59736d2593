"""POST/GET/DELETE /api/experiments through the real app, on SQLite and PostgreSQL."""

from reglab.spec import default_spec
from tests.backend.helpers import errors_by_field, make_experiment


def test_grid_expands_to_the_cartesian_product_with_names_from_what_differs(client):
    body = {
        "tags": ["l2", "sweep"],
        "base": {"training": {"epochs": 3}},
        "grid": {"regularization.kernel_l2": [0, 0.01], "regularization.dropout": [0.0, 0.2, 0.5]},
    }
    experiment = make_experiment(client, **body)

    runs = experiment["runs"]
    assert len(runs) == 6
    assert {r["name"] for r in runs} == {
        f"kernel_l2={l2}, dropout={d}" for l2 in ("0", "0.01") for d in ("0.0", "0.2", "0.5")
    }
    assert all(r["state"] == "queued" and r["progress"] == {"epoch": 0, "epochs": 3} for r in runs)
    assert experiment["tags"] == ["l2", "sweep"]
    stored = {(r["name"]): client.get(f"/api/runs/{r['id']}").json()["spec"] for r in runs}
    assert stored["kernel_l2=0.01, dropout=0.5"]["regularization"]["kernel_l2"] == 0.01
    assert stored["kernel_l2=0.01, dropout=0.5"]["regularization"]["dropout"] == 0.5
    assert stored["kernel_l2=0, dropout=0.0"]["training"]["epochs"] == 3


def test_without_grid_one_run_named_after_the_experiment_with_the_default_spec(client):
    experiment = make_experiment(client, name="baseline")

    assert [r["name"] for r in experiment["runs"]] == ["baseline"]
    run = client.get(f"/api/runs/{experiment['runs'][0]['id']}").json()
    assert run["spec"] == default_spec()


def test_object_grid_values_replace_the_schedule_and_name_it(client):
    schedules = [{"name": "constant"}, {"name": "exponential", "s": 20}]
    experiment = make_experiment(client, grid={"schedule": schedules, "training.seed": [1]})

    assert [r["name"] for r in experiment["runs"]] == ["schedule=constant", "schedule=exponential(s=20)"]


def test_warnings_are_deduplicated_across_runs(client):
    experiment = make_experiment(
        client, base={"regularization": {"dropout_kind": "alpha"}}, grid={"training.seed": [1, 2, 3]}
    )

    assert len(experiment["warnings"]) == 1
    assert "selu" in experiment["warnings"][0].lower()


def test_invalid_base_field_names_the_path_and_the_range(client):
    response = client.post("/api/experiments", json={"name": "x", "base": {"regularization": {"dropout": 1.5}}})

    assert errors_by_field(response) == {"base.regularization.dropout": "must be ≥ 0 and < 1, got 1.5"}


def test_invalid_grid_value_names_the_grid_key_and_value(client):
    response = client.post(
        "/api/experiments", json={"name": "x", "grid": {"regularization.dropout": [0.1, 2], "training.seed": [1, 2]}}
    )

    errors = errors_by_field(response)
    assert list(errors) == ["grid.regularization.dropout"]
    assert "2" in errors["grid.regularization.dropout"] and "< 1" in errors["grid.regularization.dropout"]


def test_unknown_grid_path_and_cross_field_errors(client):
    unknown = client.post("/api/experiments", json={"name": "x", "grid": {"regularization.dropuot": [0.1]}})
    cross = client.post("/api/experiments", json={"name": "x", "grid": {"dataset.name": ["mnist", "digits"]}})

    assert "grid.regularization.dropuot" in errors_by_field(unknown)
    message = errors_by_field(cross)["grid.dataset.name"]
    assert '"digits"' in message and "1437" in message


def test_grid_larger_than_the_limit_says_the_product_and_the_limit(client):
    grid = {"training.seed": list(range(100)), "regularization.dropout": [0.0, 0.1, 0.2]}

    message = errors_by_field(client.post("/api/experiments", json={"name": "x", "grid": grid}))["grid"]

    assert "100 × 3 = 300" in message and "256" in message


def test_epochs_above_the_server_limit(client, monkeypatch):
    from backend.settings import get_settings

    monkeypatch.setenv("REGLAB_MAX_EPOCHS", "50")
    get_settings.cache_clear()
    response = client.post("/api/experiments", json={"name": "x", "base": {"training": {"epochs": 60}}})

    assert "≤ 50" in errors_by_field(response)["base.training.epochs"]


def test_body_bounds(client):
    body = {"name": "", "tags": ["t"] * 33, "description": "d" * 10_001, "grid": {f"k{i}": [1] for i in range(17)}}

    errors = errors_by_field(client.post("/api/experiments", json=body))

    assert set(errors) == {"name", "tags", "description", "grid"}
    assert "200 characters" in errors["name"] and "32 items" in errors["tags"]


def test_list_get_and_delete(client):
    first = make_experiment(client, name="first", tags=["a"])
    second = make_experiment(client, name="second", grid={"training.seed": [1, 2]})

    page = client.get("/api/experiments").json()
    assert [e["name"] for e in page["items"]] == ["second", "first"]
    assert page["items"][0]["run_count"] == 2 and page["items"][0]["states"] == {"queued": 2}
    assert [e["id"] for e in client.get("/api/experiments?tag=a").json()["items"]] == [first["id"]]
    assert client.get(f"/api/experiments/{second['id']}").json()["runs"][1]["name"] == "seed=2"

    assert client.delete(f"/api/experiments/{second['id']}").status_code == 204
    assert client.get(f"/api/experiments/{second['id']}").status_code == 404
    assert client.get(f"/api/runs/{second['runs'][0]['id']}").status_code == 404
    assert client.get("/api/experiments").json()["total"] == 1


def test_missing_experiment_is_a_404_naming_the_id(client):
    response = client.get("/api/experiments/4242")

    assert response.status_code == 404
    assert response.json() == {"detail": "experiment 4242 not found"}
    assert client.delete("/api/experiments/4242").status_code == 404
