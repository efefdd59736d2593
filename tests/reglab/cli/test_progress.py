"""The progress bars of `reglab submit --wait` and study-file checks (no server)."""

import io

import pytest

from reglab.cli.errors import UsageError
from reglab.cli.main import main
from reglab.cli.progress import ProgressBoard, all_final, run_line
from reglab.cli.submit import load_study


def _run(**fields):
    return {"id": 7, "name": "kernel_l2=0.01", "state": "running", "epoch": 3, "epochs": 10, "summary": {}, **fields}


def test_run_line_shows_bar_epoch_state_and_accuracy():
    line = run_line(_run(summary={"best_val_accuracy": 0.9123}), name_width=16)
    assert line.startswith("#7     kernel_l2=0.01   [#######-----------------]   3/10  running")
    assert line.endswith("val_acc 0.912")
    assert "[" + "#" * 24 + "]" in run_line(_run(state="completed", epoch=10))
    assert "nan loss" in run_line(_run(state="diverged", error="nan loss at epoch 2\ntrace"))


def test_board_prints_only_changes_when_not_a_terminal():
    out = io.StringIO()
    board = ProgressBoard(out, interactive=False)
    board.update([_run()])
    board.update([_run()])
    board.update([_run(epoch=4)])
    assert len(out.getvalue().splitlines()) == 2


def test_board_redraws_in_place_on_a_terminal():
    out = io.StringIO()
    board = ProgressBoard(out, interactive=True)
    board.update([_run(), _run(id=8)])
    board.update([_run(epoch=4), _run(id=8)])
    # The second frame moves the cursor back up over the two lines of the first.
    assert out.getvalue().count("\x1b[2F") == 1
    assert out.getvalue().count("\x1b[2K") == 4


def test_all_final():
    assert all_final([_run(state="completed"), _run(state="cancelled")])
    assert not all_final([_run(state="completed"), _run(state="queued")])
    assert not all_final([])


def test_study_file_errors_name_the_problem(tmp_path):
    study = tmp_path / "study.yaml"
    study.write_text("name: s\nbase: {}\nruns: 3\n")
    with pytest.raises(UsageError, match=r"unknown key\(s\) \['runs'\]"):
        load_study(study)
    study.write_text("- a list\n")
    with pytest.raises(UsageError, match="must be a mapping"):
        load_study(study)
    study.write_text("base: {training: {epochs: 2}}\n")
    assert load_study(study)["name"] == "study"
    with pytest.raises(UsageError, match="cannot read"):
        load_study(tmp_path / "missing.yaml")


def test_usage_errors_exit_2(tmp_path, capsys):
    assert main(["submit", str(tmp_path / "missing.yaml"), "--url", "http://127.0.0.1:9"]) == 2
    assert "cannot read" in capsys.readouterr().err


def test_running_line_shows_time_left():
    assert run_line(_run(epoch_seconds=1.5)).endswith("ETA 10s")
    assert run_line(_run(epoch_seconds=100.0)).endswith("ETA 11m40s")
    assert "ETA" not in run_line(_run(state="completed", epoch=10, epoch_seconds=1.0))


def test_example_study_is_valid():
    from pathlib import Path

    from reglab.spec import build_spec, set_path

    study = load_study(Path(__file__).resolve().parents[3] / "examples/dropout_sweep.yaml")
    base = build_spec(study["base"]).model_dump(mode="json")
    for path, values in study["grid"].items():
        for value in values:
            build_spec(set_path(base, path, value))


def test_invalid_setting_is_named(monkeypatch, capsys):
    from backend.settings import get_settings

    monkeypatch.setenv("REGLAB_WORKER_CONCURRENCY", "0")
    get_settings.cache_clear()
    try:
        assert main(["ls"]) == 2
    finally:
        monkeypatch.delenv("REGLAB_WORKER_CONCURRENCY")
        get_settings.cache_clear()
    assert "REGLAB_WORKER_CONCURRENCY" in capsys.readouterr().err


def test_study_files_read_exponent_rates_as_numbers(tmp_path):
    # YAML 1.1 (PyYAML) reads 1e-3 as a string, which the API's strict spec refuses.
    study = tmp_path / "rates.yaml"
    study.write_text("name: rates\nbase: {optimizer: {learning_rate: 1e-3}}\ngrid: {regularization.kernel_l2: [0, 5E-4, -1e+1, 1.5e-2]}\n")

    data = load_study(study)

    assert data["base"]["optimizer"]["learning_rate"] == 0.001
    assert data["grid"]["regularization.kernel_l2"] == [0, 0.0005, -10.0, 0.015]
