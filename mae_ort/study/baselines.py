"""The baselines a forecaster compares a network against, on the networks' own test points.

A trained network with look-back ``LB`` is judged on one window per test point
(:meth:`mae_ort.data.TrainTestSplit.test_windows`): its targets are the test part's
targets, every test point once, whatever the look-back.  Each baseline forecasts those
same points one step ahead, from what was known the step before, and is fitted on the
training part only (never refitted on the test part):

* ``train_mean``: the training part's mean target;
* ``persistence``: the target's previous value (the last training value for the first
  test point), also when the target is not among the inputs;
* ``seasonal_naive``: the target's value one season (``season = P``) back;
* ``ridge_ar``: a linear autoregression on the look-back window, ridge regression of the
  target on the window of every input and a constant, ``lambda = 1e-3`` on every
  coefficient (the constant's too, as :mod:`mae_ort.sampling.readout`), fitted on the
  training windows;
* ``ets``: exponential smoothing with additive errors (Hyndman, Koehler, Snyder & Grose,
  "A state space framework for automatic forecasting using exponential smoothing
  methods", IJF 18 (2002) 439-454): no, additive or damped additive trend, and an
  additive season when ``season`` is given, chosen by AICc on the training part;
* ``arima``: an automatically ordered (seasonal) ARIMA, :func:`arima_order`.

A season longer than :data:`MAX_SEASON` (24) is too long for seasonal ETS and ARIMA states
(Hyndman & Athanasopoulos, FPP3 §12.1): ETS leaves it out and ARIMA takes it as Fourier
terms (dynamic harmonic regression); the model names say so.

The statistical two (``ets``, ``arima``) use statsmodels, the optional extra
``mae-ort[baselines]``; without it they are skipped with one warning.  One-step
forecasts over the test part keep the parameters fitted on the training part: ARIMA
through the SARIMAX results' ``extend`` (the filter carries on from the last training
state), ETS by smoothing a model of the whole series with the fitted parameters (its
initial states included), as statsmodels' ETS results have no ``extend``.

Every function takes the target column(s) explicitly (``targets`` of shape ``(T, n_out)``
over the training and test parts together, ``n_train`` the training part's length), so a
change target composes by passing the target it forecasts.  MAEs are in the target's own
units (the split's scaling), over every test point and target column, as the networks'.
"""

from __future__ import annotations

import math
import warnings
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np

from .._checks import check_int
from ..errors import DataError, InvalidParameterError, MaeOrtError, MaeOrtWarning

__all__ = [
    "RIDGE_LAMBDA",
    "BASELINES",
    "LABELS",
    "EXTRA",
    "check_season",
    "statsmodels_available",
    "mae",
    "train_mean_forecast",
    "persistence_forecast",
    "seasonal_naive_forecast",
    "ridge_ar_forecast",
    "ets_forecast",
    "arima_order",
    "arima_forecast",
    "fourier",
    "Baseline",
    "evaluate",
    "as_records",
    "best_baseline",
    "ridge_at",
    "summary_line",
]

#: The ridge penalty of the linear autoregression (the readout's, :data:`mae_ort.sampling.readout.RIDGE_LAMBDA`).
RIDGE_LAMBDA = 1e-3

#: Every baseline, in the order they are reported.
BASELINES = ("train_mean", "persistence", "seasonal_naive", "ridge_ar", "ets", "arima")

#: Readable names.
LABELS = {"zero": "predicting 0", "train_mean": "the training mean", "persistence": "persistence",
          "seasonal_naive": "seasonal naive", "ridge_ar": "linear autoregression (ridge)",
          "ets": "exponential smoothing", "arima": "ARIMA"}

#: The optional extra that installs the statistical baselines' library.
EXTRA = "mae-ort[baselines]"

#: The least training points the statistical models are fitted on (and two full seasons besides, with a season).
MIN_STAT_POINTS = 10

#: The longest season ETS and seasonal ARIMA model as such.  Longer ones (weekly data with a yearly cycle: 52) have
#: too many seasonal states to estimate (Hyndman & Athanasopoulos, "Forecasting: principles and practice", 3rd ed.,
#: 2021, §12.1): ETS then leaves the season out and ARIMA models it with Fourier terms (dynamic harmonic regression).
MAX_SEASON = 24

#: The most Fourier pairs of a long season (their number chosen by AICc, as in the same §12.1).
MAX_FOURIER = 3


def check_season(season, n_train: int, caller: str) -> int | None:
    """``season`` as an int in ``[2, n_train]`` (or None): the seasonal naive forecast reads one season back.

    Raises
    ------
    InvalidParameterError
        Below 2 or longer than the training part.
    """
    if season is None:
        return None
    try:
        return check_int(season, "season", caller, low=2, high=int(n_train))
    except InvalidParameterError:
        raise InvalidParameterError(f"The 'season' parameter of {caller} must be an int in the range [2, {n_train}] "
                                    f"(at most the training part's length). Got {season!r} instead.") from None


def statsmodels_available() -> bool:
    """Whether statsmodels (the ``baselines`` extra) can be imported."""
    try:
        import statsmodels  # noqa: F401
    except ImportError:
        return False
    return True


def _column(a) -> np.ndarray:
    a = np.asarray(a, dtype=np.float64)
    return a[:, None] if a.ndim == 1 else a


def mae(y, pred) -> float:
    """The mean absolute error over every point and column (float64)."""
    return float(np.mean(np.abs(_column(y) - _column(pred))))


def train_mean_forecast(targets, n_train: int) -> np.ndarray:
    """The training part's mean target at every test point, shape ``(T - n_train, n_out)``."""
    t = _column(targets)
    return np.repeat(t[:n_train].mean(axis=0, keepdims=True), t.shape[0] - n_train, axis=0)


def persistence_forecast(targets, n_train: int) -> np.ndarray:
    """The target's previous value at every test point: ``targets[n_train - 1 : T - 1]``."""
    t = _column(targets)
    return t[n_train - 1:-1].copy()


def seasonal_naive_forecast(targets, n_train: int, season: int) -> np.ndarray:
    """The target's value one season back at every test point: ``targets[n_train - P : T - P]``."""
    t = _column(targets)
    if not 1 <= season <= n_train:
        raise DataError(f"season={season} needs at least {season} training points; the training part has {n_train}")
    return t[n_train - season:t.shape[0] - season].copy()


def ridge_ar_forecast(inputs, targets, n_train: int, look_back: int, *, lam: float = RIDGE_LAMBDA):
    """A linear autoregression on the look-back window, fitted on the training windows by ridge regression.

    The features of the window ending before point ``t`` are ``inputs[t - LB : t]`` (flattened,
    ``LB * n_in`` values) and a constant; ``w = (A^T A + lam I)^-1 A^T y`` over the training
    windows (``t`` in ``[LB, n_train)``); forecasts at ``t`` in ``[n_train, T)``.

    Parameters
    ----------
    inputs : array of shape (T, n_in)
    targets : array of shape (T, n_out) or (T,)
        The training and test parts together.
    n_train, look_back : int
    lam : float

    Returns
    -------
    pred : ndarray of shape (T - n_train, n_out)
    w : ndarray of shape (LB * n_in + 1, n_out)
        The coefficients, the constant's last.

    Raises
    ------
    DataError
        Fewer than 2 training windows.
    """
    x, t = _column(inputs), _column(targets)
    if n_train - look_back < 2:
        raise DataError(f"the linear autoregression needs at least 2 training windows; the training part has "
                        f"{n_train} points, look_back={look_back} leaves {max(0, n_train - look_back)}")
    idx = np.arange(look_back, x.shape[0])[:, None] + np.arange(-look_back, 0)[None, :]
    A = np.concatenate([x[idx].reshape(len(idx), -1), np.ones((len(idx), 1))], axis=1)
    n_fit = n_train - look_back
    Af = A[:n_fit]
    G = Af.T @ Af + lam * np.eye(A.shape[1])
    w = np.linalg.solve(G, Af.T @ t[look_back:n_train])
    return A[n_fit:] @ w, w


# -- the statistical models (statsmodels) -------------------------------------------------------------
@contextmanager
def _quiet():
    """statsmodels' convergence warnings (and numpy's round-off ones) are not the user's business here."""
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        yield


def _check_stat_length(n_train: int, season: int | None, what: str) -> None:
    need = max(MIN_STAT_POINTS, 2 * season + 2 if season else 0)
    if n_train < need:
        why = f" (two full seasons of {season} and 2 more)" if season else ""
        raise DataError(f"{what} needs at least {need} training points{why}; the training part has {n_train}")


#: The trend candidates of exponential smoothing: (trend, damped).
ETS_TRENDS = ((None, False), ("add", False), ("add", True))


def ets_forecast(y, n_train: int, *, season: int | None = None, trends=ETS_TRENDS):
    """One-step exponential smoothing forecasts over the test part, fitted on the training part.

    Candidates (additive errors): trend none, additive or damped additive; an additive
    season of period ``season`` when given (up to :data:`MAX_SEASON`; a longer one is left out);
    the one with the lowest AICc on the training part wins.  The winner's parameters (initial
    states included) then smooth a model of the whole series, whose fitted values after
    ``n_train`` are the one-step forecasts.

    Parameters
    ----------
    y : array of shape (T,)
        One target column, training and test parts together.
    n_train : int
    season : int, optional
    trends : sequence of (trend, damped)
        The trend candidates (default :data:`ETS_TRENDS`).

    Returns
    -------
    pred : ndarray of shape (T - n_train,)
    spec : dict
        The chosen model's keyword arguments to ``ETSModel``, its ``params`` and ``name``
        (e.g. ``ETS(A,Ad,A)[12]``).

    Raises
    ------
    DataError
        A training part too short for the model, or no candidate could be fitted.
    """
    from statsmodels.tsa.exponential_smoothing.ets import ETSModel

    y = np.asarray(y, dtype=np.float64)
    _check_stat_length(n_train, season, "exponential smoothing")
    long_season = season if season and season > MAX_SEASON else None
    season = None if long_season else season
    best, errors = None, []
    with _quiet():
        for trend, damped in trends:
            kw = dict(error="add", trend=trend, damped_trend=damped, seasonal="add" if season else None,
                      seasonal_periods=season)
            try:
                res = ETSModel(y[:n_train], **kw).fit(disp=False)
            except (ValueError, np.linalg.LinAlgError) as e:
                errors.append(str(e))
                continue
            if np.isfinite(res.aicc) and (best is None or res.aicc < best[0]):
                best = (res.aicc, kw, np.asarray(res.params))
        if best is None:
            raise DataError("exponential smoothing could not be fitted on the training part"
                            + (f": {errors[0]}" if errors else ""))
        _, kw, params = best
        pred = np.asarray(ETSModel(y, **kw).smooth(params).fittedvalues)[n_train:]
    name = (f"ETS(A,{'N' if kw['trend'] is None else 'Ad' if kw['damped_trend'] else 'A'},"
            f"{'A' if season else 'N'})" + (f"[{season}]" if season else "")
            + (f", season {long_season} left out (longer than {MAX_SEASON})" if long_season else ""))
    return pred, {**kw, "params": params, "name": name}


def _sarimax(y, order, seasonal_order, trend, exog=None):
    from statsmodels.tsa.statespace.sarimax import SARIMAX

    return SARIMAX(y, exog=exog, order=order, seasonal_order=seasonal_order, trend=trend)


def fourier(start: int, n: int, season: int, k: int) -> np.ndarray:
    """Fourier terms of period ``season`` at time points ``start .. start + n - 1``, shape ``(n, 2k)``:
    ``sin(2 pi j t / season), cos(2 pi j t / season)`` for ``j = 1 .. k``."""
    t = np.arange(start, start + n, dtype=np.float64)[:, None] * (2 * np.pi / season) * np.arange(1, k + 1)[None, :]
    return np.concatenate([np.sin(t), np.cos(t)], axis=1)


def _trend(d: int, D: int) -> str:
    """A constant where at most one difference is taken (after one difference it is a drift), else none."""
    return "c" if d + D <= 1 else "n"


def _ndiffs(y, max_d: int = 2, alpha: float = 0.05) -> int:
    """Differences until the KPSS test no longer rejects level stationarity at ``alpha`` (Hyndman & Khandakar)."""
    from statsmodels.tsa.stattools import kpss

    d, x = 0, np.asarray(y, dtype=np.float64)
    with _quiet():
        while d < max_d and len(x) > 3 and np.ptp(x) > 0 and kpss(x, regression="c", nlags="auto")[1] < alpha:
            x, d = np.diff(x), d + 1
    return d


def _nsdiffs(y, season: int) -> int:
    """One seasonal difference when the seasonal strength of an STL decomposition exceeds 0.64.

    Strength ``F_s = max(0, 1 - Var(R) / Var(S + R))`` (Wang, Smith & Hyndman, "Characteristic-based
    clustering for time series data", DMKD 13 (2006) 335-364; the threshold of R's ``forecast::nsdiffs``).
    """
    from statsmodels.tsa.seasonal import STL

    with _quiet():
        r = STL(np.asarray(y, dtype=np.float64), period=season).fit()
    sr = np.var(r.seasonal + r.resid)
    strength = max(0.0, 1.0 - np.var(r.resid) / sr) if sr > 0 else 0.0
    return int(strength > 0.64)


def arima_order(y, *, season: int | None = None, max_p: int = 5, max_q: int = 5, max_P: int = 1, max_Q: int = 1,
                max_fits: int = 24, exog=None) -> dict:
    """An ARIMA order chosen automatically on a training series: the stepwise search of Hyndman & Khandakar.

    Hyndman & Khandakar, "Automatic time series forecasting: the forecast package for R",
    J. Stat. Softw. 27(3) (2008), §3.2, as statsmodels has no ``auto_arima``:

    1. ``d`` (0 to 2): difference until the KPSS test stops rejecting stationarity at 5 %;
       with a season, ``D`` (0 or 1) from the seasonal strength of an STL decomposition
       (above 0.64: one seasonal difference), decided before ``d``;
    2. a constant (a drift after one difference) when ``d + D <= 1``;
    3. start from the best AICc of ``(2,d,2)(1,D,1)``, ``(0,d,0)(0,D,0)``, ``(1,d,0)(1,D,0)``,
       ``(0,d,1)(0,D,1)`` (seasonal parts only with a season); then move to the best of the
       neighbours (``p``, ``q``, ``P``, ``Q`` one up or down, ``p`` and ``q`` together) while the
       AICc improves, at most ``max_fits`` models in all.

    Parameters
    ----------
    y : array of shape (T_train,)
    season : int, optional
    max_p, max_q, max_P, max_Q, max_fits : int
    exog : array of shape (T_train, k), optional
        Regressors of every candidate (the Fourier terms of a long season).

    Returns
    -------
    dict
        ``order`` (p, d, q), ``seasonal_order`` (P, D, Q, s), ``trend``, ``aicc``, ``params``
        (fitted on ``y``) and ``tried`` (``{(order, seasonal_order): aicc}``).

    Raises
    ------
    DataError
        No candidate could be fitted.
    """
    y = np.asarray(y, dtype=np.float64)
    s = season or 0
    D = _nsdiffs(y, s) if s else 0
    d = _ndiffs(y[s:] - y[:-s] if D else y)
    trend = _trend(d, D)
    tried: dict = {}
    fits: dict = {}

    def fit(p, q, P, Q):
        key = ((p, d, q), (P, D, Q, s) if season else (0, 0, 0, 0))
        if key in tried or len(tried) >= max_fits:
            return key
        try:
            with _quiet():
                res = _sarimax(y, key[0], key[1], trend, exog).fit(disp=False)
            tried[key] = float(res.aicc) if np.isfinite(res.aicc) else math.inf
            fits[key] = np.asarray(res.params)
        except (ValueError, np.linalg.LinAlgError):
            tried[key] = math.inf
        return key

    starts = [(2, 2, 1, 1), (0, 0, 0, 0), (1, 0, 1, 0), (0, 1, 0, 1)]
    for p, q, P, Q in starts:
        fit(min(p, max_p), min(q, max_q), min(P, max_P) if season else 0, min(Q, max_Q) if season else 0)
    best = min(tried, key=lambda k: tried[k])
    while len(tried) < max_fits:
        (p, _, q), (P, _, Q, _) = best
        moves = [(p + a, q + b, P, Q) for a, b in ((1, 0), (-1, 0), (0, 1), (0, -1), (1, 1), (-1, -1))]
        if season:
            moves += [(p, q, P + a, Q + b) for a, b in ((1, 0), (-1, 0), (0, 1), (0, -1))]
        moves = [m for m in moves if 0 <= m[0] <= max_p and 0 <= m[1] <= max_q and 0 <= m[2] <= max_P
                 and 0 <= m[3] <= max_Q]
        keys = [fit(*m) for m in moves]
        cand = min((k for k in keys if k in tried), key=lambda k: tried[k], default=best)
        if tried[cand] >= tried[best]:
            break
        best = cand
    if not math.isfinite(tried[best]):
        raise DataError("ARIMA could not be fitted on the training part (no candidate order converged)")
    return {"order": best[0], "seasonal_order": best[1], "trend": trend, "aicc": tried[best],
            "params": fits[best], "tried": dict(tried)}


def arima_forecast(y, n_train: int, *, order, seasonal_order=(0, 0, 0, 0), trend: str = "n", params=None,
                   exog=None):
    """One-step ARIMA forecasts over the test part, the parameters fitted on the training part.

    ``SARIMAX(y[:n_train], ...)`` fitted by maximum likelihood (or ``params`` as given), then
    its results ``extend(y[n_train:])``: the Kalman filter goes on from the last training state
    with the same parameters, and its one-step predictions are the forecasts.

    Returns
    -------
    pred : ndarray of shape (T - n_train,)
    params : ndarray
        The parameters fitted on the training part.
    """
    y = np.asarray(y, dtype=np.float64)
    with _quiet():
        x = None if exog is None else np.asarray(exog, dtype=np.float64)
        model = _sarimax(y[:n_train], tuple(order), tuple(seasonal_order), trend, None if x is None else x[:n_train])
        res = model.fit(disp=False) if params is None else model.filter(np.asarray(params))
        pred = np.asarray(res.extend(y[n_train:], exog=None if x is None else x[n_train:]).fittedvalues)
    return pred, np.asarray(res.params)


def _arima_name(o) -> str:
    (p, d, q), (P, D, Q, s) = o["order"], o["seasonal_order"]
    return f"ARIMA({p},{d},{q})" + (f"({P},{D},{Q})[{s}]" if s else "") + (" with constant" if o["trend"] == "c"
                                                                          else "")


# -- all of them on a split -----------------------------------------------------------------------------
@dataclass(frozen=True)
class Baseline:
    """One baseline's test MAE on a split.

    Attributes
    ----------
    name : str
        One of :data:`BASELINES`.
    test_mae : float
        ``nan`` when it could not be fitted.
    look_back : int or None
        The window length (``ridge_ar`` only).
    model : str
        What was fitted (e.g. ``ARIMA(1,1,1)``, ``ridge λ = 0.001``).
    error : str or None
        Why it could not be fitted.
    """

    name: str
    test_mae: float
    look_back: int | None = None
    model: str = ""
    error: str | None = None

    @property
    def label(self) -> str:
        """A readable name, with the look-back where it has one."""
        return LABELS.get(self.name, self.name) + (f" (look-back {self.look_back})" if self.look_back else "")


#: Fitted statistical forecasts by (kind, the series' bytes, n_train, season): a report written twice in one process,
#: or validate and its report, fit each model once.  Bounded; the oldest entries go first.
_FITTED: dict = {}
_FITTED_MAX = 32


def _stat_forecast(kind: str, t: np.ndarray, n_train: int, season: int | None) -> tuple[np.ndarray, str]:
    import hashlib

    key = (kind, hashlib.sha256(np.ascontiguousarray(t).tobytes() + repr(t.shape).encode()).hexdigest(), n_train,
           season)
    if key not in _FITTED:
        try:
            _FITTED[key] = _stat_fit(kind, t, n_train, season)
        except Exception as e:  # noqa: BLE001 - a library's fit that fails is reported with its reason, never raised
            _FITTED[key] = e
        while len(_FITTED) > _FITTED_MAX:
            _FITTED.pop(next(iter(_FITTED)))
    got = _FITTED[key]
    if isinstance(got, Exception):
        raise got
    return got[0].copy(), got[1]


def _fourier_arima(y, n_train: int, season: int) -> tuple[np.ndarray, str]:
    """A long season by dynamic harmonic regression: the stepwise ARIMA with ``MAX_FOURIER`` Fourier pairs as
    regressors, then their number (1 .. that) chosen by AICc at the order found."""
    from statsmodels.tsa.statespace.sarimax import SARIMAX  # noqa: F401 - fails here when statsmodels is absent

    kmax = max(1, min(MAX_FOURIER, season // 2))
    full = fourier(0, len(y), season, kmax)
    o = arima_order(y[:n_train], exog=full[:n_train])
    best = (o["aicc"], kmax, o["params"])
    for k in range(1, kmax):
        cols = np.r_[0:k, kmax:kmax + k]
        try:
            with _quiet():
                res = _sarimax(y[:n_train], o["order"], (0, 0, 0, 0), o["trend"], full[:n_train, cols]).fit(disp=False)
        except (ValueError, np.linalg.LinAlgError):
            continue
        if np.isfinite(res.aicc) and res.aicc < best[0]:
            best = (float(res.aicc), k, np.asarray(res.params))
    _, k, params = best
    cols = np.r_[0:k, kmax:kmax + k]
    pred, _ = arima_forecast(y, n_train, order=o["order"], trend=o["trend"], params=params, exog=full[:, cols])
    return pred, f"{_arima_name(o)} + {k} Fourier pair(s) of period {season}"


def _stat_fit(kind: str, t: np.ndarray, n_train: int, season: int | None) -> tuple[np.ndarray, str]:
    preds, names = [], []
    for j in range(t.shape[1]):
        if kind == "ets":
            pred, spec = ets_forecast(t[:, j], n_train, season=season)
            names.append(spec["name"])
        elif season and season > MAX_SEASON:
            _check_stat_length(n_train, season, "ARIMA")
            pred, name = _fourier_arima(t[:, j], n_train, season)
            names.append(name)
        else:
            _check_stat_length(n_train, season, "ARIMA")
            o = arima_order(t[:n_train, j], season=season)
            pred, _ = arima_forecast(t[:, j], n_train, order=o["order"], seasonal_order=o["seasonal_order"],
                                     trend=o["trend"], params=o["params"])
            names.append(_arima_name(o))
        preds.append(pred)
    return np.column_stack(preds), "; ".join(names)


def evaluate(split, *, look_backs=(1,), season: int | None = None, statistical: bool = True,
             caller: str = "baselines") -> list[Baseline]:
    """Every baseline's one-step test MAE on the test points of ``split`` (a :class:`~mae_ort.data.TrainTestSplit`).

    Parameters
    ----------
    split : TrainTestSplit
    look_backs : sequence of int
        The look-backs of the linear autoregression (one row each): the networks'.
    season : int, optional
        The season ``P`` of the seasonal naive forecast, ETS and ARIMA; without it the
        seasonal naive forecast is left out.
    statistical : bool
        Fit ETS and ARIMA (statsmodels); without statsmodels they are skipped with one
        :class:`~mae_ort.errors.MaeOrtWarning` naming the extra.
    caller : str
        Named in parameter errors.

    Returns
    -------
    list of Baseline
        In the order of :data:`BASELINES`; a baseline that cannot be fitted (a short series)
        has ``test_mae`` nan and says why in ``error``.

    Raises
    ------
    InvalidParameterError
        ``season`` below 2 or longer than the training part; a bad look-back.
    """
    n_train = split.train.length
    season = check_season(season, n_train, caller)
    look_backs = sorted({check_int(lb, "look_back", caller, low=1) for lb in look_backs})
    t = np.concatenate([split.train.targets, split.test.targets]).astype(np.float64)
    x = np.concatenate([split.train.inputs, split.test.inputs]).astype(np.float64)
    y = t[n_train:]
    out = [Baseline("train_mean", mae(y, train_mean_forecast(t, n_train)), model="mean of the training part"),
           Baseline("persistence", mae(y, persistence_forecast(t, n_train)), model="the previous value")]
    if season:
        out.append(Baseline("seasonal_naive", mae(y, seasonal_naive_forecast(t, n_train, season)),
                            model=f"the value {season} steps back"))
    for lb in look_backs:
        try:
            pred, _ = ridge_ar_forecast(x, t, n_train, lb)
            out.append(Baseline("ridge_ar", mae(y, pred), lb, f"ridge λ = {RIDGE_LAMBDA:g} on the window"))
        except DataError as e:
            out.append(Baseline("ridge_ar", math.nan, lb, f"ridge λ = {RIDGE_LAMBDA:g} on the window", str(e)))
    if statistical:
        if not statsmodels_available():
            warnings.warn(f"the statistical baselines (exponential smoothing, ARIMA) are skipped: they need "
                          f"statsmodels (pip install '{EXTRA}')", MaeOrtWarning, stacklevel=2)
            return out
        for kind in ("ets", "arima"):
            try:
                pred, name = _stat_forecast(kind, t, n_train, season)
                value = mae(y, pred)
                out.append(Baseline(kind, value, model=name, error=None if math.isfinite(value) else
                                    "its forecasts are not finite"))
            except Exception as e:  # noqa: BLE001 - reported as why it could not be fitted (no traceback)
                msg = str(e).splitlines()[0] if str(e) else type(e).__name__
                out.append(Baseline(kind, math.nan, model="", error=msg if isinstance(e, MaeOrtError)
                                    else f"{type(e).__name__}: {msg}"))
    return out


def as_records(baselines) -> list[dict]:
    """The baselines as JSON-ready dicts (``nan`` as None)."""
    return [{"name": b.name, "label": b.label, "test_mae": b.test_mae if math.isfinite(b.test_mae) else None,
             "look_back": b.look_back, "model": b.model, "error": b.error} for b in baselines]


def best_baseline(baselines, *, look_back: int | None = None) -> Baseline | None:
    """The baseline with the lowest finite test MAE; the linear autoregression only at ``look_back`` when given."""
    ok = [b for b in baselines if math.isfinite(b.test_mae)
          and (b.look_back is None or look_back is None or b.look_back == look_back)]
    return min(ok, key=lambda b: b.test_mae, default=None)


def ridge_at(baselines, look_backs) -> np.ndarray:
    """The linear autoregression's test MAE at each of ``look_backs`` (one per trained row; nan where missing)."""
    by = {b.look_back: b.test_mae for b in baselines if b.name == "ridge_ar"}
    return np.array([by.get(int(lb), math.nan) for lb in look_backs], dtype=np.float64)


def summary_line(baselines, *, digits: int = 4) -> str:
    """One line: each baseline's test MAE (or why it could not be fitted)."""
    parts = []
    for b in baselines:
        what = f"{b.label}" + (f" [{b.model}]" if b.name in ("ets", "arima") and b.model else "")
        parts.append(f"{what} {b.test_mae:.{digits}f}" if math.isfinite(b.test_mae)
                     else f"{what}: not fitted ({b.error})")
    return "; ".join(parts)

