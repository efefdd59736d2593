"""GET /api/experiments/{id}/analysis and GET /api/compare?group_by= through the real app, on seeded runs."""

import pytest

from backend.analysis.schemas import Analysis, ExperimentAnalysis
from tests.backend.helpers import errors_by_field, make_experiment, set_run

TINY = {"dataset": {"name": "digits", "validation_samples": 300, "train_samples": 200}, "training": {"epochs": 3}}
GRID = {"regularization.kernel_l1": [0, 0.01], "training.seed": [1, 2, 3]}
# seed -> (best_val_accuracy, last sparsity) of each condition.
PLAIN = {1: (0.80, 0.010), 2: (0.82, 0.020), 3: (0.81, 0.015)}
L1 = {1: (0.90, 0.50), 2: (0.91, 0.55), 3: (0.92, 0.60)}


def seed_study(client, **extra):
    study = make_experiment(client, base=TINY, grid=GRID, **extra)
    for run in study["runs"]:
        get = client.get(f"/api/runs/{run['id']}").json()["spec"]
        table = L1 if get["regularization"]["kernel_l1"] else PLAIN
        best, sparsity = table[get["training"]["seed"]]
        points = [
            {"name": name, "x": epoch, "value": value}
            for epoch in range(3)
            for name, value in (("val_accuracy", best - 0.1 * (2 - epoch)), ("sparsity", sparsity * (epoch + 1) / 3),
                                ("loss", 1.0 - 0.1 * epoch))
        ]
        assert client.post(f"/api/runs/{run['id']}/metrics", json={"points": points}).status_code < 300
        set_run(run["id"], state="completed", epoch=3, summary={"best_val_accuracy": best, "best_epoch": 2})
    return study


def test_groups_statistics_and_verdicts(client):
    study = seed_study(client)

    response = client.get(f"/api/experiments/{study['id']}/analysis?metric=final_sparsity&band=std")

    assert response.status_code == 200, response.text
    body = response.json()
    ExperimentAnalysis.model_validate(body)  # the declared response model describes the answer
    assert body["replicate_fields"] == ["training.seed"]
    assert body["factors"] == ["regularization.kernel_l1"]
    assert body["baseline"] == "kernel_l1=0.0"
    assert body["reason"] is None and body["running"] == 0 and body["run_count"] == 6
    groups = {g["label"]: g for g in body["groups"]}
    assert set(groups) == {"kernel_l1=0.0", "kernel_l1=0.01"}
    # Ranked by the chosen metric: the sparser group first.
    assert body["groups"][0]["label"] == "kernel_l1=0.01"
    plain, l1 = groups["kernel_l1=0.0"], groups["kernel_l1=0.01"]
    assert plain["n"] == l1["n"] == 3 and plain["key"] == {"regularization.kernel_l1": 0.0}
    assert plain["metrics"]["best_val_accuracy"]["mean"] == pytest.approx(0.81)
    assert l1["metrics"]["final_sparsity"]["mean"] == pytest.approx(0.55)
    assert l1["metrics"]["final_sparsity"]["std"] == pytest.approx(0.05)
    assert plain["vs_baseline"] == {}
    sparsity = l1["vs_baseline"]["final_sparsity"]
    assert sparsity["test"] == "paired" and sparsity["verdict"] == "higher" and sparsity["p_adjusted"] < 0.05
    assert sparsity["diff"] == pytest.approx(0.535)
    accuracy = l1["vs_baseline"]["best_val_accuracy"]
    assert accuracy["verdict"] == "better" and accuracy["diff"] == pytest.approx(0.10)
    assert "low power" in accuracy["reason"]
    band = body["series"]["kernel_l1=0.01"]["sparsity"]
    assert band["x"] == [0, 1, 2] and band["n"] == [3, 3, 3]
    assert band["mean"][2] == pytest.approx(0.55)
    assert band["hi"][2] - band["mean"][2] == pytest.approx(0.05)


def test_baseline_can_be_chosen_and_running_runs_are_counted(client):
    study = seed_study(client)
    set_run(study["runs"][0]["id"], state="running")

    body = client.get(f"/api/experiments/{study['id']}/analysis", params={"baseline": "kernel_l1=0.01"}).json()

    assert body["baseline"] == "kernel_l1=0.01" and body["running"] == 1
    plain = next(g for g in body["groups"] if g["label"] == "kernel_l1=0.0")
    assert plain["vs_baseline"]["best_val_accuracy"]["verdict"] == "worse"
    assert plain["vs_baseline"]["final_sparsity"]["verdict"] == "lower"


def test_bad_input_names_the_parameter(client):
    study = seed_study(client)
    url = f"/api/experiments/{study['id']}/analysis"

    assert "best_val_accuracy" in errors_by_field(client.get(url + "?metric=accuracyy"))["metric"]
    assert "kernel_l1=0.0" in errors_by_field(client.get(url + "?baseline=dropout%3D0.5"))["baseline"]
    assert "band" in errors_by_field(client.get(url + "?band=iqr"))
    ids = ",".join(str(r["id"]) for r in study["runs"])
    assert "regularization.nope" in errors_by_field(client.get(f"/api/compare?run_ids={ids}&group_by=regularization.nope"))["group_by"]
    assert "metric" in errors_by_field(client.get(f"/api/compare?run_ids={ids}&group_by=auto&metric=x"))
    assert client.get("/api/experiments/999999/analysis").status_code == 404


def test_one_run_has_nothing_to_compare(client):
    study = make_experiment(client, base=TINY)

    response = client.get(f"/api/experiments/{study['id']}/analysis")

    assert response.status_code == 200
    body = response.json()
    ExperimentAnalysis.model_validate(body)
    assert body["reason"].startswith("nothing to compare")
    assert len(body["groups"]) == 1 and body["groups"][0]["n"] == 1
    assert body["groups"][0]["metrics"]["best_val_accuracy"]["n"] == 0


def test_replicate_fields_are_validated_stored_and_used(client):
    bad = client.post("/api/experiments", json={"name": "x", "base": TINY, "replicates": ["training.sed"]})
    assert "training.sed" in errors_by_field(bad)["replicates.0"]

    grid = {"training.seed": [1, 2], "dataset.validation_samples": [300, 400]}
    study = make_experiment(client, base=TINY, grid=grid, replicates=["training.seed", "dataset.validation_samples"])
    assert study["replicates"] == ["training.seed", "dataset.validation_samples"]
    body = client.get(f"/api/experiments/{study['id']}/analysis").json()
    assert body["factors"] == [] and len(body["groups"]) == 1 and body["groups"][0]["n"] == 4
    assert body["reason"].startswith("nothing to compare")


def test_compare_groups_any_runs(client):
    study = seed_study(client)
    ids = ",".join(str(r["id"]) for r in study["runs"])

    plain = client.get(f"/api/compare?run_ids={ids}").json()
    assert "analysis" not in plain
    auto = client.get(f"/api/compare?run_ids={ids}&group_by=auto&metric=final_sparsity").json()
    Analysis.model_validate(auto["analysis"])
    assert [g["label"] for g in auto["analysis"]["groups"]] == ["kernel_l1=0.01", "kernel_l1=0.0"]
    assert set(auto["series"]) == {str(r["id"]) for r in study["runs"]}
    by_seed = client.get(f"/api/compare?run_ids={ids}&group_by=training.seed").json()["analysis"]
    assert sorted(g["label"] for g in by_seed["groups"]) == ["seed=1", "seed=2", "seed=3"]
    assert all(g["n"] == 2 for g in by_seed["groups"])


def test_an_experiment_whose_runs_were_deleted_has_nothing_to_compare(client):
    study = make_experiment(client, base=TINY)
    assert client.delete(f"/api/runs/{study['runs'][0]['id']}").status_code == 204

    response = client.get(f"/api/experiments/{study['id']}/analysis")

    assert response.status_code == 200, response.text
    assert response.json()["reason"] == "nothing to compare: 0 runs" and response.json()["groups"] == []


def test_runs_without_points_count_with_what_they_have(client):
    study = make_experiment(client, base=TINY, grid={"regularization.kernel_l1": [0, 0.01]})
    first, second = (run["id"] for run in study["runs"])
    client.post(f"/api/runs/{first}/metrics", json={"points": [{"name": "val_accuracy", "x": 0, "value": 0.5}]})
    set_run(second, state="running")

    body = client.get(f"/api/experiments/{study['id']}/analysis").json()

    metrics = {g["label"]: g["metrics"]["best_val_accuracy"] for g in body["groups"]}
    assert metrics["kernel_l1=0.0"]["n"] == 1 and metrics["kernel_l1=0.0"]["mean"] == 0.5
    assert metrics["kernel_l1=0.01"]["n"] == 0 and body["running"] == 1
    l1 = next(g for g in body["groups"] if g["label"] == "kernel_l1=0.01")
    assert l1["vs_baseline"]["best_val_accuracy"]["reason"] == "no values to compare"


def test_infinite_values_count_as_missing(client):
    study = make_experiment(client, base=TINY, grid={"training.seed": [1, 2]})
    first, second = (run["id"] for run in study["runs"])
    body = '{"points": [{"name": "val_loss", "x": 0, "value": Infinity}, {"name": "val_loss", "x": 1, "value": 0.5}]}'
    stored = client.post(f"/api/runs/{first}/metrics", content=body, headers={"content-type": "application/json"})
    assert stored.status_code < 300, stored.text
    client.post(f"/api/runs/{second}/metrics", json={"points": [{"name": "val_loss", "x": 0, "value": 0.7}]})

    response = client.get(f"/api/experiments/{study['id']}/analysis", params={"band": "std"})

    assert response.status_code == 200, response.text
    band = response.json()["series"]["all runs"]["val_loss"]
    assert band["x"] == [0, 1] and band["n"] == [1, 1] and band["mean"] == [0.7, 0.5]


def test_the_series_read_beside_the_request_answers_as_a_read_on_one_connection(client):
    # A request reads the epoch series on a connection of its own while its session reads the runs;
    # a session bound to one connection (a caller's transaction) reads both on it. Same answer.
    import orjson
    from sqlalchemy.orm import Session

    from backend.analysis import service
    from backend.db import get_engine
    from backend.experiments.models import Experiment
    from backend.responses import dumps

    study = seed_study(client)
    over_http = client.get(f"/api/experiments/{study['id']}/analysis?metric=final_sparsity").json()
    assert service._beside(get_engine())
    with get_engine().connect() as connection:
        session = Session(bind=connection)
        assert not service._beside(session.get_bind())
        answer = service.experiment_analysis(session, session.get(Experiment, study["id"]), metric="final_sparsity",
                                             baseline=None, band="ci95")  # fmt: skip
    assert orjson.loads(dumps(answer)) == over_http
    assert over_http["series"]["kernel_l1=0.01"]["sparsity"]["n"] == [3, 3, 3]
