"""The `reglab` REST commands against a real API (and a real worker where runs must train).

The CLI only speaks REST, so one database is enough here: these tests run on
SQLite; the API's own tests cover PostgreSQL.
"""

import csv
import time

import httpx
import pytest
import yaml

from reglab.cli.main import main

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

TINY_BASE = {
    "dataset": {"name": "digits", "validation_samples": 200},
    "model": {"hidden_layers": [16]},
    "training": {"epochs": 2},
}


def _study(tmp_path, name="cli study", **fields):
    path = tmp_path / f"{name.replace(' ', '_')}.yaml"
    path.write_text(yaml.safe_dump({"name": name, "base": TINY_BASE, **fields}))
    return path


def _wait_state(url, run_id, states, timeout=120):
    deadline = time.monotonic() + timeout
    while True:
        run = httpx.get(f"{url}/api/runs/{run_id}", timeout=10).json()
        if run["state"] in states or time.monotonic() > deadline:
            return run
        time.sleep(0.3)


@pytest.mark.slow
def test_submit_wait_then_ls_show_compare_cancel(live_server, celery_worker, tmp_path, capsys):
    url = live_server
    study = _study(tmp_path, grid={"regularization.kernel_l2": [0.0, 0.01]}, tags=["cli"])

    assert main(["submit", str(study), "--wait", "--poll", "0.3", "--url", url]) == 0
    out = capsys.readouterr().out
    assert "2 run(s) queued" in out
    assert "[" + "#" * 24 + "]   2/2   completed" in out
    assert out.rstrip().endswith("2 completed")
    runs = httpx.get(f"{url}/api/runs", params={"limit": 10}, timeout=10).json()["items"]
    ids = sorted(run["id"] for run in runs)
    experiment_id = runs[0]["experiment_id"]

    assert main(["ls", "--experiment", str(experiment_id), "--url", url]) == 0
    listing = capsys.readouterr().out.splitlines()
    assert listing[0].split()[:4] == ["RUN", "EXP", "STATE", "EPOCH"]
    assert {line.split()[0] for line in listing[1:]} == {str(i) for i in ids}
    assert all(" completed " in line and " 2/2 " in line for line in listing[1:])

    assert main(["show", str(ids[1]), "--url", url]) == 0
    shown = capsys.readouterr().out
    assert "state" in shown and "completed" in shown
    assert "summary:" in shown and "best_val_accuracy" in shown
    assert "kernel_l2: 0.01" in shown

    csv_path = tmp_path / "compare.csv"
    assert main(["compare", *map(str, ids), "--csv", str(csv_path), "--url", url]) == 0
    table = capsys.readouterr().out
    assert "regularization.kernel_l2" in table.splitlines()[0]
    with open(csv_path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert set(rows[0]) == {"run_id", "run_name", "metric", "axis", "x", "value", "t"}
    for run_id in ids:
        expected = httpx.get(f"{url}/api/runs/{run_id}/metrics", params={"names": "val_loss"}, timeout=10).json()
        got = [r for r in rows if r["run_id"] == str(run_id) and r["metric"] == "val_loss"]
        assert [int(r["x"]) for r in got] == expected["series"]["val_loss"]["x"] == [0, 1]
        assert [float(r["value"]) for r in got] == pytest.approx(expected["series"]["val_loss"]["y"])
        assert {r["axis"] for r in got} == {"epoch"}

    # A long run, cancelled while it trains.
    long_study = _study(tmp_path, name="long", base={**TINY_BASE, "training": {"epochs": 500}})
    assert main(["submit", str(long_study), "--url", url]) == 0
    long_id = int(capsys.readouterr().out.split("#")[1].split()[0])
    assert _wait_state(url, long_id, {"running"})["state"] == "running"
    assert main(["cancel", str(long_id), "--url", url]) == 0
    assert capsys.readouterr().out.startswith(f"run {long_id}:")
    run = _wait_state(url, long_id, {"cancelled", "completed", "failed"}, timeout=60)
    assert run["state"] == "cancelled"
    assert run["epoch"] < 500


def test_submit_errors_and_cancel_queued(live_server, tmp_path, capsys):
    url = live_server
    bad = _study(tmp_path, name="bad", base={**TINY_BASE, "regularization": {"dropout": 1.5}})
    assert main(["submit", str(bad), "--url", url]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: POST /api/experiments -> 422")
    assert "regularization.dropout" in err

    # No worker here: the run waits in the queue until cancelled.
    assert main(["submit", str(_study(tmp_path)), "--url", url]) == 0
    run_id = int(capsys.readouterr().out.split("#")[1].split()[0])
    assert main(["ls", "--state", "queued", "--url", url]) == 0
    assert str(run_id) in capsys.readouterr().out
    assert main(["ls", "--filter", f"state = 'queued' and id = {run_id}", "--url", url]) == 0
    assert str(run_id) in capsys.readouterr().out
    assert main(["ls", "--filter", f"id = {run_id} and state != 'queued'", "--url", url]) == 0
    assert str(run_id) not in capsys.readouterr().out
    assert main(["ls", "--filter", "state >", "--url", url]) == 1
    assert "expected a value after '>'" in capsys.readouterr().err
    assert main(["cancel", str(run_id), "--url", url]) == 0
    assert capsys.readouterr().out.strip() == f"run {run_id}: cancelled"

    assert main(["show", "999999", "--url", url]) == 1
    assert "404" in capsys.readouterr().err


def test_compare_csv_has_every_point_and_no_formulas(live_server, tmp_path, capsys):
    url = live_server
    assert main(["submit", str(_study(tmp_path, name="=HYPERLINK(1)")), "--url", url]) == 0
    run_id = int(capsys.readouterr().out.split("#")[1].split()[0])
    # More step points than the comparison's 1000-point downsample keeps.
    points = [{"name": "batch_loss", "axis": "step", "x": x, "value": 1 / (x + 1)} for x in range(1500)]
    points.append({"name": "loss", "axis": "epoch", "x": 0, "value": 0.5})
    assert httpx.post(f"{url}/api/runs/{run_id}/metrics", json={"points": points}, timeout=10).status_code == 200

    csv_path = tmp_path / "every.csv"
    assert main(["compare", str(run_id), "--csv", str(csv_path), "--url", url]) == 0

    assert f"wrote 1501 point(s) to {csv_path}" in capsys.readouterr().out
    with open(csv_path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [int(r["x"]) for r in rows if r["metric"] == "batch_loss"] == list(range(1500))
    assert {r["run_name"] for r in rows} == {"'=HYPERLINK(1)"}


def test_compare_arrow_writes_every_point(live_server, tmp_path, capsys):
    import pyarrow as pa

    url = live_server
    assert main(["submit", str(_study(tmp_path, name="arrow")), "--url", url]) == 0
    run_id = int(capsys.readouterr().out.split("#")[1].split()[0])
    points = [{"name": "batch_loss", "axis": "step", "x": x, "value": x / 4} for x in range(1500)]
    assert httpx.post(f"{url}/api/runs/{run_id}/metrics", json={"points": points}, timeout=10).status_code == 200

    path = tmp_path / "every.arrows"
    assert main(["compare", str(run_id), "--arrow", str(path), "--url", url]) == 0

    assert f"wrote 1500 point(s) to {path}" in capsys.readouterr().out
    table = pa.ipc.open_stream(path.read_bytes()).read_all()
    assert table.column("x").to_pylist() == list(range(1500)) and table.column("value").to_pylist() == [x / 4 for x in range(1500)]
