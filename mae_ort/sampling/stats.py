"""Fit a truncated normal to the sampled MAEs and report ``p = P(MAE < threshold)``.

Pure functions: no I/O, nothing about models.  ``S`` MAEs (one per random weight
sample) are fitted with a normal distribution truncated to ``[lower, upper]``
(default ``[0, 2]``) and ``p`` and ``log p`` are reported.

Fits
----
``"moments"`` (the reference implementation's, the default)
    ``loc = mean(MAEs)``, ``scale = std(MAEs, ddof=0)`` and
    ``p = scipy.stats.truncnorm.cdf(threshold, (lower-loc)/scale, (upper-loc)/scale,
    loc, scale)``, computed as that scipy call computes it (:func:`_truncnorm_cdf`: the
    same ``scipy.special`` calls in the same order, equal to it bit for bit -- a test checks
    that -- without importing ``scipy.stats``, which takes 0.5-1 s).  ``log_p = log(p)`` when
    ``p > 0``, else ``log(1e-300) ~ -690.8`` (the reference's floor), and a
    :class:`LogPFloorWarning` is emitted.  ``Fit.log_p_exact`` holds the same
    quantity computed in log space by :func:`truncnorm_logcdf` (no floor).
    MAEs outside ``[lower, upper]`` are kept in the mean and sd, as the reference
    does (``Fit.n_outside`` counts them).
``"mle"``
    Maximum likelihood of the truncated normal over ``(loc, scale > 0)`` for the
    finite MAEs inside ``[lower, upper]``, started from their moments and
    optimised over ``(loc, log scale)``; the normaliser of the likelihood is
    computed by :func:`log_ndtr_diff`, so it stays finite when the truncation
    interval holds a tiny mass.  ``loc`` may lie outside ``[lower, upper]`` but
    is kept within ``10 * (upper - lower)`` of the interval, and ``scale`` within
    ``[1e-3 * sd, 1e3 * (upper - lower)]`` (``sd`` of the MAEs used); an MLE at
    infinity (a data set better described by an exponential) ends on a bound.
    ``p`` and ``log_p`` are computed in log space, with no floor.

Rules common to both fits
-------------------------
* Non-finite MAEs (a random network whose predictions overflowed) are left out of
  the fit.  Such a network certainly does not have ``MAE < threshold``, so ``p``
  is multiplied by the fraction ``n_used / n`` (``log_p`` gets ``log(n_used/n)``
  added).  With ``"mle"``, finite MAEs outside ``[lower, upper]`` are left out in
  the same way and count as "not below threshold".
* No usable MAE: ``p = 0``, ``log_p = -inf`` (``"moments"``: the floor),
  ``mean``, ``sd``, ``loc``, ``scale`` are nan.
* ``sd = 0`` (a single usable MAE, or all equal): the fit is a point mass at the
  mean, ``p = 1`` if ``mean < threshold`` else ``0`` (times the used fraction),
  ``scale = 0``.
* ``threshold <= lower``: ``p = 0``; ``threshold >= upper``: ``p = 1`` (times the
  used fraction).
* ``p = 0`` gives ``log_p = -inf`` with ``"mle"`` and the floor with ``"moments"``.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
from scipy import special

from .._checks import check_option, check_real
from ..errors import InvalidParameterError, MaeOrtWarning

__all__ = [
    "FITS",
    "LOG_P_FLOOR",
    "log_p_of",
    "Fit",
    "LogPFloorWarning",
    "log_ndtr_diff",
    "truncnorm_logcdf",
    "fit_truncnorm",
    "check_bounds",
]

FITS = ("moments", "mle")

#: ``log(1e-300)``, the reference implementation's ``log p`` when ``p`` underflows.
LOG_P_FLOOR = math.log(1e-300)

_LN2 = math.log(2.0)
_LOG_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)
_GL_X, _GL_W = np.polynomial.legendre.leggauss(24)
_GL_LOGW = np.log(_GL_W)


class LogPFloorWarning(MaeOrtWarning):
    """``p`` underflowed to 0 and ``log p`` was floored at ``log(1e-300)`` (the reference's rule)."""


@dataclass(frozen=True)
class Fit:
    """The result of :func:`fit_truncnorm`.

    Attributes
    ----------
    mean, sd : float
        Mean and population sd (``ddof=0``) of the finite MAEs.
    loc, scale : float
        The fitted location and scale (``mean`` and ``sd`` for ``"moments"``).
    p, log_p : float
        ``P(MAE < threshold)`` and its log, as the fit reports them.
    fit : str
        ``"moments"`` or ``"mle"``.
    n, n_used, n_nonfinite, n_outside : int
        MAEs given, used in the fit, non-finite, finite but outside
        ``[lower, upper]`` (excluded by ``"mle"`` only).
    log_p_exact : float
        ``log p`` computed in log space with no floor (equals ``log_p`` for ``"mle"``).
    """

    mean: float
    sd: float
    loc: float
    scale: float
    p: float
    log_p: float
    fit: str
    n: int
    n_used: int
    n_nonfinite: int
    n_outside: int
    log_p_exact: float


# -- scipy.stats.truncnorm.cdf, as scipy 1.17 computes it, from scipy.special alone ----------------------
def _log_diff(log_p, log_q):
    """``log(exp(log_p) - exp(log_q))`` as scipy's truncnorm: a complex ``logsumexp`` (-exp(x) = exp(x + pi i))."""
    return special.logsumexp([log_p, log_q + np.pi * 1j], axis=0)


def _log_gauss_mass(a, b):
    """Log of the standard normal mass in ``[a, b]`` (arrays), scipy's ``_log_gauss_mass``."""
    a, b = np.broadcast_arrays(a, b)
    case_left = b <= 0
    case_right = a > 0
    case_central = ~(case_left | case_right)
    out = np.full_like(a, fill_value=np.nan, dtype=np.complex128)
    if a[case_left].size:
        out[case_left] = _log_diff(special.log_ndtr(b[case_left]), special.log_ndtr(a[case_left]))
    if a[case_right].size:  # the left case of (-b, -a)
        out[case_right] = _log_diff(special.log_ndtr(-a[case_right]), special.log_ndtr(-b[case_right]))
    if a[case_central].size:
        out[case_central] = special.log1p(-special.ndtr(a[case_central]) - special.ndtr(-b[case_central]))
    return np.real(out)


def _truncnorm_logcdf_arrays(x, a, b):
    x, a, b = np.broadcast_arrays(x, a, b)
    logcdf = np.asarray(_log_gauss_mass(a, x) - _log_gauss_mass(a, b))
    i = logcdf > -0.1  # avoid catastrophic cancellation
    if np.any(i):
        logcdf[i] = np.log1p(-np.exp(_truncnorm_logsf_arrays(x[i], a[i], b[i])))
    return logcdf


def _truncnorm_logsf_arrays(x, a, b):
    x, a, b = np.broadcast_arrays(x, a, b)
    logsf = np.asarray(_log_gauss_mass(x, b) - _log_gauss_mass(a, b))
    i = logsf > -0.1
    if np.any(i):
        logsf[i] = np.log1p(-np.exp(_truncnorm_logcdf_arrays(x[i], a[i], b[i])))
    return logsf


def _truncnorm_cdf(x: float, a: float, b: float) -> float:
    """``scipy.stats.truncnorm.cdf(x, a, b)`` of standardised ``x``, ``a``, ``b``: scipy's own steps
    (``rv_continuous.cdf``, then ``truncnorm._cdf``), so the same float, without importing scipy.stats."""
    if not a < b or math.isnan(x):
        return math.nan
    if x >= b:
        return 1.0
    if not a < x:
        return 0.0
    one = lambda v: np.array([v], dtype=np.float64)  # noqa: E731 - the 1-element arrays scipy passes on
    return float(np.exp(_truncnorm_logcdf_arrays(one(x), one(a), one(b)))[0])


def _log1mexp(d: float) -> float:
    """``log(1 - exp(d))`` for ``d <= 0``, accurate for every ``d``."""
    if d > -_LN2:
        return math.log(-math.expm1(d))
    return math.log1p(-math.exp(d))


def _log_phi_integral(lo: float, hi: float) -> float:
    """``log of integral of phi over [lo, hi]`` by Gauss-Legendre, for short intervals."""
    mid, half = 0.5 * (lo + hi), 0.5 * (hi - lo)
    delta = half * _GL_X
    # -t^2/2 with t = mid + delta, split so that the large part is exact.
    terms = _GL_LOGW - mid * delta - 0.5 * delta * delta
    return math.log(half) + float(special.logsumexp(terms)) - 0.5 * mid * mid - _LOG_SQRT_2PI


def log_ndtr_diff(x: float, y: float) -> float:
    """``log(Phi(x) - Phi(y))`` for ``x > y``, accurate in both tails.

    Parameters
    ----------
    x, y : float
        Standard-normal quantiles, ``x > y`` (infinities allowed).

    Returns
    -------
    float
        ``-inf`` when ``x == y`` or the difference underflows below the float range.

    Notes
    -----
    When both are positive the symmetric form ``Phi(-y) - Phi(-x)`` is used; the
    difference is taken as ``log Phi(hi) + log(1 - exp(log Phi(lo) - log Phi(hi)))``
    with :func:`scipy.special.log_ndtr`.  When the two CDF values are within a
    factor 0.6 of each other (short interval, where that subtraction would lose
    digits) the integral of the density is taken by 24-point Gauss-Legendre instead.
    """
    x, y = float(x), float(y)
    if math.isnan(x) or math.isnan(y):
        return math.nan
    if not x > y:
        if x == y:
            return -math.inf
        raise InvalidParameterError(f"log_ndtr_diff needs x > y. Got x={x!r}, y={y!r} instead.")
    if y == -math.inf:
        return float(special.log_ndtr(x))
    if x == math.inf:
        return float(special.log_ndtr(-y))
    hi, lo = (-y, -x) if y > 0 else (x, y)
    la = float(special.log_ndtr(hi))
    if la == -math.inf:
        return -math.inf
    d = float(special.log_ndtr(lo)) - la
    if d > -0.5 and hi - lo <= 2.0:
        return _log_phi_integral(lo, hi)
    return la + _log1mexp(d)


def log_p_of(loc: float, scale: float, log_frac: float, threshold: float, lower: float, upper: float) -> float:
    """``log p`` of a fitted truncated normal: ``log_frac + log P(X < threshold)`` with its edge cases (a
    threshold at or outside a bound, ``scale == 0``); ``log_frac`` is the log of the fraction of MAEs fitted."""
    if threshold <= lower:
        return -math.inf
    if threshold >= upper:
        return log_frac
    if scale == 0.0:
        return log_frac if loc < threshold else -math.inf
    return truncnorm_logcdf(threshold, loc, scale, lower, upper) + log_frac


def truncnorm_logcdf(x: float, loc: float, scale: float, lower: float, upper: float) -> float:
    """``log P(X < x)`` for ``X ~ N(loc, scale)`` truncated to ``[lower, upper]``, in log space.

    Parameters
    ----------
    x, loc : float
    scale : float
        Positive.
    lower, upper : float
        The truncation bounds, ``lower < upper``.

    Returns
    -------
    float
        ``-inf`` for ``x <= lower``, ``0`` for ``x >= upper``; finite in between
        unless the value lies below the float range.
    """
    caller = "truncnorm_logcdf"
    x = float(x)
    loc = check_real(loc, "loc", caller)
    scale = check_real(scale, "scale", caller, low=0.0, low_open=True)
    lower, upper = check_bounds(lower, upper, caller)
    if math.isnan(x):
        return math.nan
    if x <= lower:
        return -math.inf
    if x >= upper:
        return 0.0
    a, b, t = (lower - loc) / scale, (upper - loc) / scale, (x - loc) / scale
    num = log_ndtr_diff(t, a)
    if num == -math.inf:
        return -math.inf
    return min(num - log_ndtr_diff(b, a), 0.0)


def check_bounds(lower, upper, caller: str) -> tuple[float, float]:
    """Finite bounds with ``lower < upper``, or :class:`InvalidParameterError` naming ``caller``."""
    lower = check_real(lower, "lower", caller)
    upper = check_real(upper, "upper", caller)
    if not lower < upper:
        raise InvalidParameterError(
            f"The bounds of {caller} must satisfy lower < upper: "
            f"lower={lower!r} must be below upper={upper!r}."
        )
    return lower, upper


def _check_maes(maes, caller: str) -> np.ndarray:
    rule = f"The 'maes' parameter of {caller} must be a 1-D array of at least 2 real numbers."
    try:
        arr = np.asarray(maes)
    except Exception as exc:  # ragged input and the like
        raise InvalidParameterError(f"{rule} Got {maes!r} instead.") from exc
    if arr.dtype.kind not in "iuf":
        raise InvalidParameterError(f"{rule} Got an array of dtype {arr.dtype} instead.")
    if arr.ndim != 1 or arr.size < 2:
        raise InvalidParameterError(f"{rule} Got an array of shape {arr.shape} instead.")
    return arr.astype(np.float64)


def _neg_loglik_std(theta, ybar: float, y2bar: float, lo: float, hi: float):
    """Mean negative log-likelihood (and gradient) of standardised data.

    ``theta = (m, log s)``; the data enter through ``ybar = mean(y)`` and
    ``y2bar = mean(y**2)``, the truncation bounds are ``[lo, hi]``.
    """
    m, u = float(theta[0]), float(theta[1])
    s = math.exp(u)
    alpha, beta = (lo - m) / s, (hi - m) / s
    log_z = log_ndtr_diff(beta, alpha)
    q = y2bar - 2.0 * m * ybar + m * m
    f = 0.5 * q / (s * s) + u + log_z + _LOG_SQRT_2PI
    r_a = math.exp(-0.5 * alpha * alpha - _LOG_SQRT_2PI - log_z)
    r_b = math.exp(-0.5 * beta * beta - _LOG_SQRT_2PI - log_z)
    g_m = (m - ybar) / (s * s) - (r_b - r_a) / s
    g_u = -q / (s * s) + 1.0 - beta * r_b + alpha * r_a
    return f, np.array([g_m, g_u])


def _mle(x: np.ndarray, lower: float, upper: float) -> tuple[float, float]:
    """Truncated-normal MLE ``(loc, scale)`` of ``x`` (inside the bounds, sd > 0)."""
    mu0, sd0 = float(x.mean()), float(x.std())
    y = (x - mu0) / sd0
    ybar, y2bar = float(y.mean()), float(np.mean(y * y))
    lo, hi = (lower - mu0) / sd0, (upper - mu0) / sd0
    width = hi - lo
    bounds = [(lo - 10.0 * width, hi + 10.0 * width), (math.log(1e-3), math.log(1e3 * width))]
    args = (ybar, y2bar, lo, hi)
    start = np.array([0.0, 0.0])
    from scipy import optimize  # imported on first use: scipy.optimize and scipy.stats take ~0.8 s to load

    best = optimize.minimize(
        _neg_loglik_std, start, args=args, jac=True, method="L-BFGS-B", bounds=bounds,
        options={"ftol": 1e-15, "gtol": 1e-11, "maxiter": 1000},
    )
    if not best.success:  # e.g. a line search that stopped at the precision limit: polish
        nm = optimize.minimize(
            lambda t: _neg_loglik_std(t, *args)[0], best.x, method="Nelder-Mead", bounds=bounds,
            options={"xatol": 1e-10, "fatol": 1e-14, "maxiter": 4000},
        )
        if nm.fun < best.fun:
            best = nm
    m, u = best.x
    return mu0 + sd0 * float(m), sd0 * math.exp(float(u))


def fit_truncnorm(maes, *, threshold: float = 0.01, lower: float = 0.0, upper: float = 2.0,
                  fit: str = "moments") -> Fit:
    """Fit a truncated normal to the MAEs and report ``p = P(MAE < threshold)``.

    Parameters
    ----------
    maes : array_like of shape (S,)
        At least 2 values; non-finite ones count as "not below threshold".
    threshold : float
        The MAE a good network must beat (the paper: 0.01).
    lower, upper : float
        The truncation bounds (the reference: ``[0, 2]``).
    fit : {"moments", "mle"}
        ``"moments"`` reproduces the reference implementation; ``"mle"`` is
        maximum likelihood.  See the module docstring for the rules.

    Returns
    -------
    Fit

    Warns
    -----
    LogPFloorWarning
        ``"moments"`` only, when ``p == 0`` and ``log_p`` is floored at ``log(1e-300)``.
    """
    caller = "fit_truncnorm"
    fit = check_option(fit, "fit", caller, FITS)
    x = _check_maes(maes, caller)
    threshold = check_real(threshold, "threshold", caller)
    lower, upper = check_bounds(lower, upper, caller)

    n = int(x.size)
    finite = x[np.isfinite(x)]
    n_nonfinite = n - int(finite.size)
    inside = (finite >= lower) & (finite <= upper)
    n_outside = int(finite.size - np.count_nonzero(inside))
    mean = float(finite.mean()) if finite.size else math.nan
    sd = float(finite.std()) if finite.size else math.nan

    used = finite if fit == "moments" else finite[inside]
    n_used = int(used.size)
    log_frac = math.log(n_used / n) if n_used else -math.inf

    if n_used == 0:
        loc = scale = math.nan
    elif fit == "moments":
        loc, scale = mean, sd
    else:
        ptp = float(used.max() - used.min())
        if ptp == 0.0:
            loc, scale = float(used[0]), 0.0
        else:
            loc, scale = _mle(used, lower, upper)

    # log p in log space (the exact value of both fits)
    log_p_exact = -math.inf if n_used == 0 else log_p_of(loc, scale, log_frac, threshold, lower, upper)

    if fit == "mle":
        return Fit(mean, sd, loc, scale, math.exp(log_p_exact), log_p_exact, fit,
                   n, n_used, n_nonfinite, n_outside, log_p_exact)

    # moments: p exactly as the reference computes it
    if n_used == 0 or threshold <= lower:
        p = 0.0
    elif threshold >= upper:
        p = n_used / n
    elif scale == 0.0:
        p = n_used / n if loc < threshold else 0.0
    else:
        p = _truncnorm_cdf((threshold - loc) / scale, (lower - loc) / scale, (upper - loc) / scale)
        if n_used < n:
            p *= n_used / n
    if p > 0:
        log_p = math.log(p)
    else:
        log_p = LOG_P_FLOOR
        warnings.warn(
            f"p underflowed to 0; log p is floored at log(1e-300) = {LOG_P_FLOOR:.4f} "
            f"(the exact value is log_p_exact = {log_p_exact:.6g})",
            LogPFloorWarning, stacklevel=2,
        )
    return Fit(mean, sd, loc, scale, p, log_p, fit, n, n_used, n_nonfinite, n_outside, log_p_exact)
