"""The ingest fast path's bulk check accepts only what PointIn accepts, and reads it as PointIn does."""

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from backend.metrics.batch import Batch, checked
from backend.metrics.schemas import PointsIn

# Each field: typical values and the edges PointIn refuses (bools, strings, floats for x, out of range, bad names).
names = st.sampled_from(["loss", "val_accuracy", "a/b@c:1+2-3.x", "", "x" * 65, "bad name", "loss\n", 3, None])
axes = st.sampled_from(["epoch", "step", "time", "", None, 1])
xs = st.one_of(st.integers(-2, 2**31 + 1), st.sampled_from([0.0, 1.5, True, "3", None]))
values = st.one_of(st.none(), st.floats(allow_nan=False), st.integers(-10, 10), st.sampled_from([False, "1", [1]]))
ts = st.one_of(st.none(), st.floats(-1, 2e9, allow_nan=False), st.integers(-5, 5), st.sampled_from([True, "0"]))
point = st.fixed_dictionaries(
    {"name": names, "x": xs},
    optional={"axis": axes, "value": values, "t": ts, "extra": st.just(1)},
)


def pydantic_columns(points) -> Batch | None:
    try:
        return Batch.of(PointsIn.model_validate({"points": points}).model_dump()["points"])
    except ValidationError:
        return None


@settings(max_examples=400, deadline=None)
@given(st.lists(point, max_size=6))
def test_accepts_nothing_pointin_refuses_and_reads_what_it_accepts_alike(points):
    # Through JSON, as a request body arrives.
    points = orjson.loads(orjson.dumps(points))
    fast, reference = checked(points), pydantic_columns(points)

    if fast is not None:
        assert reference is not None, points
        assert fast == reference


@pytest.mark.parametrize(
    "points",
    [
        [{"name": "loss", "axis": "epoch", "x": 3, "value": 0.5, "t": 12.0}],
        [{"name": "loss", "x": 3}],  # axis, value and t left out
        [{"name": "batch_loss", "axis": "step", "x": s, "value": 1.0} for s in range(1000)],
        [{"name": "loss", "axis": "epoch", "x": 0, "value": None, "t": None}, {"name": "lr", "axis": "step", "x": 9, "value": 1}],
        [],
    ],
)
def test_what_workers_send_takes_the_fast_path(points):
    assert checked(points) == pydantic_columns(points)


def test_a_bool_where_a_number_goes_is_left_to_the_route():
    assert checked([{"name": "loss", "x": True}]) is None
    assert checked([{"name": "loss", "x": 1, "value": False}]) is None
    assert checked([{"name": "loss", "x": 1, "unknown": 1}]) is None


@pytest.mark.parametrize("t", [-0.5, 1e9 + 1, float("inf")])
def test_a_time_out_of_pointin_range_is_left_to_the_route(t):
    assert checked([{"name": "loss", "x": 1, "t": t}]) is None
    assert pydantic_columns([{"name": "loss", "x": 1, "t": t}]) is None
