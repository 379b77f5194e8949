"""Samples that stop when the answer is known: ``samples="auto"``, its intervals and its stopping rule.

With :class:`AutoSamples` a row is sampled in rounds of ``round`` weight samples (samples
``0..round-1``, then ``round..2*round-1``, ...; sample ``s`` is the same whatever the round, so
the first ``n`` MAEs equal those of a fixed ``samples=n`` run).  After each round it stops when
both 95 % intervals are narrow enough (:func:`stop_status`), or at ``maximum`` samples.

Intervals (full widths of two-sided 95 % intervals; :func:`log_p_interval`, :func:`mean_interval`)
---------------------------------------------------------------------------------------------------
``log p``
    The delta method on the ``moments`` fit: ``log p = log f + log F(threshold; mean, sd)``,
    ``F`` the truncated normal's cdf on ``[lower, upper]`` (:func:`~.stats.truncnorm_logcdf`,
    exact in the tail), ``f`` the fraction of finite MAEs.  The covariance of ``(mean, sd)`` comes
    from the MAEs' own central moments (``m2/n``, ``m3/(2 sd n)``, ``(m4 - m2^2)/(4 m2 n)``, no
    normality assumed), that of ``log f`` is binomial, ``(1 - f)/(n f)``; the gradient is a
    central difference.  The interval is ``log_p_exact +- 1.96 se``, both ends clipped at the
    reference's floor ``log(1e-300)`` (the ``log_p`` that rows are ranked by), so a row whose
    whole interval lies below the floor has width 0.  ``log p = -inf`` (no MAE below an
    attainable threshold: a point mass above it, every MAE non-finite) is an interval of width 0.
    Deterministic: no resampling, no seed.
``mean MAE``
    Student's t interval of the finite MAEs (``scipy.stats.t``, ``n - 1`` degrees of freedom).

Stopping rule
-------------
After a round with ``n`` samples drawn, a row is ``converged`` when

* the interval of ``log p`` is at most ``tolerance`` wide **or** at most ``relative x |log p|``
  wide, and
* the interval of the mean MAE is at most ``mean_tolerance x mean`` wide;

otherwise it goes on, and stops as ``maximum`` at ``maximum`` samples.  Why these defaults:
``round=25`` keeps the first estimate usable (the delta method needs a few dozen MAEs) while
costing a quarter of the paper's 100; ``maximum=400`` caps a row at 4x the paper's cost.
``tolerance=0.5`` resolves ``p`` within a factor ``e^0.5 ~ 1.6`` either way where ``p`` is
large.  Far in the tail an absolute width is out of reach: the width grows like
``|log p| sqrt(8/n)``; on ``paper-2layer`` (log p from -28 to -9) the median width at S = 100 is
7.0, which is 0.46 of ``|log p|`` (0.85 at S = 25, 0.64 at S = 50).  ``relative=0.5`` asks for
about the precision that the paper's S = 100 gives a typical row, spending fewer samples where
the MAEs are tight and more where they are not.  ``mean_tolerance=0.1`` asks for the mean MAE
within +-5 % (on ``paper-2layer`` the t interval's median width is 0.17 of the mean at S = 25,
0.084 at S = 100).  ``relative=0`` leaves the absolute ``tolerance`` alone; ``mean_tolerance=inf``
turns the mean criterion off.

Racing (``race=K``, :mod:`mae_ort.screening.race`) is a property of a sweep, not of one row:
:class:`AutoSamples` carries it so that raced rows have their own settings identity.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, fields

import numpy as np

from .._checks import check_int, check_real
from ..errors import InvalidParameterError
from .stats import LOG_P_FLOOR, log_p_of

__all__ = ["AutoSamples", "STATUSES", "Z95", "log_p_interval", "log_p_known", "mean_interval", "stop_status"]

#: What a row's ``status`` says about how its sampling ended: ``fixed`` (a fixed ``samples``),
#: ``converged`` (``samples="auto"``: both intervals narrow enough), ``maximum`` (auto: the
#: maximum was reached first), ``raced`` (a race stopped it: its optimistic bound could not
#: reach the top K, so it is *not* a full estimate).
STATUSES = ("fixed", "converged", "maximum", "raced")

#: The two-sided 95 % normal quantile.
Z95 = 1.959963984540054

_NAMES = {"round": "round", "max": "maximum", "maximum": "maximum", "tol": "tolerance", "tolerance": "tolerance",
          "rel": "relative", "relative": "relative", "mean": "mean_tolerance", "mean_tolerance": "mean_tolerance",
          "race": "race"}


@dataclass(frozen=True)
class AutoSamples:
    """Sample in rounds until the answer is known (``samples="auto"``; see the module docstring).

    Parameters
    ----------
    round : int
        Samples per round, >= 2 (default 25).
    maximum : int
        The most samples of a row, >= 2 (default 400); a round is cut to end there.
    tolerance : float
        Full width of the 95 % interval of ``log p`` that is narrow enough, > 0 (default 0.5).
    relative : float
        ... or that width as a fraction of ``|log p|``, >= 0 (default 0.5; 0: only ``tolerance`` counts).
    mean_tolerance : float
        Full width of the 95 % t interval of the mean MAE, as a fraction of the mean, > 0
        (default 0.1; ``inf``: off).
    race : int
        0, or the K of a racing sweep (``screen(..., race=K)``; set by the sweep).

    Text form (:meth:`parse`, ``--samples``): ``"auto"`` or ``"auto:tol=0.3,max=200"`` with the keys
    ``round``, ``max``, ``tol``, ``rel``, ``mean`` (and the long names).
    """

    round: int = 25
    maximum: int = 400
    tolerance: float = 0.5
    relative: float = 0.5
    mean_tolerance: float = 0.1
    race: int = 0

    def __post_init__(self) -> None:
        caller = "samples='auto'"
        object.__setattr__(self, "round", check_int(self.round, "round", caller, low=2))
        object.__setattr__(self, "maximum", check_int(self.maximum, "maximum", caller, low=2))
        object.__setattr__(self, "tolerance", _positive(self.tolerance, "tolerance", caller))
        object.__setattr__(self, "relative", _positive(self.relative, "relative", caller, infinite=True, zero=True))
        object.__setattr__(self, "mean_tolerance", _positive(self.mean_tolerance, "mean_tolerance", caller,
                                                             infinite=True))
        object.__setattr__(self, "race", check_int(self.race, "race", caller, low=0))

    @classmethod
    def parse(cls, value, caller: str = "sample") -> "AutoSamples":
        """An :class:`AutoSamples` from itself, ``"auto"`` or ``"auto:key=value,..."``."""
        if isinstance(value, AutoSamples):
            return value
        text = str(value).strip().lower()
        m = re.fullmatch(r"auto(?::(.*))?", text)
        if not isinstance(value, str) or not m:
            raise InvalidParameterError(f"The 'samples' parameter of {caller} must be an int >= 2, 'auto' or "
                                        f"'auto:tol=0.5,max=400,...'. Got {value!r} instead.")
        kw: dict = {}
        for part in filter(None, (p.strip() for p in (m.group(1) or "").split(","))):
            key, _, val = part.partition("=")
            name = _NAMES.get(key.strip())
            if name is None or not val.strip():
                raise InvalidParameterError(f"samples={value!r}: {part!r} is not key=value with a key of round, max, "
                                            "tol, rel, mean")
            try:
                kw[name] = int(val) if name in ("round", "maximum", "race") else float(val)
            except ValueError:
                raise InvalidParameterError(f"samples={value!r}: {key.strip()} must be a number; got "
                                            f"{val.strip()!r}") from None
        return cls(**kw)

    def __str__(self) -> str:
        text = (f"auto:round={self.round},max={self.maximum},tol={self.tolerance:g},rel={self.relative:g},"
                f"mean={self.mean_tolerance:g}")
        return text + (f",race={self.race}" if self.race else "")

    def rounds(self) -> list[tuple[int, int]]:
        """``(first sample, count)`` of every round up to the maximum."""
        return [(s, min(self.round, self.maximum - s)) for s in range(0, self.maximum, self.round)]

    def to_dict(self) -> dict:
        """Plain fields."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


def _positive(value, name: str, caller: str, *, infinite: bool = False, zero: bool = False) -> float:
    if infinite and isinstance(value, (int, float)) and not isinstance(value, bool) and value == math.inf:
        return math.inf
    return check_real(value, name, caller, low=0.0, low_open=not zero)


def log_p_interval(maes, *, threshold: float, lower: float, upper: float) -> tuple[float, float, float]:
    """``(log p, low, high)``: the moments fit's exact ``log p`` and its 95 % delta-method interval.

    Both ends are clipped at ``log(1e-300)`` (see the module docstring); ``log p = -inf`` gives
    ``(-inf, -inf, -inf)``.

    Parameters
    ----------
    maes : array of shape (S,)
        The MAEs drawn so far (non-finite ones count as not below the threshold).
    threshold, lower, upper : float
        As the fit's.
    """
    x = np.asarray(maes, dtype=np.float64)
    n = x.size
    finite = x[np.isfinite(x)]
    nf = finite.size
    if nf == 0:
        return -math.inf, -math.inf, -math.inf
    f = nf / n
    log_f = math.log(f)
    mean = float(finite.mean())
    d = finite - mean
    m2 = float(np.mean(d * d))
    sd = math.sqrt(m2)
    centre = log_p_of(mean, sd, log_f, threshold, lower, upper)
    if centre == -math.inf:
        return centre, centre, centre
    var = (1.0 - f) / (n * f)
    if sd > 0.0 and lower < threshold < upper:
        m3, m4 = float(np.mean(d ** 3)), float(np.mean(d ** 4))
        cov = np.array([[m2, m3 / (2 * sd)], [m3 / (2 * sd), max(m4 - m2 * m2, 0.0) / (4 * m2)]]) / nf
        h_mu, h_sd = 1e-6 * max(sd, abs(mean)), 1e-6 * sd
        g = np.array([
            (log_p_of(mean + h_mu, sd, 0.0, threshold, lower, upper)
             - log_p_of(mean - h_mu, sd, 0.0, threshold, lower, upper)) / (2 * h_mu),
            (log_p_of(mean, sd + h_sd, 0.0, threshold, lower, upper)
             - log_p_of(mean, sd - h_sd, 0.0, threshold, lower, upper)) / (2 * h_sd),
        ])
        var += float(g @ cov @ g) if np.all(np.isfinite(g)) else math.inf
    half = Z95 * math.sqrt(var)
    clip = lambda v: max(v, LOG_P_FLOOR)  # noqa: E731
    return centre, clip(centre - half), clip(min(centre + half, 0.0))


def mean_interval(maes) -> tuple[float, float, float]:
    """``(mean, low, high)``: the finite MAEs' mean and its 95 % Student t interval (inf wide below 2 MAEs)."""
    from scipy import special  # stdtrit is what scipy.stats.t.ppf calls, without importing scipy.stats

    x = np.asarray(maes, dtype=np.float64)
    finite = x[np.isfinite(x)]
    nf = finite.size
    if nf == 0:
        return math.nan, math.nan, math.nan
    mean = float(finite.mean())
    if nf < 2:
        return mean, -math.inf, math.inf
    half = float(special.stdtrit(nf - 1, 0.975)) * float(finite.std(ddof=1)) / math.sqrt(nf)
    return mean, mean - half, mean + half


def log_p_known(interval: tuple[float, float, float], auto: AutoSamples) -> bool:
    """Whether a ``log p`` interval (:func:`log_p_interval`) is narrow enough for ``auto``."""
    centre, lo, hi = interval
    width = hi - lo if hi > lo else 0.0  # -inf ends: width 0
    return width <= auto.tolerance or (auto.relative > 0 and width <= auto.relative * abs(centre))


def stop_status(maes, auto: AutoSamples, *, threshold: float, lower: float, upper: float,
                interval: tuple[float, float, float] | None = None) -> str | None:
    """``"converged"``, ``"maximum"`` or None (draw another round) for the MAEs drawn so far.

    ``interval``: their :func:`log_p_interval`, when the caller has it already.
    """
    if interval is None:
        interval = log_p_interval(maes, threshold=threshold, lower=lower, upper=upper)
    if log_p_known(interval, auto):
        mean, lo, hi = mean_interval(maes)
        if math.isnan(mean) or hi - lo <= auto.mean_tolerance * abs(mean):
            return "converged"
    return "maximum" if len(maes) >= auto.maximum else None
