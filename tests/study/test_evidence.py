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
