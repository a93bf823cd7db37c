"""Statistics for comparing architectures over seeds: intervals, paired tests, Holm, MLPerf."""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
from scipy import stats

MIN_PAIRED_SEEDS = 5  # below this a paired t-test over seeds has too little power to use


def mean_ci(values: Sequence[float], confidence: float = 0.95) -> tuple[float, float, float, float]:
    """Mean, sample std (ddof=1) and Student-t interval (low, high); NaN spread for one value."""
    data = np.asarray(values, dtype=float)
    if data.size == 0:
        return (float("nan"),) * 4
    mean = float(data.mean())
    if data.size == 1:
        return mean, float("nan"), float("nan"), float("nan")
    std = float(data.std(ddof=1))
    half = float(stats.t.ppf((1 + confidence) / 2, data.size - 1)) * std / np.sqrt(data.size)
    return mean, std, mean - half, mean + half


def mcnemar_exact(correct_a: np.ndarray, correct_b: np.ndarray) -> tuple[int, int, float]:
    """Discordant counts b (only A right), c (only B right) and the exact two-sided p-value."""
    correct_a = np.asarray(correct_a, dtype=bool)
    correct_b = np.asarray(correct_b, dtype=bool)
    if correct_a.shape != correct_b.shape:
        raise ValueError(
            f"paired predictions differ in shape: {correct_a.shape} vs {correct_b.shape}"
        )
    b = int(np.count_nonzero(correct_a & ~correct_b))
    c = int(np.count_nonzero(~correct_a & correct_b))
    return b, c, _binomial_p(b, c)


def pooled_mcnemar(
    correct_a: Sequence[np.ndarray], correct_b: Sequence[np.ndarray]
) -> tuple[int, int, float]:
    """One exact McNemar test on discordant counts summed over seed pairs.

    Both sequences hold per-test-image correctness, one array per seed, sorted by seed. Pair i
    is seed i of A with seed i of B; when the seed sets differ they are paired in sorted order
    and only min(len(A), len(B)) pairs are used. Pooling treats every (seed, image) pair as one
    trial, so the same test image counts once per seed pair: the test asks whether the two
    training procedures disagree in one direction more than chance on this test set, and is
    more confident than a test that models image-to-image dependence would be.
    """
    pairs = list(zip(correct_a, correct_b, strict=False))
    if not pairs:
        return 0, 0, float("nan")
    b = c = 0
    for one_a, one_b in pairs:
        pair_b, pair_c, _ = mcnemar_exact(one_a, one_b)
        b, c = b + pair_b, c + pair_c
    return b, c, _binomial_p(b, c)


def _binomial_p(b: int, c: int) -> float:
    """Exact two-sided binomial p of b successes in b + c fair trials; 1.0 with no trials."""
    if b + c == 0:
        return 1.0
    return float(stats.binomtest(b, b + c, 0.5).pvalue)


def paired_t(a_values: Sequence[float], b_values: Sequence[float]) -> float:
    """Paired t-test p over seeds (paired by position), NaN with fewer than 5 pairs."""
    pairs = min(len(a_values), len(b_values))
    if pairs < MIN_PAIRED_SEEDS:
        return float("nan")
    a = np.asarray(a_values[:pairs], dtype=float)
    b = np.asarray(b_values[:pairs], dtype=float)
    if np.array_equal(a, b):  # no difference at all; scipy would return NaN
        return 1.0
    with warnings.catch_warnings():  # a constant nonzero difference gives t = inf, p = 0
        warnings.simplefilter("ignore", RuntimeWarning)
        return float(stats.ttest_rel(a, b).pvalue)


def holm(p_values: Sequence[float]) -> np.ndarray:
    """Holm step-down adjusted p-values over the finite entries; NaN entries pass through."""
    p = np.asarray(p_values, dtype=float)
    adjusted = np.full(p.shape, np.nan)
    finite = np.flatnonzero(np.isfinite(p))
    order = finite[np.argsort(p[finite], kind="stable")]
    m, running = len(order), 0.0
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p[index]))  # adjusted p never decreases
        adjusted[index] = running
    return adjusted


MLPERF_MIN_SEEDS = 5  # from this many timings on, the fastest and the slowest are dropped


def mlperf_mean(seconds: Sequence[float]) -> float:
    """MLPerf Training's score of timings over seeds: trimmed mean from 5 seeds, else the mean.

    With 5 or more timings the fastest and the slowest are dropped and the rest averaged; with
    fewer, the plain mean; NaN for none. NaNs (seeds that never reached the target) are left
    out: the caller counts them separately.
    """
    data = np.sort(np.asarray(seconds, dtype=float))
    data = data[np.isfinite(data)]
    if data.size == 0:
        return float("nan")
    if data.size >= MLPERF_MIN_SEEDS:
        data = data[1:-1]
    return float(data.mean())
