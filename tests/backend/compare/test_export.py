"""GET /api/compare/csv: every stored point, formula-like text quoted."""

import csv
import io

import pytest

from backend.compare.export import csv_cell
from tests.backend.helpers import errors_by_field, make_experiment


def rows_of(response):
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    return list(csv.DictReader(io.StringIO(response.text)))


def test_every_point_is_exported_not_the_downsample(client):
    run_id = make_experiment(client)["runs"][0]["id"]
    steps = [{"name": "batch_loss", "axis": "step", "x": x, "value": (x % 7) / 7, "t": x / 10} for x in range(2500)]
    epochs = [{"name": "loss", "x": e, "value": 1 / (e + 1)} for e in range(3)]
    client.post(f"/api/runs/{run_id}/metrics", json={"points": steps + epochs})

    shown = client.get("/api/compare", params={"run_ids": run_id}).json()["series"][str(run_id)]["batch_loss"]
    rows = rows_of(client.get("/api/compare/csv", params={"run_ids": run_id}))

    assert len(shown["x"]) <= 1000
    step_rows = [r for r in rows if r["metric"] == "batch_loss"]
    assert [int(r["x"]) for r in step_rows] == list(range(2500))
    assert {r["axis"] for r in step_rows} == {"step"}
    assert float(step_rows[13]["value"]) == pytest.approx(6 / 7) and float(step_rows[13]["t"]) == pytest.approx(1.3)
    assert [r["value"] for r in rows if r["metric"] == "loss"] == ["1.0", "0.5", "0.3333333333333333"]
    assert "attachment" in client.get("/api/compare/csv", params={"run_ids": run_id}).headers["content-disposition"]


@pytest.mark.parametrize("name", ["=HYPERLINK(\"http://evil\",\"x\")", "+1+2", "-2+3", "@SUM(A1)"])
def test_formula_like_text_is_quoted(client, name):
    # A spreadsheet would run these cells as formulas.
    run_id = make_experiment(client, name=name)["runs"][0]["id"]
    client.post(f"/api/runs/{run_id}/metrics", json={"points": [{"name": "@loss", "x": 0, "value": -0.5}]})

    [row] = rows_of(client.get("/api/compare/csv", params={"run_ids": run_id}))

    assert row["run_name"] == "'" + name
    assert row["metric"] == "'@loss"
    # Numbers stay numbers: a negative value is not text a person typed.
    assert row["value"] == "-0.5"


def test_csv_cell():
    assert csv_cell("=1") == "'=1" and csv_cell("\tx") == "'\tx" and csv_cell("a=1") == "a=1"
    assert csv_cell(None) == "" and csv_cell(-1.5) == -1.5


def test_bad_or_missing_runs(client):
    assert "run_ids" in errors_by_field(client.get("/api/compare/csv", params={"run_ids": "1,\uff12"}))
    response = client.get("/api/compare/csv", params={"run_ids": "9999"})
    assert response.status_code == 404 and response.json() == {"detail": "run 9999 not found"}


def test_arrow_export_reads_back_as_the_stored_points(client):
    import numpy as np
    import pyarrow as pa

    from backend.db import session_scope
    from backend.metrics.service import read_series

    first, second = (run["id"] for run in make_experiment(client, grid={"training.seed": [1, 2]})["runs"])
    steps = [{"name": "loss", "axis": "step", "x": x, "value": np.sin(x) * 3.3, "t": x / 7} for x in range(1500)]
    epochs = [{"name": "loss", "x": e, "value": 1 / (e + 3)} for e in range(4)]  # loss on both axes
    untimed = [{"name": "accuracy", "x": e, "value": e / 10} for e in range(2)]  # no t: a null
    client.post(f"/api/runs/{first}/metrics", json={"points": steps + epochs + untimed})
    client.post(f"/api/runs/{second}/metrics", json={"points": [{"name": "val_loss", "x": 0, "value": 2.5, "t": 1.0}]})

    response = client.get("/api/compare/export", params={"run_ids": f"{first},{second}", "format": "arrow"})

    assert response.status_code == 200 and response.headers["content-type"] == "application/vnd.apache.arrow.stream"
    table = pa.ipc.open_stream(response.content).read_all()
    got = {}
    for row in table.to_pylist():
        got.setdefault((row["run_id"], row["metric"], row["axis"]), []).append((row["x"], row["value"], row["t"]))
    with session_scope() as session:
        stored = read_series(session, [first, second])
    expected = {}
    for run_id, series in stored.items():
        for key, data in series.items():
            # Values travel as float32, the compact form the issue asks for: equal to the stored value in float32.
            values = [float(np.float32(y)) for y in data["y"]]
            expected[(run_id, key.removesuffix("@step"), data["axis"])] = list(zip(data["x"], values, data["t"], strict=True))
    assert got == expected
    assert len(got[(first, "loss", "step")]) == 1500 and got[(first, "accuracy", "epoch")][0][2] is None
    assert table.schema.field("value").type == pa.float32() and table.schema.field("x").type == pa.int64()


def test_export_formats_and_errors(client):
    run_id = make_experiment(client)["runs"][0]["id"]
    client.post(f"/api/runs/{run_id}/metrics", json={"points": [{"name": "loss", "x": 0, "value": 0.5}]})

    as_csv = client.get("/api/compare/export", params={"run_ids": run_id, "format": "csv"})
    bad = client.get("/api/compare/export", params={"run_ids": run_id, "format": "parquet"})
    missing = client.get("/api/compare/export", params={"run_ids": "9999"})

    assert rows_of(as_csv)[0]["value"] == "0.5"
    assert "arrow" in errors_by_field(bad)["format"] and "csv" in errors_by_field(bad)["format"]
    assert missing.status_code == 404 and missing.json() == {"detail": "run 9999 not found"}
