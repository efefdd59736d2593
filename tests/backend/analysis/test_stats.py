"""The statistics against published and hand-computed values (not against the formulas they use)."""

import math

import numpy as np
import pytest

from backend.analysis import stats

# Cushny & Peebles' sleep data (R's ``sleep``): extra hours of sleep under two drugs, same 10 patients.
SLEEP_1 = [0.7, -1.6, -0.2, -1.2, -0.1, 3.4, 3.7, 0.8, 0.0, 2.0]
SLEEP_2 = [1.9, 0.8, 1.1, 0.1, -0.1, 4.4, 5.5, 1.6, 4.6, 3.4]
# A worked Welch example (R's t.test(ts1, ts2)): t = -1.8325, df = 17.9, p = 0.08356,
# 95 % CI -2.1469104 0.1469104.
TS1 = [11, 9, 10, 11, 10, 12, 9, 11, 12, 9]
TS2 = [11, 13, 10, 13, 12, 9, 11, 12, 12, 11]


def test_describe_uses_the_t_distribution():
    # t(0.975, 4) = 2.776 (any t table); sd of 1..5 is sqrt(2.5).
    result = stats.describe([1, 2, 3, 4, 5, None, float("nan")])
    assert result["n"] == 5 and result["mean"] == 3 and (result["min"], result["max"]) == (1, 5)
    assert result["std"] == pytest.approx(1.5811, abs=1e-4)
    assert result["sem"] == pytest.approx(0.7071, abs=1e-4)
    assert result["ci95"] == pytest.approx([3 - 1.9632, 3 + 1.9632], abs=1e-3)


def test_describe_of_one_value_has_no_spread():
    assert stats.describe([0.5]) == {"n": 1, "mean": 0.5, "std": None, "sem": None, "ci95": [None, None],
                                     "min": 0.5, "max": 0.5}
    assert stats.describe([])["n"] == 0


def test_paired_test_matches_r_on_the_sleep_data():
    # R: t.test(extra ~ group, data = sleep, paired = TRUE): t = -4.0621, df = 9, p = 0.002833,
    # 95 % CI -2.4598858 -0.7001142 (of group 1 - group 2).
    result = stats.paired(np.array(SLEEP_2), np.array(SLEEP_1))
    assert result["t"] == pytest.approx(-4.0621, abs=1e-4)
    assert result["df"] == 9
    assert result["p_value"] == pytest.approx(0.002833, abs=1e-6)
    assert result["diff"] == pytest.approx(-1.58)
    assert result["ci95"] == pytest.approx([-2.4598858, -0.7001142], abs=1e-6)


def test_welch_test_matches_r_on_the_sleep_data():
    # R: t.test(extra ~ group, data = sleep): t = -1.8608, df = 17.776, p = 0.07939, CI -3.3654832 0.2054832.
    result = stats.welch(np.array(SLEEP_2), np.array(SLEEP_1))
    assert result["t"] == pytest.approx(-1.8608, abs=1e-4)
    assert result["df"] == pytest.approx(17.776, abs=1e-3)
    assert result["p_value"] == pytest.approx(0.07939, abs=1e-5)
    assert result["ci95"] == pytest.approx([-3.3654832, 0.2054832], abs=1e-6)


def test_welch_test_matches_the_textbook_example():
    result = stats.welch(np.array(TS2, dtype=float), np.array(TS1, dtype=float))
    assert result["t"] == pytest.approx(-1.8325, abs=1e-4)
    assert round(result["df"], 1) == 17.9
    assert result["p_value"] == pytest.approx(0.08356, abs=1e-5)
    assert result["ci95"] == pytest.approx([-2.1469104, 0.1469104], abs=1e-6)


def test_holm_on_a_known_set():
    # By hand (and R's p.adjust(..., "holm")): 0.005·4 = 0.02, 0.01·3 = 0.03, 0.03·2 = 0.06, max(0.04·1, 0.06).
    assert stats.holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert stats.holm([0.5, None, 0.9]) == [1.0, None, 1.0]
    assert stats.holm([0.4, None]) == [0.4, None]
    assert stats.holm([]) == []


def test_hedges_g_by_hand():
    # Means 2 and 5, both sd 1: d = 3; J = 1 - 3 / (4·4 - 1) = 0.8.
    assert stats.hedges_g(np.array([1.0, 2, 3]), np.array([4.0, 5, 6])) == pytest.approx(2.4)
    assert stats.hedges_g(np.array([1.0, 1]), np.array([1.0, 1])) is None


def test_compare_pairs_when_seeds_match_and_welch_otherwise():
    paired = stats.compare(SLEEP_1, SLEEP_2, (SLEEP_1, SLEEP_2))
    assert paired["test"] == "paired" and paired["p_value"] == pytest.approx(0.002833, abs=1e-6)
    welch = stats.compare(SLEEP_1, SLEEP_2)
    assert welch["test"] == "welch" and welch["p_value"] == pytest.approx(0.07939, abs=1e-5)
    assert welch["diff"] == pytest.approx(1.58) and welch["reason"] is None


def test_compare_needs_two_seeds_and_notes_low_power():
    one = stats.compare([0.9], [0.8, 0.85])
    assert one["p_value"] is None and one["test"] is None and "needs at least 2 seeds" in one["reason"]
    assert one["diff"] == pytest.approx(-0.075)
    small = stats.compare([0.1, 0.2, 0.15], [0.5, 0.6, 0.55])
    assert small["p_value"] < 0.05 and "low power" in small["reason"]
    flat = stats.compare([1.0, 1.0], [1.0, 1.0])
    assert flat["p_value"] is None and "no spread" in flat["reason"]


@pytest.mark.parametrize(
    ("diff", "p", "direction", "expected"),
    [
        (0.02, 0.01, "higher", "better"),
        (-0.02, 0.01, "higher", "worse"),
        (-0.02, 0.01, "lower", "better"),
        (0.02, 0.01, "lower", "worse"),
        (0.3, 0.001, "diagnostic", "higher"),
        (-0.3, 0.001, "diagnostic", "lower"),
        (0.3, 0.2, "diagnostic", "no detectable difference"),
        (0.3, 0.05, "higher", "no detectable difference"),
        (0.3, None, "higher", None),
    ],
)
def test_verdict_words(diff, p, direction, expected):
    assert stats.verdict(diff, p, direction) == expected


def test_t_interval_without_spread_is_empty():
    assert stats.t_interval(1.0, math.nan, 3) == [None, None]
