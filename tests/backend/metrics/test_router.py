"""Writing and reading a run's series through the real app."""

import sqlite3
import threading
import time

import orjson
import pytest

from tests.backend.helpers import errors_by_field, make_experiment


def _points(epochs, names=("loss", "val_loss")):
    return [
        {"name": name, "axis": "epoch", "x": epoch, "value": 1.0 / (epoch + 1), "t": epoch * 2.0}
        for epoch in epochs
        for name in names
    ]


def test_the_same_batch_twice_stores_each_point_once(client):
    run_id = make_experiment(client)["runs"][0]["id"]
    batch = {"points": _points(range(3))}

    assert client.post(f"/api/runs/{run_id}/metrics", json=batch).json() == {"run_id": run_id, "written": 6}
    client.post(f"/api/runs/{run_id}/metrics", json=batch)

    series = client.get(f"/api/runs/{run_id}/metrics").json()["series"]
    assert series["loss"] == {"axis": "epoch", "x": [0, 1, 2], "y": [1.0, 0.5, 1 / 3], "t": [0.0, 2.0, 4.0]}
    assert set(series) == {"loss", "val_loss"}


def test_a_retried_point_overwrites_its_value(client):
    run_id = make_experiment(client)["runs"][0]["id"]
    client.post(f"/api/runs/{run_id}/metrics", json={"points": [{"name": "loss", "x": 0, "value": 9.0}]})
    client.post(f"/api/runs/{run_id}/metrics", json={"points": [{"name": "loss", "x": 0, "value": 1.0}]})

    assert client.get(f"/api/runs/{run_id}/metrics").json()["series"]["loss"]["y"] == [1.0]


def test_names_filter_and_both_axes(client):
    run_id = make_experiment(client)["runs"][0]["id"]
    steps = [{"name": "loss", "axis": "step", "x": s, "value": 2.0} for s in range(5)]
    client.post(f"/api/runs/{run_id}/metrics", json={"points": _points(range(2)) + steps})

    series = client.get(f"/api/runs/{run_id}/metrics?names=loss").json()["series"]

    assert set(series) == {"loss", "loss@step"}
    assert series["loss"]["axis"] == "epoch" and series["loss@step"]["x"] == [0, 1, 2, 3, 4]


def test_long_step_series_are_downsampled_on_the_server_and_keep_spikes(client):
    run_id = make_experiment(client)["runs"][0]["id"]
    values = [1.0] * 5_000
    values[1234] = 80.0
    points = [{"name": "batch_loss", "axis": "step", "x": i, "value": v} for i, v in enumerate(values)]
    client.post(f"/api/runs/{run_id}/metrics", json={"points": points})

    series = client.get(f"/api/runs/{run_id}/metrics?max_points=100").json()["series"]["batch_loss"]

    assert len(series["x"]) <= 100 and series["x"][0] == 0 and series["x"][-1] == 4_999
    assert 80.0 in series["y"] and 1234 in series["x"]


def test_bad_points_are_422_with_the_field_path(client):
    run_id = make_experiment(client)["runs"][0]["id"]

    response = client.post(
        f"/api/runs/{run_id}/metrics",
        json={"points": [{"name": "loss", "x": -1}, {"name": "", "axis": "time", "x": 0}]},
    )

    errors = errors_by_field(response)
    assert "≥ 0" in errors["points.0.x"]
    assert "epoch" in errors["points.1.axis"] and "points.1.name" in errors
    assert client.get(f"/api/runs/{run_id}/metrics?max_points=5").status_code == 422


def test_points_for_a_missing_run_are_a_404_naming_it(client):
    response = client.post("/api/runs/777/metrics", json={"points": [{"name": "loss", "x": 0, "value": 1.0}]})

    assert response.status_code == 404
    assert response.json() == {"detail": "run 777 not found"}


def test_nan_and_null_values_come_back_as_null(client):
    run_id = make_experiment(client)["runs"][0]["id"]
    body = b'{"points": [{"name": "loss", "x": 0, "value": NaN}, {"name": "loss", "x": 1, "value": null}]}'
    client.post(f"/api/runs/{run_id}/metrics", content=body, headers={"content-type": "application/json"})

    assert client.get(f"/api/runs/{run_id}/metrics").json()["series"]["loss"]["y"] == [None, None]


def test_a_zoom_window_comes_at_full_resolution_on_the_run_and_compare_reads(client):
    runs = make_experiment(client, grid={"training.seed": [1, 2]})["runs"]
    ids = [run["id"] for run in runs]
    for run_id in ids:
        points = [{"name": "batch_loss", "axis": "step", "x": i, "value": (i % 7) / 7} for i in range(30_000)]
        assert client.post(f"/api/runs/{run_id}/metrics", json={"points": points}).status_code == 200

    zoomed_out = client.get(f"/api/runs/{ids[0]}/metrics?max_points=200").json()["series"]["batch_loss"]
    window = client.get(f"/api/runs/{ids[0]}/metrics?max_points=200&x_min=12000&x_max=12150").json()["series"]
    compared = client.get(f"/api/compare?run_ids={ids[0]},{ids[1]}&max_points=200&x_min=12000&x_max=12150").json()

    assert len(zoomed_out["x"]) <= 200 and zoomed_out["x"][-1] == 29_999
    assert window["batch_loss"]["x"] == list(range(12_000, 12_151))
    for run_id in ids:
        assert compared["series"][str(run_id)]["batch_loss"]["x"] == list(range(12_000, 12_151))


def test_a_window_ending_before_it_starts_is_a_422_naming_x_max(client):
    run_id = make_experiment(client)["runs"][0]["id"]

    for url in (f"/api/runs/{run_id}/metrics?x_min=50&x_max=10", f"/api/compare?run_ids={run_id}&x_min=50&x_max=10"):
        assert "[50, 2147483647]" in errors_by_field(client.get(url))["x_max"]
    assert "≥ 0" in errors_by_field(client.get(f"/api/runs/{run_id}/metrics?x_min=-1"))["x_min"]


def test_the_fast_path_answers_as_the_declared_route(client):
    # A content type with a charset is left to the declared route; the plain one takes the fast path.
    run_id = make_experiment(client)["runs"][0]["id"]
    answers = []
    for content_type in ("application/json", "application/json; charset=utf-8"):
        headers = {"content-type": content_type}
        for url, points in ((f"/api/runs/{run_id}/metrics", _points(range(2))), ("/api/runs/777/metrics", _points([0]))):
            response = client.post(url, content=orjson.dumps({"points": points}), headers=headers)
            answers.append((response.status_code, response.json()))

    fast, declared = answers[:2], answers[2:]
    assert fast == declared == [(200, {"run_id": run_id, "written": 4}), (404, {"detail": "run 777 not found"})]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_batch_sent_while_another_writer_holds_sqlite_waits_for_it_and_is_stored(client, database_url):
    run_id = make_experiment(client)["runs"][0]["id"]
    holder = sqlite3.connect(database_url.removeprefix("sqlite:///"), isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")
    release = threading.Timer(0.5, lambda: holder.execute("COMMIT"))
    release.start()
    sent = time.monotonic()
    response = client.post(f"/api/runs/{run_id}/metrics", json={"points": _points(range(3))})
    waited = time.monotonic() - sent
    release.join()
    holder.close()

    assert response.status_code == 200 and response.json() == {"run_id": run_id, "written": 6}
    assert waited >= 0.4  # not written on the event loop past the lock: in a thread, once it was free
    assert client.get(f"/api/runs/{run_id}/metrics").json()["series"]["loss"]["x"] == [0, 1, 2]


def test_only_small_batches_are_tried_on_the_event_loop():
    from backend.metrics.router import LOOP_POINTS, post_metrics_fast

    small = post_metrics_fast(1, {"points": _points(range(3))})
    large = post_metrics_fast(1, {"points": _points(range(LOOP_POINTS // 2 + 1))})

    assert small.now is not None and large.now is None  # a large one would hold every other request
