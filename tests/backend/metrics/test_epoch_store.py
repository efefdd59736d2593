"""Epoch series through the metric_series table on SQLite and PostgreSQL: any batches read back as a dict model."""

import math

import numpy as np
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backend.analysis.dense import read_dense
from backend.metrics.epoch_store import drop_epochs_from
from backend.metrics.service import read_series, write_points
from tests.backend.metrics.helpers import new_run, race_writers


def same(a, b) -> bool:
    """Exact equality, NaN equal to NaN, None distinct from it."""
    if a is None or b is None:
        return a is b
    return (a != a and b != b) or a == b


values = st.one_of(st.none(), st.just(math.nan), st.just(math.inf), st.just(-math.inf), st.floats(allow_nan=False))
point = st.tuples(st.sampled_from(["loss", "val_accuracy", "sparsity"]), st.integers(0, 60), values,
                  st.one_of(st.none(), st.just(math.nan), st.floats(0, 1e6)))  # fmt: skip
batch = st.lists(point, max_size=40)
# A write (possibly a repeat of the last batch), or a resume that drops the epochs from e on.
operation = st.one_of(
    st.tuples(st.just("write"), batch), st.tuples(st.just("repeat"), st.none()), st.tuples(st.just("resume"), st.integers(0, 62))
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(operation, min_size=1, max_size=8))
def test_any_batches_read_back_as_a_dict_model(engine, operations):
    run_id = new_run(engine)
    model: dict[tuple[str, int], tuple] = {}
    last: list = []
    for kind, arg in operations:
        if kind == "resume":
            with engine.begin() as conn:
                drop_epochs_from(conn, run_id, arg)
            model = {key: v for key, v in model.items() if key[1] < arg}
            continue
        points = last if kind == "repeat" else arg
        last = points
        with engine.begin() as conn:
            write_points(conn, run_id, [{"name": n, "axis": "epoch", "x": x, "value": v, "t": t} for n, x, v, t in points])
        for n, x, v, t in points:
            model[(n, x)] = (v, t)
    with engine.connect() as conn:
        stored = read_series(conn, [run_id])[run_id]
        dense = read_dense(conn, [run_id])
    assert set(stored) == {n for n, _ in model}
    for name, data in stored.items():
        xs = sorted(x for n, x in model if n == name)
        assert data["axis"] == "epoch" and data["x"] == xs
        for x, y, t in zip(data["x"], data["y"], data["t"], strict=True):
            assert same(y, model[(name, x)][0]) and same(t, model[(name, x)][1]), (name, x, y, t, model[(name, x)])
    # The analysis' array: every finite value at its place, NaN elsewhere.
    for (name, x), (v, _) in model.items():
        got = dense.values[0, dense.names.index(name), int(np.searchsorted(dense.x, x))]
        assert same(float(got), v if v is not None and math.isfinite(v) else math.nan)


def test_racing_writers_of_one_series_lose_no_point(engine):
    run_id = new_run(engine)
    race_writers(engine, run_id, lambda k: [{"name": "loss", "x": x, "value": float(x)} for x in range(k, 200, 8)])
    with engine.connect() as conn:
        series = read_series(conn, [run_id])[run_id]["loss"]
    assert series["x"] == list(range(200)) and series["y"] == [float(x) for x in range(200)]


def test_one_row_per_series_and_one_query_for_the_analysis(engine):
    runs = [new_run(engine) for _ in range(3)]
    with engine.begin() as conn:
        for run_id in runs:
            write_points(conn, run_id, [{"name": m, "x": e, "value": e / 10} for e in range(50) for m in ("loss", "acc")])
        assert conn.execute(sa.text("SELECT count(*) FROM metric_series")).scalar() == 6
    statements = []
    sa.event.listen(engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    with engine.connect() as conn:
        dense = read_dense(conn, runs)
    assert len(statements) == 1
    assert dense.values.shape == (3, 2, 50) and dense.values[2, dense.names.index("loss"), 49] == 4.9


def test_the_analysis_array_of_a_study_with_runs_of_different_lengths(engine):
    # Runs stopped early, an epoch skipped and a logged infinity: each series' epochs
    # placed among the study's, NaN where a run has no value (read by experiment too).
    runs = [new_run(engine) for _ in range(3)]
    epochs = {runs[0]: range(5), runs[1]: range(3), runs[2]: [0, 2, 4]}
    with engine.begin() as conn:
        for run_id, xs in epochs.items():
            write_points(conn, run_id, [{"name": m, "x": e, "value": run_id + e / 10} for e in xs for m in ("loss", "acc")])
        write_points(conn, runs[1], [{"name": "acc", "x": 1, "value": math.inf}])
        experiment_id = conn.scalar(sa.text("SELECT experiment_id FROM runs WHERE id = :r"), {"r": runs[0]})
    with engine.connect() as conn:
        by_ids = read_dense(conn, runs)
        by_experiment = read_dense(conn, runs, experiment_id=experiment_id, names=["loss", "acc"])
    for dense in (by_ids, by_experiment):
        assert dense.x.tolist() == [0, 1, 2, 3, 4] and dense.names == ["acc", "loss"]
        for row, run_id in enumerate(runs):
            for name in ("acc", "loss"):
                expected = [run_id + e / 10 if e in epochs[run_id] else math.nan for e in range(5)]
                if run_id == runs[1] and name == "acc":
                    expected[1] = math.nan  # infinity counts as no value
                got = dense.values[row, dense.names.index(name)].tolist()
                assert all(same(a, b) for a, b in zip(got, expected, strict=True)), (run_id, name, got)


def test_a_series_of_n_epochs_ending_at_n_minus_1_but_not_from_0_keeps_its_epochs(engine):
    # Epochs 0..n-1 are not read (n and the last say so), but only when the first is 0: these
    # three end at 2 and start at -1 (written directly; the API takes no negative epoch).
    run_id = new_run(engine)
    with engine.begin() as conn:
        write_points(conn, run_id, [{"name": "loss", "x": x, "value": x / 2} for x in (-1, 1, 2)])
        write_points(conn, run_id, [{"name": "acc", "x": x, "value": x / 4} for x in (0, 1, 2)])
    with engine.connect() as conn:
        dense = read_dense(conn, [run_id])
    assert dense.x.tolist() == [-1, 0, 1, 2] and dense.names == ["acc", "loss"]
    got = dense.values[0].tolist()
    assert all(same(a, b) for a, b in zip(got[0], [math.nan, 0.0, 0.25, 0.5], strict=True)), got
    assert all(same(a, b) for a, b in zip(got[1], [-0.5, math.nan, 0.5, 1.0], strict=True)), got
