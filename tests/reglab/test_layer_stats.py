"""The pure helpers of reglab.layer_stats: histogram edges, quantiles, statistics of one array (numpy only)."""

import math

import numpy as np
import pytest

from reglab.layer_stats import (
    HIST_BINS,
    QUANTILE_POINTS,
    activation_stats,
    histogram,
    max_col_norm,
    quantiles,
    should_record,
    tensor_stats,
    weight_stats,
)

RNG = np.random.default_rng(0)
ARRAYS = {
    "mixed": RNG.normal(0, 0.05, size=(300, 100)),
    "positive": RNG.uniform(0, 3.7, size=1000),
    "negative": -RNG.exponential(0.01, size=(10, 10, 3)),
    "power_of_two_max": np.array([-0.5, 0.25, 0.125, 0.0]),
    "zeros": np.zeros(17),
    "tiny": RNG.normal(0, 1e-9, size=50),
    "float32": RNG.normal(0, 1, size=(64, 64)).astype("float32"),
}


def is_power_of_two(value: float) -> bool:
    mantissa, _ = math.frexp(value)
    return value > 0 and mantissa == 0.5


@pytest.mark.parametrize("name", sorted(ARRAYS))
def test_histogram_edges_follow_the_rule_and_count_every_value(name):
    values = ARRAYS[name]
    hist = histogram(values)
    edges, counts = np.array(hist["edges"]), np.array(hist["counts"])
    assert len(edges) == HIST_BINS + 1 and len(counts) == HIST_BINS
    widths = np.diff(edges)
    assert np.all(widths == widths[0]) and is_power_of_two(widths[0])
    assert 0.0 in edges
    assert counts.sum() == values.size
    # The range covers the values with a power-of-two bound, and no smaller one does.
    largest = np.abs(values).max()
    bound = max(abs(edges[0]), abs(edges[-1]))
    assert is_power_of_two(bound)
    assert (bound / 2 < largest <= bound) if largest > 0 else bound == 2.0**-20
    # One-sided when the values are: [0, m] with none negative, [-m, 0] with none positive.
    assert (edges[0] < 0) == (values.min() < 0)
    assert (edges[-1] > 0) == (values.max() > 0 or values.min() >= 0)
    # Counted independently, by numpy, on the same edges (left-closed bins, the last closed).
    expected, _ = np.histogram(np.asarray(values, dtype="float64"), bins=edges)
    assert counts.tolist() == expected.tolist()


def test_grids_of_two_tensors_nest():
    narrow = np.array(histogram(RNG.normal(0, 0.01, 500))["edges"])
    wide = np.array(histogram(RNG.normal(0, 3.0, 500))["edges"])
    assert np.diff(narrow)[0] < np.diff(wide)[0]
    # Every wide edge inside the narrow range is a narrow edge: each narrow bin lies inside one wide bin.
    inside = wide[(wide >= narrow[0]) & (wide <= narrow[-1])]
    assert set(inside) <= set(narrow)
    width = np.diff(wide)[0]
    for low, high in zip(narrow[:-1], narrow[1:]):
        assert math.floor(low / width) == math.ceil(high / width) - 1


def test_a_spike_at_zero_stays_on_its_side_of_the_zero_edge():
    # L1 leaves many weights a hair below or above 0; with range [-1, 1] they sit in the bins next to 0.
    values = np.concatenate([np.full(40, -1e-20), np.full(30, 1e-20), np.zeros(5), [1.0, -0.75]])
    hist = histogram(values)
    zero = hist["edges"].index(0.0)
    assert hist["counts"][zero - 1] == 40
    assert hist["counts"][zero] == 35
    assert sum(hist["counts"]) == values.size


def test_infinities_count_in_the_outer_bins():
    hist = histogram(np.array([np.inf, -np.inf, 0.5, -0.25]))
    assert hist["counts"][0] == 1 and hist["counts"][-1] == 2 and hist["edges"][-1] == 0.5
    assert sum(hist["counts"]) == 4


def independent_quantile(values, percent):
    """Linear interpolation between order statistics at rank p (n - 1), written out."""
    ordered = sorted(float(v) for v in np.ravel(values))
    rank = percent / 100 * (len(ordered) - 1)
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (rank - low) * (ordered[high] - ordered[low])


@pytest.mark.parametrize("name", ["mixed", "positive", "negative", "float32"])
def test_quantiles_are_at_tensorboards_basis_points(name):
    values = ARRAYS[name]
    assert QUANTILE_POINTS == (0.0, 6.68, 15.87, 30.85, 50.0, 69.15, 84.13, 93.32, 100.0)
    expected = [independent_quantile(values, p) for p in QUANTILE_POINTS]
    assert quantiles(values) == pytest.approx(expected, rel=1e-12, abs=1e-15)


def test_tensor_stats_equal_numpy():
    values = ARRAYS["mixed"]
    stats = tensor_stats(values, zero_threshold=1e-3)
    assert stats["mean"] == pytest.approx(values.mean())
    assert stats["std"] == pytest.approx(np.std(values))
    assert stats["l2"] == pytest.approx(np.linalg.norm(values))
    assert stats["abs_max"] == pytest.approx(np.abs(values).max())
    assert stats["zero_fraction"] == pytest.approx(np.mean(np.abs(values) < 1e-3))
    assert stats["quantiles"][4] == pytest.approx(np.median(values))
    # Without a threshold, zero means exactly 0 (dead ReLUs, gradients of unused units).
    relu = np.maximum(values, 0)
    assert tensor_stats(relu)["zero_fraction"] == pytest.approx(np.mean(values <= 0))


def test_non_finite_figures_are_null():
    stats = tensor_stats(np.array([1.0, np.nan, 2.0]))
    assert stats["mean"] is None and stats["std"] is None and stats["l2"] is None


def test_max_col_norm_is_the_largest_units_incoming_norm():
    kernel = RNG.normal(size=(3, 3, 4, 6))  # a Conv2D kernel: 6 filters
    norms = [math.sqrt(sum(float(w) ** 2 for w in kernel[..., unit].ravel())) for unit in range(6)]
    assert max_col_norm(kernel) == pytest.approx(max(norms))
    assert weight_stats(kernel)["max_col_norm"] == pytest.approx(max(norms))


def test_saturated_fraction_only_for_sigmoid_and_tanh():
    sigmoid = np.array([0.001, 0.5, 0.995, 0.2])
    assert activation_stats(sigmoid, "sigmoid")["saturated_fraction"] == 0.5
    tanh = np.array([-0.999, 0.0, 0.5, 0.9999, 0.98])
    assert activation_stats(tanh, "tanh")["saturated_fraction"] == pytest.approx(0.4)
    assert "saturated_fraction" not in activation_stats(sigmoid, "relu")


def test_thinning_keeps_the_first_snapshot_and_the_last_epoch():
    epochs = range(-1, 10)
    assert [e for e in epochs if should_record(e, 1, 9)] == list(range(-1, 10))
    assert [e for e in epochs if should_record(e, 3, 9)] == [-1, 2, 5, 8, 9]
    assert [e for e in epochs if should_record(e, 4, 9)] == [-1, 3, 7, 9]
    assert [e for e in epochs if should_record(e, 0, 9)] == []
