"""Statistics of the validation report against independent references (scipy, brute-force enumeration)."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from scipy import stats

from mae_ort.study.evidence import (
    bootstrap_correlation,
    correlation,
    decision_view,
    expected_best_of_random,
    noise_ceiling,
)


@pytest.fixture
def xy():
    rng = np.random.default_rng(3)
    x = rng.normal(size=40)
    y = 0.5 * x + rng.normal(size=40)
    y[5] = y[7]  # a tie
    return x, y


@pytest.mark.parametrize("method,ref", [("pearson", stats.pearsonr), ("spearman", stats.spearmanr),
                                        ("kendall", stats.kendalltau)])
def test_correlations_equal_scipy(xy, method, ref):
    x, y = xy
    assert correlation(x, y, method) == pytest.approx(ref(x, y)[0], abs=1e-12)


def test_correlation_skips_nonfinite_pairs_and_is_nan_when_undefined(xy):
    x, y = xy
    x2 = np.append(x, np.nan)
    y2 = np.append(y, 1.0)
    assert correlation(x2, y2) == pytest.approx(stats.spearmanr(x, y)[0])
    assert math.isnan(correlation([1, 2], [3, 4])) and math.isnan(correlation([1, 1, 1], [1, 2, 3]))


def test_bootstrap_interval_covers_the_estimate_and_is_seeded(xy):
    x, y = xy
    v, lo, hi, n = bootstrap_correlation(x, y, "spearman", boot=500, seed=1)
    assert n == 40 and lo < v < hi and -1 <= lo and hi <= 1
    assert (v, lo, hi) == bootstrap_correlation(x, y, "spearman", boot=500, seed=1)[:3]
    # a perfect monotone relation: every resample agrees
    v, lo, hi, _ = bootstrap_correlation(x, np.exp(x), "kendall", boot=200)
    assert v == lo == hi == pytest.approx(1.0)


def test_expected_best_of_random_equals_enumeration():
    m = np.array([0.3, 0.1, 0.5, 0.2, 0.9, 0.2])
    for k in (1, 2, 3, 6):
        mins = [min(c) for c in itertools.combinations(m, k)]
        mean, sd = expected_best_of_random(m, k)
        assert mean == pytest.approx(np.mean(mins)) and sd == pytest.approx(np.std(mins))


def test_decision_view_by_hand():
    scores = np.array([5.0, 4.0, 3.0, 2.0, 1.0])   # larger is better (direction +1)
    maes = np.array([0.4, 0.1, 0.3, 0.05, 0.2])
    got = {d["k"]: d for d in decision_view(scores, maes, direction=+1, ks=(1, 2, 4))}
    assert got[1]["picked_best"] == 0.4 and got[2]["picked_best"] == 0.1 and got[4]["picked_best"] == 0.05
    assert all(d["best"] == 0.05 for d in got.values())
    lower = {d["k"]: d for d in decision_view(scores, maes, direction=-1, ks=(1,))}
    assert lower[1]["picked_best"] == 0.2  # the smallest score picked first


def test_noise_ceiling_is_the_agreement_of_two_trainings(xy):
    x, y = xy
    c = noise_ceiling(x, y, boot=200)
    assert c["spearman"] == pytest.approx(stats.spearmanr(x, y)[0]) and c["n"] == 40
    assert c["kendall"] == pytest.approx(stats.kendalltau(x, y)[0])
    assert c["spearman_low"] < c["spearman"] < c["spearman_high"]


# 3 seeds x 5 architectures, with their agreements worked out by hand:
# seed 0 ranks the architectures 1 2 3 4 5, seed 1 ranks them 2 1 3 4 5 (one swap: d^2 sums to 2,
# rho = 1 - 6*2/(5*24) = 0.9), seed 2 ranks them 5 4 3 2 1 (reversed against seed 0: rho = -1;
# against seed 1: d = (3, 3, 0, 2, 4), d^2 sums to 38, rho = 1 - 6*38/120 = -0.9).
SEEDS_BY_HAND = np.array([
    [0.10, 0.25, 0.9],
    [0.20, 0.15, 0.8],
    [0.30, 0.35, 0.7],
    [0.40, 0.45, 0.6],
    [0.50, 0.55, 0.5],
])


def test_noise_ceiling_is_the_mean_over_all_seed_pairs_by_hand():
    c = noise_ceiling(SEEDS_BY_HAND, boot=200)
    assert c["spearman"] == pytest.approx((0.9 - 1.0 - 0.9) / 3)
    assert (c["n"], c["seeds"], c["pairs"]) == (5, 3, 3)
    # Kendall by hand: one discordant pair of 10 between seeds 0 and 1 (tau 0.8), all discordant against seed 2
    # for seed 0 (-1) and 9 of 10 for seed 1 (-0.8)
    assert c["kendall"] == pytest.approx((0.8 - 1.0 - 0.8) / 3)


def test_noise_ceiling_equals_scipy_pairs_and_a_plain_bootstrap():
    rng = np.random.default_rng(5)
    base = rng.normal(size=12)
    m = base[:, None] + 0.7 * rng.normal(size=(12, 4))
    m[3, 2] = np.nan  # one training missing: that pair's agreement uses the architectures trained with both
    c = noise_ceiling(m, boot=300, seed=9)

    def mean_rho(a):
        vals = []
        for i, j in itertools.combinations(range(a.shape[1]), 2):
            ok = np.isfinite(a[:, i]) & np.isfinite(a[:, j])
            if ok.sum() >= 3 and np.ptp(a[ok, i]) > 0 and np.ptp(a[ok, j]) > 0:
                vals.append(stats.spearmanr(a[ok, i], a[ok, j])[0])
        return np.mean(vals) if vals else np.nan

    assert c["spearman"] == pytest.approx(mean_rho(m), abs=1e-12)
    idx = np.random.default_rng(9).integers(0, 12, size=(300, 12))  # resample architectures, as documented
    boots = np.array([mean_rho(m[i]) for i in idx])
    lo, hi = np.quantile(boots[np.isfinite(boots)], [0.025, 0.975])
    assert (c["spearman_low"], c["spearman_high"]) == (pytest.approx(lo, abs=1e-12), pytest.approx(hi, abs=1e-12))
    assert c["spearman_low"] < c["spearman"] < c["spearman_high"]
    assert noise_ceiling(m, boot=300, seed=9) == c  # seeded


def test_noise_ceiling_of_identical_seeds_is_one_and_needs_two_seeds():
    m = np.column_stack([SEEDS_BY_HAND[:, 0]] * 3)
    c = noise_ceiling(m, boot=100)
    assert c["spearman"] == pytest.approx(1.0) and c["spearman_low"] == pytest.approx(1.0)
    one = noise_ceiling(SEEDS_BY_HAND[:, :1], boot=100)
    assert math.isnan(one["spearman"]) and one["pairs"] == 0
