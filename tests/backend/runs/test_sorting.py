"""GET /api/runs?sort=: ordered in SQL, runs without the value last."""

from tests.backend.helpers import errors_by_field, make_experiment, set_run


def test_runs_sort_by_summary_values_and_columns(client):
    runs = make_experiment(client, grid={"training.seed": [1, 2, 3, 4]})["runs"]
    ids = [r["id"] for r in runs]
    set_run(ids[0], summary={"best_val_accuracy": 0.7, "test_accuracy": 0.9}, epoch_seconds=2.0)
    set_run(ids[1], summary={"best_val_accuracy": 0.9, "test_accuracy": 0.6}, epoch_seconds=1.0)
    set_run(ids[2], summary={"best_val_accuracy": 0.8}, epoch_seconds=3.0)

    def order(sort):
        response = client.get("/api/runs", params={"sort": sort})
        assert response.status_code == 200, response.text
        return [item["id"] for item in response.json()["items"]]

    assert order("-best_val_accuracy") == [ids[1], ids[2], ids[0], ids[3]]
    assert order("best_val_accuracy") == [ids[0], ids[2], ids[1], ids[3]]
    assert order("-test_accuracy") == [ids[0], ids[1], ids[3], ids[2]]
    assert order("epoch_time") == [ids[1], ids[0], ids[2], ids[3]]
    assert order("created") == ids and order("-created") == ids[::-1]
    assert "sort" in errors_by_field(client.get("/api/runs?sort=loss"))
