"""Min-max downsampling keeps spikes, order and the ends (no database)."""

import math
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from backend.metrics.downsample import min_max_indices


def test_short_series_are_untouched():
    assert min_max_indices([1.0, 2.0, 3.0], 10) == [0, 1, 2]


def test_spikes_survive_and_order_is_kept():
    rng = random.Random(0)
    y = [1.0 + rng.random() * 0.01 for _ in range(10_000)]
    y[4321], y[8765] = 50.0, -50.0

    x = min_max_indices(y, 100)
    ys = [y[i] for i in x]

    assert len(x) <= 100
    assert x == sorted(x) and x[0] == 0 and x[-1] == 9_999
    assert 4321 in x and 8765 in x
    assert max(ys) == 50.0 and min(ys) == -50.0


@pytest.mark.parametrize("n", [11, 101, 1_000, 12_345])
@pytest.mark.parametrize("max_points", [10, 11, 64, 1000])
def test_never_more_than_max_points(n, max_points):
    y = [math.sin(i / 7) for i in range(n)]

    indices = min_max_indices(y, max_points)

    assert len(indices) <= max_points
    assert indices == sorted(set(indices))


def test_missing_and_nan_values_never_hide_a_spike():
    y = [None, math.nan, 1.0, None, 9.0, math.nan, 1.0] * 100

    kept = [y[i] for i in min_max_indices(y, 20)]

    assert 9.0 in kept


@settings(max_examples=60, deadline=None)
@given(
    y=st.lists(st.floats(-1e6, 1e6, allow_nan=False) | st.none(), min_size=1, max_size=400),
    max_points=st.integers(4, 100),
)
def test_kept_points_hold_every_bucket_extreme(y, max_points):
    indices = min_max_indices(y, max_points)

    assert len(indices) == len(y) if len(y) <= max_points else len(indices) <= max_points
    assert indices == sorted(set(indices))
    values = [v for v in y if v is not None]
    if values and len(y) > max_points:
        kept = [y[i] for i in indices if y[i] is not None]
        assert max(values) in kept and min(values) in kept
