"""samples="auto": rounds give the fixed-S MAEs, the intervals match independent references, the rule stops where
a hand check says, bad input is refused."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

import mae_ort
from mae_ort import Sampler, prepare
from mae_ort.errors import InvalidParameterError
from mae_ort.model.architecture import resolve
from mae_ort.sampling.auto import AutoSamples, log_p_interval, mean_interval, stop_status
from mae_ort.sampling.settings import SamplingSettings
from mae_ort.sampling.stats import LOG_P_FLOOR

FIT = dict(threshold=0.01, lower=0.0, upper=2.0)


@pytest.fixture(scope="module")
def series():
    return prepare(mae_ort.sine(120))


@pytest.fixture(scope="module")
def sampler():
    return Sampler(threads=1)


def test_rounds_give_exactly_the_fixed_maes(series, sampler):
    """Samples 0..99 drawn in rounds of 32 (0..31, 32..63, 64..95, 96..99) equal one draw of 100, bit for bit."""
    arch = resolve([4, 3], preset="paper")
    win = sampler.windows_of(series, 3)
    whole = sampler.maes(arch, win, samples=100, seed=7)
    parts = [sampler.maes(arch, win, samples=min(32, 100 - s), seed=7, first_sample=s) for s in range(0, 100, 32)]
    assert np.array_equal(np.concatenate(parts), whole)
    shared = sampler._group_maes([arch, resolve([4, 5], preset="paper")], win, SamplingSettings(seed=7), 32, 32)
    assert np.array_equal(shared[0], whole[32:64])
    piece = sampler.run(series, arch, 3, SamplingSettings(samples=40, seed=7), first_sample=60)
    assert np.array_equal(piece.maes, whole[60:100])


def _hand_interval(x, threshold=0.01, lower=0.0, upper=2.0):
    """The delta-method interval written out independently: scipy's truncnorm.logcdf, a 5-point gradient,
    np.cov of the (x, (x-mean)^2) influence terms."""
    n = x.size
    mu, sd = x.mean(), x.std()

    def g(m, s):
        return float(stats.truncnorm.logcdf(threshold, (lower - m) / s, (upper - m) / s, loc=m, scale=s))

    def d(f, h):
        return (-f(2 * h) + 8 * f(h) - 8 * f(-h) + f(-2 * h)) / (12 * h)

    grad = np.array([d(lambda h: g(mu + h, sd), 1e-5), d(lambda h: g(mu, sd + h), 1e-5)])
    # influence functions of the mean and of sd = sqrt(m2): x - mu and ((x-mu)^2 - m2) / (2 sd)
    infl = np.vstack([x - mu, ((x - mu) ** 2 - sd ** 2) / (2 * sd)])
    cov = infl @ infl.T / n / n
    half = 1.959964 * math.sqrt(grad @ cov @ grad)
    c = g(mu, sd)
    return c, c - half, c + half


def test_log_p_interval_matches_an_independent_delta_method(rng):
    x = rng.gamma(9.0, 0.02, size=60) + 0.02  # skewed, like MAEs; log p around -5
    c, lo, hi = log_p_interval(x, **FIT)
    hc, hlo, hhi = _hand_interval(x)
    assert c == pytest.approx(hc, rel=1e-9)
    assert (lo, hi) == pytest.approx((hlo, hhi), rel=1e-4)


def test_log_p_interval_covers_like_a_bootstrap(rng):
    """The delta method's width is within 20 % of a seeded percentile bootstrap's on a moderate case."""
    x = rng.normal(0.2, 0.06, size=200).clip(0.001)
    c, lo, hi = log_p_interval(x, **FIT)
    boot = np.random.default_rng(0).choice(x, size=(4000, x.size))
    mu, sd = boot.mean(axis=1), boot.std(axis=1)
    lp = stats.truncnorm.logcdf(0.01, (0 - mu) / sd, (2 - mu) / sd, loc=mu, scale=sd)
    b_lo, b_hi = np.percentile(lp, [2.5, 97.5])
    assert hi - lo == pytest.approx(b_hi - b_lo, rel=0.2)


def test_log_p_interval_edge_cases():
    above = np.full(10, 0.5)  # a point mass above the threshold: log p = -inf, known exactly
    assert log_p_interval(above, **FIT) == (-math.inf, -math.inf, -math.inf)
    assert log_p_interval(np.array([np.inf, np.nan]), **FIT)[0] == -math.inf
    far = np.array([1.0, 1.001, 0.999, 1.0005])  # log p far below the reference's floor: both ends clipped
    c, lo, hi = log_p_interval(far, **FIT)
    assert c < LOG_P_FLOOR and lo == hi == LOG_P_FLOOR
    x = np.array([0.2, 0.3, 0.25, np.inf])  # a non-finite MAE widens the interval by the binomial term
    assert log_p_interval(x, **FIT)[2] - log_p_interval(x, **FIT)[1] > \
        log_p_interval(x[:3], **FIT)[2] - log_p_interval(x[:3], **FIT)[1]


def test_mean_interval_is_students_t(rng):
    x = rng.normal(0.5, 0.1, size=30)
    m, lo, hi = mean_interval(np.append(x, np.inf))  # non-finite MAEs are left out
    ref = stats.t.interval(0.95, 29, loc=x.mean(), scale=stats.sem(x))
    assert m == pytest.approx(x.mean()) and (lo, hi) == pytest.approx(ref)


def test_auto_stops_at_the_first_round_that_is_narrow_enough(series, sampler):
    """Hand check: the first n in 10, 20, ... whose intervals meet the rule, found from the fixed S = 200 MAEs."""
    arch = resolve([5], preset="paper")
    fixed = sampler.run(series, arch, 2, SamplingSettings(samples=200))
    auto = AutoSamples(round=10, maximum=200, tolerance=0.5, relative=0.3, mean_tolerance=0.2)

    def meets(m):
        c, lo, hi = _hand_interval(m)
        mm, mlo, mhi = stats.tmean(m), *stats.t.interval(0.95, m.size - 1, loc=m.mean(), scale=stats.sem(m))
        return (hi - lo <= 0.5 or hi - lo <= 0.3 * abs(c)) and mhi - mlo <= 0.2 * mm

    expected = next(n for n in range(10, 201, 10) if meets(fixed.maes[:n]))
    assert 10 < expected < 200  # the case is not trivial
    r = sampler.run(series, arch, 2, SamplingSettings(samples=auto))
    assert (r.samples, r.status) == (expected, "converged")
    assert np.array_equal(r.maes, fixed.maes[:expected])
    assert r.log_p == pytest.approx(sampler.run(series, arch, 2, SamplingSettings(samples=expected)).log_p, abs=0)


def test_auto_caps_at_the_maximum_and_cuts_the_last_round():
    auto = AutoSamples(round=30, maximum=70, tolerance=1e-9, relative=0)
    assert auto.rounds() == [(0, 30), (30, 30), (60, 10)]
    x = np.random.default_rng(1).normal(0.5, 0.1, size=70)
    assert stop_status(x[:60], auto, **FIT) is None and stop_status(x, auto, **FIT) == "maximum"


def test_group_auto_equals_each_alone(series, sampler):
    archs = [resolve([4, u], preset="paper") for u in (2, 3, 6)]
    settings = SamplingSettings(samples="auto:round=10,max=60,rel=0.4")
    group = sampler.run_group(series, archs, 2, settings)
    for g, a in zip(group, archs):
        alone = sampler.run(series, a, 2, settings)
        assert (g.samples, g.status) == (alone.samples, alone.status) and np.array_equal(g.maes, alone.maes)


def test_sample_accepts_auto_and_reports_what_it_drew():
    r = mae_ort.sample(mae_ort.sine(80), arch=[3], look_back=2, samples="auto:round=10,max=50", threads=1)
    assert r.samples == r.maes.size <= 50 and r.samples % 10 == 0 and r.status in ("converged", "maximum")
    assert r.to_dict()["status"] == r.status and r.settings.auto == str(AutoSamples(round=10, maximum=50))
    assert mae_ort.sample(mae_ort.sine(80), arch=[3], look_back=2, samples=10, threads=1).status == "fixed"


def test_text_form_round_trips():
    a = AutoSamples.parse("auto:round=10,max=50,tol=0.25,rel=0,mean=inf")
    assert (a.round, a.maximum, a.tolerance, a.relative, a.mean_tolerance) == (10, 50, 0.25, 0.0, math.inf)
    assert AutoSamples.parse(str(a)) == a and AutoSamples.parse("AUTO") == AutoSamples()
    s = SamplingSettings(samples="auto:max=50")
    assert s.samples == 50 and s.auto_samples == AutoSamples(maximum=50)


@pytest.mark.parametrize("samples, fragment", [
    ("auto:tol=0", "'tolerance' parameter"),
    ("auto:tol=-1", "'tolerance' parameter"),
    ("auto:max=1", "'maximum' parameter"),
    ("auto:round=1", "'round' parameter"),
    ("auto:mean=0", "'mean_tolerance' parameter"),
    ("auto:rel=-1", "'relative' parameter"),
    ("auto:tol=abc", "tol must be a number"),
    ("auto:speed=3", "is not key=value"),
    ("often", "'samples' parameter of sample must be an int >= 2, 'auto'"),
])
def test_bad_auto_settings_are_refused(samples, fragment):
    with pytest.raises(InvalidParameterError, match=fragment):
        mae_ort.sample(mae_ort.sine(40), arch=[3], look_back=2, samples=samples)


def test_auto_needs_the_moments_fit():
    with pytest.raises(InvalidParameterError, match="fit='moments'"):
        SamplingSettings(samples="auto", fit="mle")
