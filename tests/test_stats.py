"""The statistics against hand-made inputs with answers worked out by hand or in textbooks."""

from __future__ import annotations

import math

import numpy as np
import pytest

from benchmark.results import stats


def test_mean_ci_is_a_student_t_interval() -> None:
    mean, std, low, high = stats.mean_ci([1, 2, 3, 4, 5])
    half = 2.7764451051977987 * math.sqrt(2.5) / math.sqrt(5)  # t(0.975, 4) * s / sqrt(n)
    assert mean == 3.0
    assert std == pytest.approx(math.sqrt(2.5))
    assert (low, high) == pytest.approx((3 - half, 3 + half))
    assert low == pytest.approx(1.0367568385224)  # published: 3 - 1.963


def test_mean_ci_confidence_level_and_single_value() -> None:
    _, _, low_90, high_90 = stats.mean_ci([1, 2, 3, 4, 5], confidence=0.90)
    assert high_90 - 3 == pytest.approx(2.131846786 * math.sqrt(0.5))  # t(0.95, 4)
    mean, std, low, high = stats.mean_ci([0.99])
    assert mean == 0.99
    assert all(math.isnan(value) for value in (std, low, high))
    assert all(math.isnan(value) for value in stats.mean_ci([]))


def test_mcnemar_counts_discordant_pairs_and_is_exact() -> None:
    # 1 image only A gets right, 9 only B gets right, 5 both right, 3 both wrong.
    a = np.array([1] + [0] * 9 + [1] * 5 + [0] * 3, dtype=bool)
    b = np.array([0] + [1] * 9 + [1] * 5 + [0] * 3, dtype=bool)
    assert stats.mcnemar_exact(a, b) == (1, 9, 0.021484375)  # 2 * (1 + 10) / 2**10
    assert stats.mcnemar_exact(b, a) == (9, 1, 0.021484375)


def test_mcnemar_without_discordant_pairs_is_one() -> None:
    same = np.array([True, False, True])
    assert stats.mcnemar_exact(same, same) == (0, 0, 1.0)
    with pytest.raises(ValueError, match="shape"):
        stats.mcnemar_exact(same, same[:2])


def test_pooled_mcnemar_sums_counts_over_seed_pairs() -> None:
    # Seed 0: b=1, c=4; seed 1: b=0, c=5; A's third seed has no partner and is left out.
    a = [np.array([1, 0, 0, 0, 0, 1], bool), np.array([0, 0, 0, 0, 0, 1], bool), np.ones(6, bool)]
    b = [np.array([0, 1, 1, 1, 1, 1], bool), np.array([1, 1, 1, 1, 1, 1], bool)]
    b_count, c_count, p = stats.pooled_mcnemar(a, b)
    assert (b_count, c_count) == (1, 9)
    assert p == 0.021484375  # one test on the pooled counts, not a combination of two
    assert stats.pooled_mcnemar([], b)[2] != stats.pooled_mcnemar([], b)[2]  # NaN: no pairs


def test_paired_t_needs_five_pairs() -> None:
    a = [0.990, 0.991, 0.992, 0.989, 0.993]
    b = [0.985, 0.988, 0.986, 0.987, 0.984]
    # Differences 0.005, 0.003, 0.006, 0.002, 0.009: mean 0.005, variance 7.5e-6, so t^2 = 50/3.
    # With 4 degrees of freedom P(|T| < t) = sin(u) * (1 + cos(u)^2 / 2), u = atan(t / 2),
    # which here is 170 / 31^1.5.
    assert stats.paired_t(a, b) == pytest.approx(1 - 170 / 31**1.5, rel=1e-9)
    assert math.isnan(stats.paired_t(a[:4], b[:4]))
    assert stats.paired_t(a + [0.5], b) == stats.paired_t(a, b)  # extra seeds are unpaired
    assert stats.paired_t(a, a) == 1.0


def test_holm_matches_the_textbook_example() -> None:
    adjusted = stats.holm([0.01, 0.04, 0.03, 0.005])
    np.testing.assert_allclose(adjusted, [0.03, 0.06, 0.06, 0.02])


def test_holm_caps_at_one_and_passes_nan_through() -> None:
    adjusted = stats.holm([0.5, float("nan"), 0.01, 0.4])
    assert math.isnan(adjusted[1])
    np.testing.assert_allclose(adjusted[[0, 2, 3]], [0.8, 0.03, 0.8])  # m = 3 finite values
    assert stats.holm([]).size == 0
    np.testing.assert_allclose(stats.holm([0.7, 0.6]), [1.0, 1.0])


def test_mlperf_mean_drops_the_fastest_and_slowest_from_five_seeds_on() -> None:
    assert stats.mlperf_mean([10.0, 1.0, 4.0, 5.0, 6.0]) == pytest.approx(5.0)  # (4+5+6)/3
    assert stats.mlperf_mean([1.0, 2.0, 3.0, 4.0, 5.0, 100.0]) == pytest.approx(3.5)
    assert stats.mlperf_mean([1.0, 2.0, 9.0, 4.0]) == pytest.approx(4.0), "plain mean below 5"
    assert stats.mlperf_mean([7.0]) == 7.0
    assert math.isnan(stats.mlperf_mean([]))
    # Seeds that never reached the target are NaN: left out, so 4 timings give a plain mean.
    assert stats.mlperf_mean([1.0, float("nan"), 2.0, 3.0, 10.0]) == pytest.approx(4.0)
