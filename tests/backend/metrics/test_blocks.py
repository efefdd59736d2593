"""Block encoding, merging and min/max level-of-detail bucketing as pure functions (no database)."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from backend.metrics import blocks as B


def _encode(x, y, t):
    """Points of one series as its encoded blocks (what write_steps stores)."""
    x = np.asarray(x, np.int64)
    ids, which = np.unique(x // B.BLOCK, return_inverse=True)
    values = np.full((len(ids), B.BLOCK), np.nan, "<f4")
    ts = np.full((len(ids), B.BLOCK), np.nan, "<f4")
    present = np.zeros((len(ids), B.BLOCK), bool)
    values[which, x % B.BLOCK] = y
    ts[which, x % B.BLOCK] = t
    present[which, x % B.BLOCK] = True
    return B.encode(ids, values, ts, present)


def _extremes(units, width):
    """Each bucket's min and max points alone, drawn as columns."""
    empty = np.empty(0, np.int64)
    return B.draw_many([(units, width, empty, empty.astype(float), empty.astype(float))])[0]


def _decode_all(rows):
    parts = [B.decode(r["vals"], r["ts"], r["present"]) for r in rows]
    x = np.concatenate([o + r["block"] * B.BLOCK for (o, _, _), r in zip(parts, rows)])
    return x, np.concatenate([v for _, v, _ in parts]), np.concatenate([t for _, _, t in parts])


def test_a_block_stores_only_its_dense_span_and_its_scalars():
    (row,) = _encode([3, 5, 9], [2.0, -1.0, np.nan], [0.5, 0.6, 0.7])
    assert len(row["vals"]) == 10 * 4 and len(row["ts"]) == 10 * 4  # float32 up to the last present step
    assert row["n"] == 3 and (row["first_x"], row["last_x"]) == (3, 9) and (row["lo"], row["hi"]) == (-1.0, 2.0)
    stats = np.frombuffer(row["stats"], B.STATS)[0]
    assert (stats["lo"], stats["lo_x"], stats["hi"], stats["hi_x"]) == (-1.0, 5, 2.0, 3)
    assert np.isnan(stats["last_y"])  # NaN is stored, and read back as missing


def test_a_block_of_missing_values_has_no_extremes_but_keeps_its_points():
    (row,) = _encode([1030, 1031], [np.nan, np.nan], [np.nan, 1.0])
    assert row["block"] == 1 and row["lo"] is None and row["hi"] is None
    assert np.frombuffer(row["stats"], B.STATS)[0]["lo_x"] == 1030
    x, y, t = _decode_all([row])
    assert x.tolist() == [1030, 1031] and np.isnan(y).all() and t[1] == 1.0


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 5000), min_size=1, max_size=300, unique=True), st.randoms(use_true_random=False))
def test_blocks_round_trip_every_point(xs, rng):
    y = np.array([rng.choice([np.nan, rng.uniform(-1e6, 1e6)]) for _ in xs], np.float32)
    t = np.array([rng.uniform(0, 1e5) for _ in xs], np.float32)
    x, y2, t2 = _decode_all(_encode(xs, y, t))
    order = np.argsort(xs)
    assert x.tolist() == sorted(xs)
    np.testing.assert_array_equal(y2, y[order])
    np.testing.assert_array_equal(t2, t[order])


@settings(max_examples=60, deadline=None)
@given(st.integers(2, 6000), st.sampled_from([B.SUB, 2 * B.SUB, 3 * B.SUB, B.BLOCK, 3 * B.BLOCK]), st.integers(0, 2**32))
def test_every_level_gives_each_bucket_the_min_and_max_of_its_points(n, width, seed):
    """Summaries and block scalars stand in for raw points: the same extremes per bucket."""
    rng = np.random.default_rng(seed)
    x = np.sort(rng.choice(n * 2, size=n, replace=False))
    y = rng.normal(size=n).astype(np.float32)
    y[rng.random(n) < 0.1] = np.nan
    t = x.astype(np.float32) / 10
    rows = _encode(x, y, t)
    by_points = _extremes(B.Units.points(*_decode_all(rows)), width)
    levels = [B.summary_units([r["block"] for r in rows], [r["summary"] for r in rows])]
    if width % B.BLOCK == 0:
        s = np.frombuffer(b"".join(r["stats"] for r in rows), B.STATS)
        start = np.array([r["block"] for r in rows]) * B.BLOCK
        levels.append(B.Units(start, s["lo_x"].astype(int), s["lo"], s["lo_t"], s["hi_x"].astype(int), s["hi"], s["hi_t"]))
    for units in levels:
        assert _extremes(units, width) == by_points


def test_each_bucket_keeps_its_min_and_max_and_an_isolated_spike_survives():
    x = np.arange(100_000)
    y = np.sin(x / 50).astype(np.float32)
    y[77_777] = 1e4
    t = np.zeros(len(x), np.float32)
    for max_points in (10, 32, 100, 320, 1000, 5000):
        unit, width = B.level(len(x), max_points)
        drawn = _extremes(B.Units.points(x, y, t), width)
        assert len(drawn["x"]) + 2 <= max_points
        assert 77_777 in drawn["x"]
        # Every bucket's min and max are among the drawn points.
        for start in range(0, len(x), width):
            part = y[start : start + width]
            assert {float(part.min()), float(part.max())} <= set(drawn["y"])


@pytest.mark.parametrize("span, max_points", [(20_000, 1000), (20_000, 320), (1_000_000, 1000), (50, 1000), (3000, 100)])
def test_the_level_fits_the_points_drawn(span, max_points):
    unit, width = B.level(span, max_points)
    assert width % unit == 0 and unit <= width
    buckets = -(-span // width) + 1  # one more from aligning buckets to multiples of the width
    assert 2 * buckets + 2 <= max_points or span <= max_points
