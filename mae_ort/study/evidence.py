"""Statistics a decision can rest on: correlations with bootstrap intervals, the trainer's noise ceiling,
the decision view of picking the top k by a score, and the trivial baselines of a test span.

Pure functions of arrays and DataFrames (no I/O).  A *score* is a column computed without
training (``log_p``, ``mean``, ``hidden_cov``...); its *direction* says which way is
"better" (:func:`direction`): ``+1`` when a larger score should mean a lower trained
error, ``-1`` when a smaller one should.  A score that works therefore correlates
*negatively* with the trained MAE after multiplying by its direction.
"""

from __future__ import annotations

import itertools
import math
import warnings

import numpy as np

__all__ = [
    "direction",
    "METHODS",
    "correlation",
    "bootstrap_correlation",
    "expected_best_of_random",
    "decision_view",
    "noise_ceiling",
    "baseline_maes",
]

def direction(name: str) -> int:
    """+1 when a larger score should train better, -1 when a smaller one should.

    From the one table of scores, :data:`mae_ort.sampling.scores.SCORES`, through
    :func:`mae_ort.sampling.scores.better` (what ``rank`` and ``search`` order by); every ``log_p``
    variant (floored, exact, mle, ``p``) points like ``log_p``.
    """
    from ..sampling.scores import HIGHER, better

    return +1 if better(name) == HIGHER else -1

#: Correlation methods.
METHODS = ("pearson", "spearman", "kendall")


def _ranks(a: np.ndarray) -> np.ndarray:
    """Average ranks along the last axis (ties get their mean rank)."""
    from scipy.stats import rankdata

    return rankdata(a, axis=-1)


def _pearson_rows(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    x = x - x.mean(axis=-1, keepdims=True)
    y = y - y.mean(axis=-1, keepdims=True)
    den = np.sqrt((x * x).sum(axis=-1) * (y * y).sum(axis=-1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, (x * y).sum(axis=-1) / den, np.nan)


def _kendall_rows(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Kendall's tau-b of each row pair (ties handled as scipy's ``kendalltau``)."""
    dx = np.sign(x[..., :, None] - x[..., None, :])
    dy = np.sign(y[..., :, None] - y[..., None, :])
    n = x.shape[-1]
    iu = np.triu_indices(n, 1)
    dx, dy = dx[..., iu[0], iu[1]], dy[..., iu[0], iu[1]]
    num = (dx * dy).sum(axis=-1)
    den = np.sqrt((dx != 0).sum(axis=-1) * (dy != 0).sum(axis=-1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / den, np.nan)


def correlation(x, y, method: str = "spearman") -> float:
    """Pearson, Spearman or Kendall (tau-b) correlation of the finite pairs; nan below 3 pairs or for a constant."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok], y[ok]
    if x.size < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return math.nan
    if method == "pearson":
        return float(_pearson_rows(x, y))
    if method == "spearman":
        return float(_pearson_rows(_ranks(x), _ranks(y)))
    if method == "kendall":
        return float(_kendall_rows(x, y))
    raise ValueError(f"unknown correlation method {method!r}; use one of {', '.join(METHODS)}")


def bootstrap_correlation(x, y, method: str = "spearman", *, boot: int = 1000, level: float = 0.95,
                          seed: int = 0) -> tuple[float, float, float, int]:
    """A correlation and its percentile bootstrap interval (pairs resampled with replacement).

    Returns
    -------
    (value, low, high, n)
        ``value`` on all finite pairs; ``low``/``high`` the ``(1 - level) / 2`` and
        ``(1 + level) / 2`` quantiles over ``boot`` resamples (resamples whose correlation is
        undefined, e.g. constant, are dropped); ``n`` pairs.  nan below 3 pairs.
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok], y[ok]
    n = int(x.size)
    value = correlation(x, y, method)
    if n < 3 or not math.isfinite(value):
        return value, math.nan, math.nan, n
    idx = np.random.default_rng(seed).integers(0, n, size=(boot, n))
    xb, yb = x[idx], y[idx]
    if method == "pearson":
        r = _pearson_rows(xb, yb)
    elif method == "spearman":
        r = _pearson_rows(_ranks(xb), _ranks(yb))
    else:  # pairwise signs take boot x n^2 memory: a few resamples at a time
        step = max(1, 2_000_000 // max(1, n * n))
        r = np.concatenate([_kendall_rows(xb[i:i + step], yb[i:i + step]) for i in range(0, boot, step)])
    r = r[np.isfinite(r)]
    if r.size < boot // 2:
        return value, math.nan, math.nan, n
    lo, hi = np.quantile(r, [(1 - level) / 2, (1 + level) / 2])
    return value, float(lo), float(hi), n


def expected_best_of_random(maes, k: int) -> tuple[float, float]:
    """Mean and sd of the lowest of ``k`` MAEs drawn without replacement from ``maes`` (exact).

    With the MAEs sorted ascending, ``m_(1) <= ... <= m_(n)``, the lowest of a random
    k-subset is ``m_(i)`` with probability ``C(n - i, k - 1) / C(n, k)``.
    """
    m = np.sort(np.asarray(maes, dtype=np.float64)[np.isfinite(np.asarray(maes, dtype=np.float64))])
    n = m.size
    if n == 0 or k < 1:
        return math.nan, math.nan
    k = min(k, n)
    total = math.comb(n, k)
    p = np.array([math.comb(n - i, k - 1) / total for i in range(1, n + 1)])
    mean = float((p * m).sum())
    return mean, float(math.sqrt(max(0.0, (p * (m - mean) ** 2).sum())))


def decision_view(scores, maes, *, direction: int, ks=(1, 3, 5)) -> list[dict]:
    """Picking the top ``k`` architectures by a score: the best trained MAE among them, against all and chance.

    Returns
    -------
    list of dict
        Per ``k``: ``picked_best`` (lowest trained MAE among the k best by the score),
        ``best`` (lowest of all), ``random_mean``/``random_sd`` (the lowest of k picked at
        random, :func:`expected_best_of_random`), ``n``.
    """
    s = np.asarray(scores, dtype=np.float64)
    y = np.asarray(maes, dtype=np.float64)
    ok = np.isfinite(s) & np.isfinite(y)
    s, y = s[ok], y[ok]
    out = []
    order = np.argsort(-direction * s, kind="stable")
    for k in ks:
        if y.size == 0:
            out.append(dict(k=k, picked_best=math.nan, best=math.nan, random_mean=math.nan, random_sd=math.nan, n=0))
            continue
        kk = min(k, y.size)
        rm, rs = expected_best_of_random(y, kk)
        out.append(dict(k=k, picked_best=float(y[order[:kk]].min()), best=float(y.min()), random_mean=rm,
                        random_sd=rs, n=int(y.size)))
    return out


def _masked_pearson(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Pearson of each row pair over the entries finite in both; nan below 3 of them or for a constant."""
    ok = np.isfinite(x) & np.isfinite(y)
    cnt = ok.sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        xc = np.where(ok, x, 0.0)
        yc = np.where(ok, y, 0.0)
        xc = np.where(ok, xc - xc.sum(axis=-1, keepdims=True) / cnt[..., None], 0.0)
        yc = np.where(ok, yc - yc.sum(axis=-1, keepdims=True) / cnt[..., None], 0.0)
        den = np.sqrt((xc * xc).sum(axis=-1) * (yc * yc).sum(axis=-1))
        r = (xc * yc).sum(axis=-1) / den
    return np.where((cnt >= 3) & (den > 1e-300), r, np.nan)


def _pair_agreement(x: np.ndarray, y: np.ndarray, method: str) -> np.ndarray:
    """Spearman or Kendall (tau-b) of each row pair over the entries finite in both (nan where undefined)."""
    from scipy.stats import rankdata

    ok = np.isfinite(x) & np.isfinite(y)
    x, y = np.where(ok, x, np.nan), np.where(ok, y, np.nan)
    if method == "spearman":
        return _masked_pearson(rankdata(x, axis=-1, nan_policy="omit"), rankdata(y, axis=-1, nan_policy="omit"))
    both = ok[..., :, None] & ok[..., None, :]
    dx = np.where(both, np.sign(np.nan_to_num(x[..., :, None] - x[..., None, :])), 0.0)
    dy = np.where(both, np.sign(np.nan_to_num(y[..., :, None] - y[..., None, :])), 0.0)
    n = x.shape[-1]
    iu = np.triu_indices(n, 1)
    dx, dy = dx[..., iu[0], iu[1]], dy[..., iu[0], iu[1]]
    num = (dx * dy).sum(axis=-1)
    den = np.sqrt((dx != 0).sum(axis=-1) * (dy != 0).sum(axis=-1))
    with np.errstate(invalid="ignore", divide="ignore"):
        r = np.where(den > 0, num / den, np.nan)
    return np.where(ok.sum(axis=-1) >= 3, r, np.nan)


def _mean_over_pairs(m: np.ndarray, pairs, method: str) -> np.ndarray:
    """The mean agreement over seed pairs of ``m`` (..., architectures, seeds); nan where no pair is defined."""
    values = np.stack([_pair_agreement(m[..., i], m[..., j], method) for i, j in pairs], axis=-1)
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-nan rows give nan, as they should
        return np.nanmean(values, axis=-1)


def noise_ceiling(maes, second=None, *, boot: int = 1000, level: float = 0.95, seed: int = 0) -> dict:
    """How well the trainer ranks the architectures against itself: the mean agreement of two seeds' rankings.

    Parameters
    ----------
    maes : array-like of shape (n_architectures, n_seeds)
        Trained MAE of architecture ``i`` with seed ``j`` (nan where that training is missing).  The
        old form ``noise_ceiling(first, second)`` with two vectors is the two-seed case.
    boot : int
        Bootstrap resamples: the architectures (rows) are resampled with replacement
        (``numpy.random.default_rng(seed)``), and the mean over seed pairs is recomputed on each.
    level : float
        The interval's coverage (percentile interval).

    Returns
    -------
    dict
        ``spearman`` (the mean over all seed pairs ``j < k`` of Spearman's rho between column ``j``
        and column ``k``, each on the architectures trained with both), ``spearman_low``/``spearman_high``,
        the same for Kendall's tau-b, ``n`` (architectures trained with at least two seeds), ``seeds``
        (seeds with at least 3 architectures) and ``pairs``.  No training-free score can rank the
        architectures by trained error better than the trainer ranks them against itself (the
        reliability ceiling of Spearman, 1910, "Correlation calculated from faulty data").
    """
    m = np.asarray(maes, dtype=np.float64)
    if second is not None:
        m = np.column_stack([m.ravel(), np.asarray(second, dtype=np.float64).ravel()])
    if m.ndim != 2:
        raise ValueError(f"noise_ceiling needs a (architectures, seeds) matrix; got shape {m.shape}")
    m = np.where(np.isfinite(m), m, np.nan)
    m = m[:, np.isfinite(m).sum(axis=0) >= 3]
    m = m[np.isfinite(m).sum(axis=1) >= 2]
    n, k = m.shape
    pairs = list(itertools.combinations(range(k), 2))
    out: dict = {}
    idx = np.random.default_rng(seed).integers(0, n, size=(boot, n)) if n >= 3 and pairs else None
    for method in ("spearman", "kendall"):
        value = float(_mean_over_pairs(m, pairs, method)) if n >= 3 and pairs else math.nan
        lo = hi = math.nan
        if idx is not None and math.isfinite(value):
            step = boot if method == "spearman" else max(1, 2_000_000 // max(1, n * n))
            r = np.concatenate([_mean_over_pairs(m[idx[i:i + step]], pairs, method) for i in range(0, boot, step)])
            r = r[np.isfinite(r)]
            if r.size >= boot // 2:
                lo, hi = (float(q) for q in np.quantile(r, [(1 - level) / 2, (1 + level) / 2]))
        out[method], out[f"{method}_low"], out[f"{method}_high"] = value, lo, hi
    out.update(n=int(n), seeds=int(k), pairs=len(pairs))
    return out


def baseline_maes(split, look_back: int) -> dict:
    """One-step test MAEs of trivial predictors on the test windows a trained network is judged on.

    ``zero`` predicts 0; ``train_mean`` the training part's mean target; ``persistence`` the
    target's previous value (also when the target is not an input).  The forecaster's full set
    (seasonal naive, a linear autoregression, ETS, ARIMA) is :func:`mae_ort.study.baselines.evaluate`.
    """
    from .baselines import mae, persistence_forecast, train_mean_forecast

    split.test_windows(look_back)  # the same checks as the networks' test windows
    n = split.train.length
    t = np.concatenate([split.train.targets, split.test.targets]).astype(np.float64)
    y = t[n:]
    return {"zero": float(np.abs(y).mean()), "train_mean": mae(y, train_mean_forecast(t, n)),
            "persistence": mae(y, persistence_forecast(t, n))}
