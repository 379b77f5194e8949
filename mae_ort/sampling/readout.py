"""The echo-state readout: a ridge head fitted on a random recurrent network's last hidden state.

Reservoir computing reads a recurrent network with random, untrained recurrent weights
through a linear head fitted by ridge regression (Jaeger, "The echo state approach to
analysing and training recurrent neural networks", GMD Report 148, 2001; Lukoševičius,
"A practical guide to applying echo state networks", Neural Networks: Tricks of the
Trade, 2012).  As a training-free score it asks: how well does a linear head predict
from this architecture's random hidden states?

Definition (fixed before any measurement):

* features of a window = the last layer's hidden state at its last time step (``H``
  values) and a constant 1, not standardised;
* ridge regression of the one-step target on them, ``lambda = 1e-3`` on every
  coefficient (the constant's too), fitted on the first 70 % of the windows in time
  order (``floor(0.7 N)``), i.e. ``w = (A^T A + lambda I)^-1 A^T y``;
* the sample's value = the mean absolute error of that readout on the last 30 %
  (over windows and target columns);
* the architecture's score = the median over weight samples, a non-finite sample
  (its hidden states overflowed) counting as ``+inf`` like a non-finite MAE
  (:func:`~mae_ort.sampling.scores.mae_quantile`); lower is better.

With fewer fitting windows than features the ridge still has one solution (``A^T A +
lambda I`` is positive definite): the minimum-norm-like fit that interpolates the
fitting windows, so the score then measures how that interpolant extrapolates.  A
constant feature (a saturated unit) acts as a second intercept.

:func:`readout_window_maes` is the readout as echo-state practice writes it: the same ridge on
the concatenation ``[1; u(n); x(n)]`` of a constant, the input and the state (Lukoševičius 2012,
§3: ``y(n) = W_out [1; u(n); x(n)]``; Jaeger 2001 likewise allows input-to-output connections),
with ``u(n)`` the whole look-back window of every input (``LB x n_in`` values) and ``x(n)`` the last
hidden state: the score ``readout_window``.  The window block is the same for every weight sample,
so its Gram block is computed once per pass (:func:`pass_readouts`).

:func:`lookback_ridge` is the data-only baseline: the same ridge on the raw window values.
"""

from __future__ import annotations

import math

import numpy as np

from ..errors import DataError

__all__ = ["RIDGE_LAMBDA", "FIT_FRACTION", "PASS_SCORES", "fit_windows", "readout_maes", "readout_window_maes",
           "pass_readouts", "median_score", "lookback_ridge"]

#: The ridge penalty of the readout.
RIDGE_LAMBDA = 1e-3

#: The share of the windows (the first ones, in time order) that the readout is fitted on.
FIT_FRACTION = 0.7

#: Float64 values of the Gram matrices :func:`readout_window_maes` holds at once (32 MiB), whatever the window.
_GRAM_VALUES = 1 << 22

#: The readout scores of the MAE pass's own hidden states (:func:`pass_readouts`), in that order.
PASS_SCORES = ("readout", "readout_window")


def fit_windows(n: int) -> int:
    """How many of ``n`` windows the readout is fitted on (``floor(0.7 n)``); the rest test it.

    Raises
    ------
    DataError
        Fewer than 2 windows in either part (``n < 4``).
    """
    n_fit = int(math.floor(FIT_FRACTION * n))
    if n_fit < 2 or n - n_fit < 2:
        raise DataError(f"the readout scores need at least 2 windows to fit the ridge on and 2 to test it "
                        f"(70 % / 30 % of the windows in time order); the series has {n} window(s): use a longer "
                        "series or a shorter look-back")
    return n_fit


def readout_maes(features, y, *, lam: float = RIDGE_LAMBDA) -> np.ndarray:
    """Test MAE of the ridge readout of each sample's features.

    Parameters
    ----------
    features : array of shape (S, N, F) or (N, F)
        Per sample, one row of features per window (in time order), without the constant.
    y : array of shape (N, n_out) or (N,)
        The one-step targets.
    lam : float
        The ridge penalty.

    Returns
    -------
    ndarray of shape (S,) (or a 0-d array for 2-D ``features``)
        float64; ``nan`` for a sample whose features are not all finite.
    """
    F = np.asarray(features)
    one = F.ndim == 2
    if one:
        F = F[None]
    y = np.asarray(y, dtype=np.float64)
    y = y[:, None] if y.ndim == 1 else y
    S, N, k = F.shape
    n_fit = fit_windows(N)
    A = np.empty((S, N, k + 1), dtype=np.float64)
    A[:, :, :k] = F
    A[:, :, k] = 1.0
    with np.errstate(all="ignore"):
        finite = np.isfinite(A).all(axis=(1, 2)) & (np.abs(A).max(axis=(1, 2), initial=0.0) < 1e150)
    A[~finite] = 0.0
    Af, At = A[:, :n_fit], A[:, n_fit:]
    G = np.matmul(Af.transpose(0, 2, 1), Af)
    G[:, np.arange(k + 1), np.arange(k + 1)] += lam
    b = np.matmul(Af.transpose(0, 2, 1), y[:n_fit])
    try:
        w = np.linalg.solve(G, b)
    except np.linalg.LinAlgError:  # pragma: no cover - G is positive definite; round-off on huge features only
        w = np.stack([np.linalg.lstsq(G[s], b[s], rcond=None)[0] for s in range(S)])
    with np.errstate(all="ignore"):
        out = np.abs(np.matmul(At, w) - y[n_fit:]).mean(axis=(1, 2))
    out[~finite] = np.nan
    return out[0] if one else out


def readout_window_maes(features, X, y, *, lam: float = RIDGE_LAMBDA) -> np.ndarray:
    """Test MAE of the echo-state readout on ``[1; window; features]`` of each sample (``readout_window``).

    The ridge of :func:`readout_maes` (same ``lam``, the same 70 % / 30 % split in time order) on the
    concatenation of a constant, the raw window values of every input (``LB x n_in``, shared by every
    sample) and the sample's features.  The blocks of the Gram matrix that involve the window alone are
    computed once for all samples.

    Parameters
    ----------
    features : array of shape (S, N, F) or (N, F)
        Per sample, one row of features per window (the last hidden state), without the constant.
    X : array of shape (N, LB, n_in) or (N, P)
        The windows (the look-back values of every input).
    y : array of shape (N, n_out) or (N,)
        The one-step targets.
    lam : float
        The ridge penalty.

    Returns
    -------
    ndarray of shape (S,) (or a 0-d array for 2-D ``features``)
        float64; ``nan`` for a sample whose features are not all finite.
    """
    F = np.asarray(features)
    one = F.ndim == 2
    if one:
        F = F[None]
    y = np.asarray(y, dtype=np.float64)
    y = y[:, None] if y.ndim == 1 else y
    S, N, k = F.shape
    n_fit = fit_windows(N)
    X = np.asarray(X, dtype=np.float64).reshape(N, -1)
    Z = np.hstack([np.ones((N, 1)), X])  # the shared block: the constant and the window
    p = Z.shape[1]
    H = np.array(F, dtype=np.float64)
    with np.errstate(all="ignore"):
        finite = np.isfinite(H).all(axis=(1, 2)) & (np.abs(H).max(axis=(1, 2), initial=0.0) < 1e150)
    H[~finite] = 0.0
    Zf = Z[:n_fit]
    ZZ, Zy = Zf.T @ Zf, Zf.T @ y[:n_fit]  # the window's blocks: once for every sample
    out = np.empty(S, dtype=np.float64)
    step = max(1, _GRAM_VALUES // (p + k) ** 2)  # samples whose Gram matrices are held at once (bounded memory)
    for s0 in range(0, S, step):
        Hs = H[s0:s0 + step]
        m, Hf = len(Hs), Hs[:, :n_fit]
        G = np.empty((m, p + k, p + k), dtype=np.float64)
        G[:, :p, :p] = ZZ
        G[:, :p, p:] = np.matmul(Zf.T, Hf)
        G[:, p:, :p] = G[:, :p, p:].transpose(0, 2, 1)
        G[:, p:, p:] = np.matmul(Hf.transpose(0, 2, 1), Hf)
        G[:, np.arange(p + k), np.arange(p + k)] += lam
        b = np.empty((m, p + k, y.shape[1]), dtype=np.float64)
        b[:, :p] = Zy
        b[:, p:] = np.matmul(Hf.transpose(0, 2, 1), y[:n_fit])
        try:
            w = np.linalg.solve(G, b)
        except np.linalg.LinAlgError:  # pragma: no cover - G is positive definite; round-off on huge features only
            w = np.stack([np.linalg.lstsq(G[i], b[i], rcond=None)[0] for i in range(m)])
        with np.errstate(all="ignore"):
            pred = np.matmul(Z[n_fit:], w[:, :p]) + np.matmul(Hs[:, n_fit:], w[:, p:])
            out[s0:s0 + m] = np.abs(pred - y[n_fit:]).mean(axis=(1, 2))
    out[~finite] = np.nan
    return out[0] if one else out


def pass_readouts(hidden, X, y) -> dict[str, np.ndarray]:
    """The readout MAEs of one pass's last hidden states (S, N, H), by name (:data:`PASS_SCORES`):
    ``readout`` (:func:`readout_maes`) and ``readout_window`` (:func:`readout_window_maes` with the windows
    ``X``)."""
    return {"readout": readout_maes(hidden, y), "readout_window": readout_window_maes(hidden, X, y)}


def median_score(values) -> float:
    """The architecture's score from its samples' readout MAEs: the median, a non-finite sample as ``+inf``."""
    v = np.asarray(values, dtype=np.float64)
    if v.size == 0:
        return math.nan
    return float(np.median(np.where(np.isfinite(v), v, np.inf)))


def lookback_ridge(X, y) -> float:
    """The data-only baseline: the readout's ridge on the raw window values ``X`` (N, LB, n_in)."""
    X = np.asarray(X, dtype=np.float64)
    return float(readout_maes(X.reshape(X.shape[0], -1), y))
