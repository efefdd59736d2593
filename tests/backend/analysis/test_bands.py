"""Per-epoch bands, against hand-computed values."""

import math

import pytest

import numpy as np

from backend.analysis.bands import group_bands, groups_bands, step_band
from backend.analysis.dense import Dense, from_columns


def epoch_band(columns, band):
    """The band of one metric given as (x, y) per run, through the dense form the service uses."""
    rid, names, xs, ys = [], [], [], []
    for run, (x, y) in enumerate(columns):
        rid += [run] * len(x)
        names += ["m"] * len(x)
        xs += list(x)
        ys += list(y)
    dense = from_columns(list(range(len(columns))), rid, names, xs, ys)
    return as_lists(group_bands(dense, np.arange(len(columns)), band).get("m", {"x": []}))


def as_lists(band):
    """A band's arrays (rendered by orjson as they are) as plain lists."""
    return {key: np.asarray(values).tolist() for key, values in band.items()}


def nan_to_none(values):
    return [None if v is None or math.isnan(v) else v for v in values]


def test_runs_of_different_lengths_count_where_they_have_a_value():
    band = epoch_band([([0, 1, 2], [1.0, 2.0, 3.0]), ([0, 1], [3.0, 4.0]), ([0, 3], [None, None])], "std")
    # Epoch 3 has no value in any run: it is left out.
    assert band["x"] == [0, 1, 2]
    assert band["n"] == [2, 2, 1]
    assert band["mean"] == [2.0, 3.0, 3.0]
    # sd of (1, 3) and of (2, 4) is sqrt(2); one run at epoch 2 gives no band.
    assert nan_to_none(band["lo"]) == pytest.approx([2 - math.sqrt(2), 3 - math.sqrt(2), None])
    assert nan_to_none(band["hi"]) == pytest.approx([2 + math.sqrt(2), 3 + math.sqrt(2), None])


def test_ci95_band_uses_t():
    # 1, 2, 3: sd 1, sem 1/sqrt(3), t(0.975, 2) = 4.303 (t table).
    band = epoch_band([([0], [1.0]), ([0], [2.0]), ([0], [3.0])], "ci95")
    assert band["lo"][0] == pytest.approx(2 - 4.303 / math.sqrt(3), abs=1e-3)
    assert band["hi"][0] == pytest.approx(2 + 4.303 / math.sqrt(3), abs=1e-3)


def test_step_series_share_buckets():
    # Two runs logged at different steps over 0..99, four buckets of 25 steps.
    first = (list(range(0, 100, 2)), [1.0] * 50)
    second = (list(range(1, 100, 2)), [3.0] * 50)
    band = as_lists(step_band([first, second], "std", 4))
    assert band["n"] == [2, 2, 2, 2]
    assert band["mean"] == [2.0, 2.0, 2.0, 2.0]
    assert band["x"] == [12, 37, 62, 87]


def test_no_series_gives_empty_band():
    assert epoch_band([], "std")["x"] == []


def test_a_groups_bands_do_not_depend_on_the_other_groups_or_their_order():
    # Groups in row order are reduced in place, others gathered first; a study with gaps is masked.
    rng = np.random.default_rng(3)
    for gaps in (0.0, 0.2):
        values = rng.normal(size=(30, 2, 6))
        values[rng.random(values.shape) < gaps] = np.nan
        dense = Dense(list(range(30)), ["a", "b"], np.arange(6), values)
        members = [np.arange(0, 10), np.arange(10, 25), np.arange(25, 30)]
        together = groups_bands(dense, members, "ci95")
        shuffled = groups_bands(dense, [members[2], members[0], members[1]], "ci95")
        for g, alone in enumerate([group_bands(dense, rows, "ci95") for rows in members]):
            for other in (together[g], shuffled[(g + 1) % 3]):
                assert alone.keys() == other.keys() == {"a", "b"}
                for name, band in alone.items():
                    assert {k: nan_to_none(np.asarray(v, float).tolist()) for k, v in band.items()} == \
                        {k: nan_to_none(np.asarray(v, float).tolist()) for k, v in other[name].items()}
