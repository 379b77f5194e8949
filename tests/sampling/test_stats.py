"""Tests of mae_ort.sampling.stats: log-space tails against mpmath, the reference's moments fit, the MLE."""

from __future__ import annotations

import math
import warnings

import mpmath as mp
import numpy as np
import pytest
from scipy import stats

from mae_ort.errors import InvalidParameterError, MaeOrtWarning
from mae_ort.sampling.stats import (
    FITS,
    LOG_P_FLOOR,
    Fit,
    LogPFloorWarning,
    fit_truncnorm,
    log_ndtr_diff,
    truncnorm_logcdf,
)

RTOL = 1e-10


# --------------------------------------------------------------------------- references
def _mp_log_ndtr_diff(x, y) -> mp.mpf:
    """log(Phi(x) - Phi(y)) in mpmath; the symmetric form for y > 0 avoids 1 - tiny."""
    x, y = mp.mpf(x), mp.mpf(y)
    if y > 0:
        return mp.log(mp.ncdf(-y) - mp.ncdf(-x))
    return mp.log(mp.ncdf(x) - mp.ncdf(y))


def _mp_truncnorm_logcdf(x, loc, scale, lower, upper) -> mp.mpf:
    loc, scale = mp.mpf(loc), mp.mpf(scale)
    a = (mp.mpf(lower) - loc) / scale
    b = (mp.mpf(upper) - loc) / scale
    t = (mp.mpf(x) - loc) / scale
    return _mp_log_ndtr_diff(t, a) - _mp_log_ndtr_diff(b, a)


def _reference_moments(maes, threshold=0.01, lower=0.0, upper=2.0):
    """The reference implementation's computation, written out."""
    loc = np.mean(maes)
    scale = np.std(maes)
    p = stats.truncnorm.cdf(threshold, (lower - loc) / scale, (upper - loc) / scale, loc, scale)
    log_p = np.log(p) if p > 0 else np.log(1e-300)
    return p, log_p


def _loglik(x, loc, scale, lower=0.0, upper=2.0) -> float:
    return float(stats.truncnorm.logpdf(x, (lower - loc) / scale, (upper - loc) / scale, loc, scale).sum())


@pytest.fixture(autouse=True)
def _high_precision():
    with mp.workdps(60):
        yield


# --------------------------------------------------------------------------- log_ndtr_diff
@pytest.mark.parametrize(
    "x, y",
    [
        (-1.0, -2.0),
        (-5.0, -6.0),
        (-39.2, -40.0),
        (-40.0, -41.0),
        (-300.0, -301.0),
        (-40.0, -40.0001),  # short interval deep in the lower tail
        (-300.0, -300.00001),
        (40.0, 39.0),  # upper tail: both large positive
        (300.0, 299.0),
        (39.9999, 39.99),
        (10.0, 9.5),
        (0.3, -0.2),  # straddling 0
        (1e-8, -1e-8),  # tiny interval at the centre
        (5.0, -5.0),  # almost all the mass
        (-0.49, -0.5),
        (0.96, -0.05),
        (-1e-9, -1.001e-9),
    ],
)
def test_log_ndtr_diff_matches_mpmath(x, y):
    got = log_ndtr_diff(x, y)
    want = _mp_log_ndtr_diff(x, y)
    assert math.isfinite(got)
    assert abs(got - float(want)) <= RTOL * abs(float(want))


def test_log_ndtr_diff_infinities_and_degenerate():
    assert log_ndtr_diff(math.inf, -math.inf) == 0.0
    assert log_ndtr_diff(-40.0, -math.inf) == pytest.approx(float(mp.log(mp.ncdf(-40))), rel=RTOL)
    assert log_ndtr_diff(math.inf, 40.0) == pytest.approx(float(mp.log(mp.ncdf(-40))), rel=RTOL)
    assert log_ndtr_diff(1.0, 1.0) == -math.inf
    assert math.isnan(log_ndtr_diff(math.nan, 0.0))
    with pytest.raises(InvalidParameterError, match="x > y"):
        log_ndtr_diff(0.0, 1.0)


# --------------------------------------------------------------------------- truncnorm_logcdf
@pytest.mark.parametrize(
    "x, loc, scale, lower, upper",
    [
        (0.01, 0.5, 0.49, 0.0, 2.0),  # z = -1
        (0.01, 0.5, 0.098, 0.0, 2.0),  # z = -5
        (0.0, 0.5, 0.0125, -1.0, 2.0),  # z = -40 (threshold 0, bound below it)
        (0.01, 0.5, 0.0125, 0.0, 2.0),  # z = -39.2 with the bound at z = -40
        (0.01, 0.5, 0.49 / 300, 0.0, 2.0),  # z = -300
        (0.0, 0.5, 0.5 / 300, -1.0, 2.0),  # z = -300 exactly, bound far away
        (0.01, 5.0, 0.1, 0.0, 2.0),  # little mass in [0, 2]: a = -50, b = -30
        (1.0, 5.0, 0.1, 0.0, 2.0),  # ... and a threshold inside it
        (0.01, -3.0, 0.1, 0.0, 2.0),  # little mass, upper tail: a = 30, b = 50
        (1.5, -3.0, 0.1, 0.0, 2.0),
        (0.01, 0.5, 1e3, 0.0, 2.0),  # nearly uniform over the interval
        (0.01, 1.0, 0.3, 0.0, 2.0),
        (1.99, 1.0, 0.3, 0.0, 2.0),  # close to the upper bound: log p ~ -tiny
    ],
)
def test_truncnorm_logcdf_matches_mpmath(x, loc, scale, lower, upper):
    got = truncnorm_logcdf(x, loc, scale, lower, upper)
    want = float(_mp_truncnorm_logcdf(x, loc, scale, lower, upper))
    assert math.isfinite(got)
    assert abs(got - want) <= RTOL * abs(want)


def test_truncnorm_logcdf_outside_bounds_and_bad_input():
    assert truncnorm_logcdf(0.0, 0.5, 0.1, 0.0, 2.0) == -math.inf
    assert truncnorm_logcdf(-1.0, 0.5, 0.1, 0.0, 2.0) == -math.inf
    assert truncnorm_logcdf(2.0, 0.5, 0.1, 0.0, 2.0) == 0.0
    with pytest.raises(InvalidParameterError, match="'scale' parameter of truncnorm_logcdf"):
        truncnorm_logcdf(0.5, 0.5, 0.0, 0.0, 2.0)
    with pytest.raises(InvalidParameterError, match="lower=2.0 must be below upper=1.0"):
        truncnorm_logcdf(0.5, 0.5, 0.1, 2.0, 1.0)


def test_truncnorm_logcdf_agrees_with_scipy_in_the_bulk():
    for loc, scale, x in [(0.7, 0.4, 0.3), (1.2, 0.5, 1.0), (0.1, 0.05, 0.12)]:
        a, b = (0.0 - loc) / scale, (2.0 - loc) / scale
        want = math.log(stats.truncnorm.cdf(x, a, b, loc, scale))
        assert truncnorm_logcdf(x, loc, scale, 0.0, 2.0) == pytest.approx(want, rel=1e-12)


# --------------------------------------------------------------------------- moments fit
@pytest.mark.parametrize("seed", range(6))
def test_moments_reproduces_reference(seed):
    rng = np.random.default_rng(seed)
    maes = rng.uniform(0.0, 1.0, 100) ** 2 * rng.uniform(0.2, 2.0)
    threshold = float(rng.choice([0.01, 0.05, 0.2]))
    p, log_p = _reference_moments(maes, threshold)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        f = fit_truncnorm(maes, threshold=threshold)
    assert isinstance(f, Fit) and f.fit == "moments"
    assert f.p == p
    assert f.log_p == log_p
    assert f.loc == f.mean == np.mean(maes) and f.scale == f.sd == np.std(maes)
    assert (f.n, f.n_used, f.n_nonfinite) == (100, 100, 0)
    assert f.log_p_exact == pytest.approx(log_p, rel=1e-9)


def test_moments_floor_when_p_underflows():
    rng = np.random.default_rng(7)
    maes = rng.normal(0.5, 0.0125, 100)
    p, log_p = _reference_moments(maes)
    assert p == 0.0 and log_p == math.log(1e-300)
    with pytest.warns(LogPFloorWarning, match="floored"):
        f = fit_truncnorm(maes)
    assert issubclass(LogPFloorWarning, MaeOrtWarning)
    assert f.p == 0.0
    assert f.log_p == LOG_P_FLOOR == pytest.approx(-690.7755278982137)
    # the exact value, in log space, far below the floor
    want = float(_mp_truncnorm_logcdf(0.01, f.loc, f.scale, 0.0, 2.0))
    assert f.log_p_exact < -800
    assert abs(f.log_p_exact - want) <= RTOL * abs(want)


def test_moments_keeps_values_outside_bounds():
    maes = np.array([0.1, 0.3, 0.5, 2.5, 3.0])
    p, log_p = _reference_moments(maes, threshold=0.2)
    f = fit_truncnorm(maes, threshold=0.2)
    assert (f.n_used, f.n_outside) == (5, 2)
    assert f.p == p and f.log_p == log_p


# --------------------------------------------------------------------------- mle
def _numeric_se(x, loc, scale, h=1e-4):
    """Standard errors of (loc, scale) from a finite-difference Hessian of the log-likelihood."""
    th = np.array([loc, scale])
    H = np.empty((2, 2))
    for i in range(2):
        for j in range(2):
            ei, ej = np.eye(2)[i] * h, np.eye(2)[j] * h
            H[i, j] = (
                _loglik(x, *(th + ei + ej)) - _loglik(x, *(th + ei - ej))
                - _loglik(x, *(th - ei + ej)) + _loglik(x, *(th - ei - ej))
            ) / (4 * h * h)
    return np.sqrt(np.diag(np.linalg.inv(-H)))


@pytest.mark.parametrize("loc, scale", [(0.3, 0.4), (1.0, 0.3), (-0.3, 0.4), (2.3, 0.4)])
def test_mle_recovers_parameters(loc, scale):
    a, b = (0.0 - loc) / scale, (2.0 - loc) / scale
    x = stats.truncnorm.rvs(a, b, loc, scale, size=4000, random_state=np.random.default_rng(11))
    f = fit_truncnorm(x, fit="mle")
    assert f.fit == "mle" and f.n_used == 4000 and f.n_outside == 0
    se = _numeric_se(x, f.loc, f.scale)
    assert abs(f.loc - loc) < 4 * se[0]
    assert abs(f.scale - scale) < 4 * se[1]
    ll_mle = _loglik(x, f.loc, f.scale)
    assert ll_mle >= _loglik(x, f.mean, f.sd)
    assert ll_mle >= _loglik(x, loc, scale)
    # log p in log space, no floor
    assert f.log_p == f.log_p_exact == pytest.approx(
        float(_mp_truncnorm_logcdf(0.01, f.loc, f.scale, 0.0, 2.0)), rel=RTOL
    )
    assert f.p == pytest.approx(math.exp(f.log_p), rel=1e-12)


@pytest.mark.parametrize("loc, scale", [(0.6, 0.3), (-1.5, 0.3), (3.0, 0.4)])
def test_mle_is_the_grid_maximum(loc, scale):
    """Brute force: no point of a fine grid around the MLE beats it."""
    a, b = (0.0 - loc) / scale, (2.0 - loc) / scale
    x = stats.truncnorm.rvs(a, b, loc, scale, size=1000, random_state=np.random.default_rng(5))
    f = fit_truncnorm(x, fit="mle")
    ll_mle = _loglik(x, f.loc, f.scale)
    assert math.isfinite(ll_mle)
    locs = f.loc + np.linspace(-0.2, 0.2, 41) * f.scale
    scales = f.scale * np.exp(np.linspace(-0.2, 0.2, 41))
    L, S = np.meshgrid(locs, scales, indexing="ij")
    A, B = (0.0 - L) / S, (2.0 - L) / S
    grid = stats.truncnorm.logpdf(x[:, None, None], A, B, L, S).sum(axis=0)
    assert np.all(np.isfinite(grid))
    assert ll_mle >= grid.max() - 1e-8
    assert ll_mle >= _loglik(x, f.mean, f.sd)


def test_mle_deep_truncation_is_finite():
    """Almost no mass of the fitted normal inside [0, 2]: the likelihood stays finite."""
    loc, scale = -3.0, 0.3  # mass in [0, 2] ~ Phi(-10) ~ 1e-23
    x = stats.truncnorm.rvs(10.0, 50 / 3, loc, scale, size=2000, random_state=np.random.default_rng(2))
    f = fit_truncnorm(x, fit="mle", threshold=0.005)
    assert math.isfinite(f.loc) and math.isfinite(f.scale) and math.isfinite(f.log_p)
    assert _loglik(x, f.loc, f.scale) >= _loglik(x, f.mean, f.sd)
    # the data are ~ exponential with rate |loc| / scale**2 ~ 33: p ~ 1 - exp(-33 * 0.005)
    assert f.p == pytest.approx(1 - math.exp(-abs(loc) / scale**2 * 0.005), rel=0.2)


def test_mle_on_uniform_data():
    """Flat data may put the MLE at infinity; it ends on a bound and p ~ threshold / 2."""
    x = np.random.default_rng(1).uniform(0.0, 2.0, 500)
    f = fit_truncnorm(x, fit="mle")
    assert math.isfinite(f.log_p)
    assert 0.003 < f.p < 0.008


def test_mle_lower_tail_without_underflow():
    maes = np.random.default_rng(3).normal(0.5, 0.0125, 200)
    f = fit_truncnorm(maes, fit="mle")
    assert f.p < 1e-300 and math.isfinite(f.log_p) and f.log_p < -700
    want = float(_mp_truncnorm_logcdf(0.01, f.loc, f.scale, 0.0, 2.0))
    assert abs(f.log_p - want) <= RTOL * abs(want)


# --------------------------------------------------------------------------- common rules
@pytest.mark.parametrize("fit", FITS)
def test_nonfinite_maes_scale_p_by_the_finite_fraction(fit):
    rng = np.random.default_rng(4)
    good = rng.uniform(0.0, 0.5, 60)
    maes = np.concatenate([good, [np.inf, np.nan, -np.inf, np.inf]])
    f_good = fit_truncnorm(good, threshold=0.05, fit=fit)
    f = fit_truncnorm(maes, threshold=0.05, fit=fit)
    assert (f.n, f.n_used, f.n_nonfinite, f.n_outside) == (64, 60, 4, 0)
    assert (f.mean, f.sd, f.loc, f.scale) == (f_good.mean, f_good.sd, f_good.loc, f_good.scale)
    assert f.p == pytest.approx(f_good.p * 60 / 64, rel=1e-14)
    assert f.log_p == pytest.approx(f_good.log_p + math.log(60 / 64), rel=1e-14)
    assert f.log_p_exact == pytest.approx(f_good.log_p_exact + math.log(60 / 64), rel=1e-14)


def test_mle_excludes_values_outside_bounds():
    rng = np.random.default_rng(8)
    good = rng.uniform(0.0, 0.5, 48)
    maes = np.concatenate([good, [2.5, 7.0], [np.nan, np.inf]])
    f_good = fit_truncnorm(good, threshold=0.05, fit="mle")
    f = fit_truncnorm(maes, threshold=0.05, fit="mle")
    assert (f.n, f.n_used, f.n_nonfinite, f.n_outside) == (52, 48, 2, 2)
    assert (f.loc, f.scale) == (f_good.loc, f_good.scale)
    assert f.mean == pytest.approx(np.mean(np.concatenate([good, [2.5, 7.0]])))
    assert f.log_p == pytest.approx(f_good.log_p + math.log(48 / 52), rel=1e-14)


def test_no_usable_mae():
    maes = [np.nan, np.inf, -np.inf]
    with pytest.warns(LogPFloorWarning):
        f = fit_truncnorm(maes)
    assert f.p == 0.0 and f.log_p == LOG_P_FLOOR and f.log_p_exact == -math.inf
    assert math.isnan(f.mean) and math.isnan(f.sd) and f.n_used == 0
    g = fit_truncnorm([5.0, 6.0, np.nan], fit="mle")
    assert g.p == 0.0 and g.log_p == -math.inf and g.n_used == 0 and g.n_outside == 2
    assert math.isnan(g.loc) and g.mean == 5.5


@pytest.mark.parametrize("fit", FITS)
def test_point_mass_when_sd_is_zero(fit):
    f = fit_truncnorm([0.005] * 4 + [np.nan] * 4, fit=fit)
    assert f.sd == 0.0 and f.scale == 0.0 and f.loc == 0.005
    assert f.p == 0.5 and f.log_p == pytest.approx(math.log(0.5))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LogPFloorWarning)
        f = fit_truncnorm([0.3, np.nan], fit=fit)  # a single usable value
    assert f.n_used == 1 and f.p == 0.0 and f.log_p_exact == -math.inf
    if fit == "mle":
        assert f.log_p == -math.inf
    f = fit_truncnorm([0.003, 0.003], fit=fit)
    assert f.p == 1.0 and f.log_p == 0.0


def test_point_mass_above_threshold_floors_in_moments():
    with pytest.warns(LogPFloorWarning):
        f = fit_truncnorm([0.4, 0.4, 0.4])
    assert f.p == 0.0 and f.log_p == LOG_P_FLOOR


@pytest.mark.parametrize("fit", FITS)
def test_threshold_outside_bounds(fit):
    maes = [0.1, 0.2, 0.4, np.nan]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LogPFloorWarning)
        low = fit_truncnorm(maes, threshold=0.0, fit=fit)
        below = fit_truncnorm(maes, threshold=-1.0, fit=fit)
    for f in (low, below):
        assert f.p == 0.0 and f.log_p_exact == -math.inf
        assert f.log_p == (LOG_P_FLOOR if fit == "moments" else -math.inf)
    for thr in (2.0, 3.0):
        f = fit_truncnorm(maes, threshold=thr, fit=fit)
        assert f.p == pytest.approx(0.75) and f.log_p == pytest.approx(math.log(0.75))


def test_moments_threshold_at_bounds_matches_reference():
    maes = np.array([0.1, 0.2, 0.4])
    assert fit_truncnorm(maes, threshold=2.0).p == _reference_moments(maes, 2.0)[0] == 1.0
    with pytest.warns(LogPFloorWarning):
        assert fit_truncnorm(maes, threshold=0.0).log_p == _reference_moments(maes, 0.0)[1]


def test_custom_bounds():
    rng = np.random.default_rng(9)
    maes = rng.uniform(10.0, 60.0, 50)
    for fit in FITS:
        f = fit_truncnorm(maes, threshold=12.0, lower=0.0, upper=100.0, fit=fit)
        want = float(_mp_truncnorm_logcdf(12.0, f.loc, f.scale, 0.0, 100.0))
        assert f.log_p_exact == pytest.approx(want, rel=RTOL)
    assert fit_truncnorm(maes, threshold=12.0, lower=0.0, upper=100.0).p == _reference_moments(
        maes, 12.0, 0.0, 100.0
    )[0]


def test_fit_name_is_case_insensitive():
    assert fit_truncnorm([0.1, 0.2, 0.3], fit="MLE").fit == "mle"


# --------------------------------------------------------------------------- validation
@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"lower": 2.0, "upper": 1.0}, r"lower=2\.0 must be below upper=1\.0"),
        ({"lower": 1.0, "upper": 1.0}, r"lower=1\.0 must be below upper=1\.0"),
        ({"lower": -math.inf}, r"The 'lower' parameter of fit_truncnorm must be a finite real number"),
        ({"upper": math.nan}, r"The 'upper' parameter of fit_truncnorm"),
        ({"threshold": math.nan}, r"The 'threshold' parameter of fit_truncnorm must be a finite real number"),
        ({"threshold": "0.01"}, r"The 'threshold' parameter of fit_truncnorm.*Got '0\.01' instead"),
        ({"fit": "bogus"}, r"The 'fit' parameter of fit_truncnorm must be one of 'moments', 'mle'\. Got 'bogus'"),
        ({"fit": None}, r"The 'fit' parameter of fit_truncnorm"),
    ],
)
def test_bad_parameters(kwargs, match):
    with pytest.raises(InvalidParameterError, match=match):
        fit_truncnorm([0.1, 0.2, 0.3], **kwargs)


@pytest.mark.parametrize(
    "maes, match",
    [
        ([0.1], r"Got an array of shape \(1,\) instead"),
        ([], r"Got an array of shape \(0,\) instead"),
        (0.1, r"Got an array of shape \(\) instead"),
        ([[0.1, 0.2], [0.3, 0.4]], r"Got an array of shape \(2, 2\) instead"),
        (["a", "b"], r"Got an array of dtype <U1 instead"),
        ([True, False], r"Got an array of dtype bool instead"),
        ([0.1 + 1j, 0.2], r"Got an array of dtype complex128 instead"),
    ],
)
def test_bad_maes(maes, match):
    with pytest.raises(
        InvalidParameterError,
        match=r"The 'maes' parameter of fit_truncnorm must be a 1-D array of at least 2 real numbers\. " + match,
    ):
        fit_truncnorm(maes)


def test_integer_maes_are_accepted():
    f = fit_truncnorm([0, 1, 1, 2])
    assert f.mean == 1.0 and f.n == 4


def test_the_moments_p_is_scipys_truncnorm_cdf_bit_for_bit():
    """p is computed without importing scipy.stats, by scipy's own steps: the same float as the reference call."""
    import math

    import scipy
    from scipy import stats as sps

    from mae_ort.sampling.stats import _truncnorm_cdf

    exact = tuple(int(v) for v in scipy.__version__.split(".")[:2]) >= (1, 17)  # the steps replicated
    rng = np.random.default_rng(7)
    for _ in range(3000):
        loc, scale = rng.uniform(-1, 3), 10 ** rng.uniform(-4, 1)
        lower = float(rng.choice([0.0, -1.0, rng.uniform(-2, 1)]))
        upper = lower + 10 ** rng.uniform(-2, 1.5)
        thr = rng.uniform(lower, upper) if rng.random() < 0.9 else float(rng.choice([lower, upper, lower + 1e-12]))
        a, b = (lower - loc) / scale, (upper - loc) / scale
        ref = float(sps.truncnorm.cdf(thr, a, b, loc, scale))
        got = _truncnorm_cdf((thr - loc) / scale, a, b)
        if math.isnan(ref):
            assert math.isnan(got)
        elif exact:
            assert got == ref, (thr, loc, scale, lower, upper)
        else:  # another scipy's formula: the same number up to round-off
            assert got == pytest.approx(ref, rel=1e-12, abs=1e-300)
    # and through the fit, on MAEs far in and far out of the tail
    for maes in (rng.normal(0.8, 0.1, 100), rng.normal(0.02, 0.01, 100), rng.normal(1.9, 0.3, 100)):
        f = fit_truncnorm(maes, threshold=0.01)
        ref = float(sps.truncnorm.cdf(0.01, (0 - f.loc) / f.scale, (2 - f.loc) / f.scale, f.loc, f.scale))
        assert f.p == ref if exact else f.p == pytest.approx(ref, rel=1e-12)
