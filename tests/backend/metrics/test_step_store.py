"""Step series through the metric_blocks table on SQLite and PostgreSQL: any batches read back as a dict model."""

import math

import numpy as np
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backend.metrics import blocks as B
from backend.metrics.service import read_series, write_points
from tests.backend.metrics.helpers import new_run, race_writers
from backend.metrics.step_store import drop_steps_from


def f32(value):
    """What a stored step value or t reads back as: float32, missing as None."""
    return None if value is None or value != value else float(np.float32(value))


values = st.one_of(st.none(), st.just(math.nan), st.floats(width=32, allow_nan=False, allow_infinity=False), st.floats(-10, 10))
point = st.tuples(st.sampled_from(["loss", "acc"]), st.integers(0, 4200), values, st.one_of(st.none(), st.floats(0, 1e6)))
batch = st.lists(point, max_size=120)
# A write (possibly a repeat of the last batch), or a resume that replaces what came after step s.
operation = st.one_of(
    st.tuples(st.just("write"), batch), st.tuples(st.just("repeat"), st.none()), st.tuples(st.just("resume"), st.integers(0, 4300))
)


def _check_downsampled(drawn, model_points, max_points):
    xs = sorted(model_points)
    assert len(drawn["x"]) <= max(max_points, len(xs))
    assert drawn["x"] == sorted(set(drawn["x"])) and set(drawn["x"]) <= set(xs)
    for x, y, t in zip(drawn["x"], drawn["y"], drawn["t"]):
        assert (y, t) == model_points[x]
    if len(xs) <= max_points:
        assert drawn["x"] == xs
        return
    assert drawn["x"][0] == xs[0] and drawn["x"][-1] == xs[-1]
    _, width = B.level(xs[-1] - xs[0] + 1, max_points)
    kept = set(zip(drawn["x"], [y for y in drawn["y"]]))
    buckets = {}
    for x in xs:
        buckets.setdefault(x // width, []).append(x)
    for members in buckets.values():
        valid = [model_points[x][0] for x in members if model_points[x][0] is not None]
        if valid:  # the bucket's min and max values are drawn, at one of their steps
            drawn_values = {y for x, y in kept if x in members}
            assert min(valid) in drawn_values and max(valid) in drawn_values


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(operation, min_size=1, max_size=6), st.sampled_from([10, 50, 1000]))
def test_any_batches_read_back_as_a_dict_model(engine, operations, max_points):
    run_id = new_run(engine)
    model: dict[tuple[str, int], tuple] = {}
    last: list = []
    for kind, arg in operations:
        if kind == "resume":
            with engine.begin() as conn:
                drop_steps_from(conn, run_id, arg)
            model = {key: v for key, v in model.items() if key[1] < arg}
            continue
        points = last if kind == "repeat" else arg
        last = points
        with engine.begin() as conn:
            write_points(conn, run_id, [{"name": n, "axis": "step", "x": x, "value": v, "t": t} for n, x, v, t in points])
        for n, x, v, t in points:
            model[(n, x)] = (f32(v), f32(t))
    with engine.connect() as conn:
        whole = read_series(conn, [run_id])[run_id]
        drawn = read_series(conn, [run_id], max_points=max_points)[run_id]
        window = read_series(conn, [run_id], x_min=1000, x_max=2100, max_points=max_points)[run_id]
    for name in ("loss", "acc"):
        series = {x: v for (n, x), v in model.items() if n == name}
        if not series:
            assert name not in whole and name not in drawn
            continue
        xs = sorted(series)
        assert whole[name] == {"axis": "step", "x": xs, "y": [series[x][0] for x in xs], "t": [series[x][1] for x in xs]}
        _check_downsampled(drawn[name], series, max_points)
        inside = {x: v for x, v in series.items() if 1000 <= x <= 2100}
        if inside:
            _check_downsampled(window[name], inside, max_points)
        else:
            assert name not in window


def test_a_spike_survives_at_every_zoom_level(engine):
    run_id = new_run(engine)
    y = np.cos(np.arange(60_000) / 300.0)
    y[43_210] = -500.0
    with engine.begin() as conn:
        write_points(conn, run_id, [{"name": "loss", "axis": "step", "x": i, "value": float(v), "t": i / 10} for i, v in enumerate(y)])
    with engine.connect() as conn:
        for max_points in (10, 100, 320, 1000, 10_000, 100_000):
            for x_min, x_max in ((None, None), (40_000, 50_000), (43_000, 43_500), (43_210, 43_210)):
                s = read_series(conn, [run_id], x_min=x_min, x_max=x_max, max_points=max_points)[run_id]["loss"]
                assert len(s["x"]) <= max_points
                assert -500.0 in s["y"] and s["x"][s["y"].index(-500.0)] == 43_210
                assert s["t"][s["y"].index(-500.0)] == f32(4321.0)
        narrow = read_series(conn, [run_id], x_min=1000, x_max=1499, max_points=1000)[run_id]["loss"]
        assert narrow["x"] == list(range(1000, 1500))  # full resolution inside a narrow window


def test_step_points_take_under_10_bytes_each_and_no_epoch_rows(engine):
    run_id = new_run(engine)
    with engine.begin() as conn:
        write_points(conn, run_id, [{"name": "loss", "axis": "step", "x": i, "value": i / 7, "t": i / 3} for i in range(10_240)])
        stored = conn.execute(sa.text("SELECT sum(length(vals) + length(ts) + length(present) + length(summary)) FROM metric_blocks")).scalar()
        assert conn.execute(sa.text("SELECT count(*) FROM metric_series")).scalar() == 0
        assert conn.execute(sa.text("SELECT count(*) FROM metric_blocks")).scalar() == -(-10_240 // B.BLOCK)
    assert stored / 10_240 <= 9.0


def test_racing_writers_of_one_block_lose_no_point(engine):
    run_id = new_run(engine)
    race_writers(engine, run_id, lambda k: [{"name": "loss", "axis": "step", "x": x, "value": 1.0} for x in range(k, 1000, 8)])
    with engine.connect() as conn:
        assert read_series(conn, [run_id])[run_id]["loss"]["x"] == list(range(1000))
