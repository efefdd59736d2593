"""GET /api/compare through the real app."""

import pytest

from tests.backend.helpers import errors_by_field, make_experiment, set_run


def test_one_response_with_runs_series_and_only_the_differing_params(client):
    grid = {"regularization.kernel_l2": [0, 0.01], "schedule": [{"name": "constant"}, {"name": "exponential", "s": 5}]}
    runs = make_experiment(client, grid=grid)["runs"]
    ids = [r["id"] for r in runs[:3]]
    for run_id in ids:
        points = [{"name": n, "x": e, "value": run_id + e} for n in ("loss", "val_loss", "accuracy") for e in range(4)]
        client.post(f"/api/runs/{run_id}/metrics", json={"points": points})
    set_run(ids[0], summary={"best_val_loss": 0.3})

    body = client.get(f"/api/compare?run_ids={','.join(map(str, ids))}&names=loss,val_loss").json()

    assert [r["id"] for r in body["runs"]] == ids
    assert body["runs"][0]["summary"] == {"best_val_loss": 0.3}
    assert {"name", "state", "experiment_id", "epoch", "epochs"} <= set(body["runs"][0])
    assert set(body["series"]) == {str(i) for i in ids}
    assert set(body["series"][str(ids[2])]) == {"loss", "val_loss"}
    assert body["series"][str(ids[2])]["loss"]["y"] == [ids[2] + e for e in range(4)]
    diff = body["params_diff"]
    assert set(diff) == {"regularization.kernel_l2", "schedule.name", "schedule.s", "schedule.per"}
    assert diff["regularization.kernel_l2"] == {str(ids[0]): 0.0, str(ids[1]): 0.01, str(ids[2]): 0.0}
    assert diff["schedule.s"][str(ids[0])] is None and diff["schedule.s"][str(ids[2])] == 5.0


def test_missing_runs_are_named_in_the_404(client):
    run_id = make_experiment(client)["runs"][0]["id"]

    response = client.get(f"/api/compare?run_ids={run_id},9998,9999")

    assert response.status_code == 404
    assert response.json() == {"detail": "runs 9998, 9999 not found"}


def test_run_ids_are_bounded(client):
    too_many = ",".join(str(i) for i in range(1, 102))

    assert "at most 100" in errors_by_field(client.get(f"/api/compare?run_ids={too_many}"))["run_ids"]
    assert "run_ids" in errors_by_field(client.get("/api/compare?run_ids=1,x"))
    assert "run_ids" in errors_by_field(client.get("/api/compare"))


@pytest.mark.parametrize("run_ids", ["\u00b2", "1,\uff12", "\u0661", "1, 2", "1,,2", "0", "2147483648"])
def test_run_ids_are_ascii_digits_within_bounds(client, run_ids):
    # "²" passed str.isdigit and then failed int(): a 500; a fullwidth "２" was silently read as run 2.
    run_id = make_experiment(client, grid={"training.seed": [1, 2]})["runs"][0]["id"]

    response = client.get("/api/compare", params={"run_ids": run_ids.replace("1", str(run_id), 1)})

    assert "comma-separated run ids (ASCII digits, 1 to 2147483647)" in errors_by_field(response)["run_ids"]
