"""Training-free scores of one architecture on one series, side by side.

Every score here is computed by the sampling engine (no TensorFlow):

From the S MAEs of MAE random sampling (Camero, Toutouh and Alba, "Low-cost
recurrent neural network expected performance evaluation", arXiv:1805.07159, 2018):
``mean``, ``sd``, ``log_p`` (the truncated-normal ``log P(MAE < threshold)`` in log
space, :attr:`~mae_ort.sampling.stats.Fit.log_p_exact`) and the low tail of the
sampled MAEs: ``min``, ``q05``, ``q10``.

The echo-state readout (:mod:`mae_ort.sampling.readout`): ``readout`` (a ridge head on
the last hidden state of the MRS weight samples, from the engine's own pass),
``readout_window`` (the same ridge on a constant, the look-back window of every input and the
last hidden state, ``y(n) = W_out [1; u(n); x(n)]`` as Lukoševičius 2012, §3 writes the echo-state
readout; from the same pass), ``readout_keras`` (the same on Keras' own initialisation,
:mod:`~mae_ort.sampling.keras_init`, ``settings.samples`` draws seeded by the settings' seed) and
``lookback_ridge`` (the ridge on the raw windows); lower is better.

From one extra forward pass of the same architecture over a batch of windows (the
numpy reference, :func:`mae_ort.model.reference.hidden_states`, in float64):

``hidden_cov``, ``hidden_cov_l{k}``
    Serianni and Kalita, "Training-free Neural Architecture Search for RNNs and
    Transformers", ACL 2023: the hidden states of one layer stacked into an
    ``H x (B*T)`` matrix (one row per unit, one column per (window, step)); the
    eigenvalues ``lam`` of its Pearson correlation matrix give
    ``-sum(log(lam + k) + 1 / (lam + k))``, ``k = 1e-5`` (:func:`hidden_covariance`).
    ``hidden_cov`` is layer 1's, the layer they found the most predictive.
``naswot``
    Mellor, Turner, Storkey and Crowley, "Neural Architecture Search without
    Training", ICML 2021: the binary code ``c`` of each window (1 where ``h > 0``,
    over every unit, step and layer), ``K = c c^T + (1 - c)(1 - c)^T`` summed over
    the layers, score ``log|det K|`` (:func:`naswot`).
``n_weights``
    The number of weights, the baseline of Serianni and Kalita (2023).

How the forward pass is drawn
-----------------------------
* **Weights**: ``forward_samples`` weight samples drawn exactly as the sampler
  draws them (:meth:`Sampler.weights <mae_ort.sampling.sampler.Sampler.weights>`)
  from the settings' seed and weight distribution, so they *are* the first
  ``forward_samples`` networks of the MAE random sampling run (sample 0 by
  default).  With more than one, each forward-pass score is the mean of the
  per-sample scores.
* **Batch**: at most ``batch`` windows, chosen in a random order seeded by the
  settings' seed, skipping any window within ``DISTINCT_RTOL`` times the series'
  range (max-abs over the window) of one already chosen.  Near-duplicate windows
  make ``K`` singular: the paper's sine repeats every 10 points, so a plain
  subset of 128 of its windows has ``K`` of rank 10 and ``naswot = -inf`` for
  every architecture; the distinct ones are its ~10 phases.

:func:`scores` samples and scores in one call; :func:`scores_of` scores with MAEs
already sampled (a stored row).  :data:`SCORES` names every score and its direction.

Ranking directions
------------------
:data:`SCORES` is the one table of directions: ``rank --by``, ``train --top``, ``search --objective``
(:data:`RANK_ASCENDING`, :data:`mae_ort.search.names.OBJECTIVES`) and the evidence's signs
(:func:`mae_ort.study.evidence.direction`) all read it through :func:`better`.  The mean sampled MAE
is *higher is better* everywhere: the paper's correlations of Mean with the trained MAE are negative
at every depth and budget, and the committed reports agree (``python scripts/default_score.py``:
median signed Spearman +0.34 with that sign).  So ``rank --by mean`` lists the largest mean first and
``search --objective mean`` maximises it (before this table they took the smallest first).
"""

from __future__ import annotations

import math
import re
import time
import warnings
from dataclasses import dataclass
from typing import NamedTuple, Sequence

import numpy as np

from .._checks import check_int
from ..data import Windows, check_target_form, prepare
from ..errors import DataError, InvalidParameterError
from ..model import reference
from ..model.architecture import Architecture, check_head, head_for, resolve
from .sampler import GiB, Sampler
from .settings import Init, SamplingSettings
from .stats import fit_truncnorm

__all__ = [
    "SCORES",
    "HIGHER",
    "better",
    "RANKABLE",
    "RANK_ASCENDING",
    "STORED_SCORES",
    "check_score",
    "TAIL_SCORES",
    "tail_score",
    "LOWER",
    "HIDDEN_COV_K",
    "DISTINCT_RTOL",
    "ScoreInfo",
    "Scores",
    "HiddenCovariance",
    "describe",
    "score_names",
    "mae_quantile",
    "hidden_covariance",
    "activation_kernel",
    "naswot",
    "select_batch",
    "READOUT_SCORES",
    "DEFAULT_RANKING",
    "ranking",
    "readout_scores",
    "scores_of",
    "scores",
]

HIGHER = "higher is better"
LOWER = "lower is better"

#: The regulariser ``k`` of the hidden-covariance score (Serianni and Kalita, 2023).
HIDDEN_COV_K = 1e-5

#: Two windows closer than this times the series' range (max-abs) count as one in the batch.
DISTINCT_RTOL = 1e-5

#: Seed-sequence tag of the batch choice, so that it is a stream of its own.
_BATCH_STREAM = 0x5C0E5


@dataclass(frozen=True)
class ScoreInfo:
    """What a score says: its direction (:data:`HIGHER` or :data:`LOWER`) and a one-line description."""

    direction: str
    description: str


_MRS = "MAE random sampling (Camero, Toutouh and Alba 2018)"

#: Every score by name, in the order :func:`scores` returns them.  ``hidden_cov_l{k}``
#: stands for one score per layer, ``k = 1 ... depth``.  The directions of ``mean``
#: and ``sd`` follow the Pearson correlations with the trained MAE reported for MAE
#: random sampling of 1-3 layer LSTMs on the sine (Camero, Toutouh and Alba 2018;
#: arXiv:1909.02425, 2019): negative at every depth and budget.  Those of the low
#: quantiles are the reading that motivates ``p`` (more random networks near a low
#: error).  They are hypotheses, which the validation study measures.
SCORES: dict[str, ScoreInfo] = {
    "log_p": ScoreInfo(HIGHER, f"log P(MAE < threshold) of the truncated normal fitted to the MAEs, in log space; "
                               f"{_MRS}"),
    "mean": ScoreInfo(HIGHER, f"mean of the finite sampled MAEs; {_MRS}"),
    "sd": ScoreInfo(HIGHER, f"population sd of the finite sampled MAEs; {_MRS}"),
    "min": ScoreInfo(LOWER, f"smallest sampled MAE; the low tail of {_MRS}"),
    "q05": ScoreInfo(LOWER, f"5th percentile of the sampled MAEs (non-finite ones count as +inf); {_MRS}"),
    "q10": ScoreInfo(LOWER, f"10th percentile of the sampled MAEs (non-finite ones count as +inf); {_MRS}"),
    "hidden_cov": ScoreInfo(HIGHER, "hidden covariance of layer 1 (Serianni and Kalita, ACL 2023)"),
    "hidden_cov_l{k}": ScoreInfo(HIGHER, "hidden covariance of layer k (Serianni and Kalita, ACL 2023)"),
    "naswot": ScoreInfo(HIGHER, "log|det K| of the windows' activation patterns h > 0 (Mellor et al., ICML 2021)"),
    "n_weights": ScoreInfo(HIGHER, "number of weights; the baseline of Serianni and Kalita (ACL 2023)"),
    "readout": ScoreInfo(LOWER, "median test MAE of a ridge readout on the last hidden state, the MRS weights "
                                "(echo-state readout: Jaeger 2001; Lukosevicius 2012)"),
    "readout_window": ScoreInfo(LOWER, "the readout on a constant, the look-back window of every input and the last "
                                       "hidden state, y = W [1; u; x] (Lukosevicius 2012, section 3)"),
    "readout_keras": ScoreInfo(LOWER, "the readout on Keras' own initialisation of the layers (where training "
                                      "starts)"),
    "lookback_ridge": ScoreInfo(LOWER, "the readout's ridge on the raw window values (what the look-back alone "
                                       "can say; data only)"),
}

#: The scores of the echo-state readout (:mod:`mae_ort.sampling.readout`), stored with screened rows.
READOUT_SCORES = ("readout", "readout_window", "readout_keras", "lookback_ridge")

#: The scores ``screen --scores`` can store with a row: the readout scores and the forward-pass scores of
#: the row's first weight sample (:func:`scores_of`'s defaults).
STORED_SCORES = READOUT_SCORES + ("hidden_cov", "naswot")

#: The low-tail scores of a row's sampled MAEs (computed from its stored MAEs, not stored themselves).
TAIL_SCORES = ("min", "q05", "q10")

#: Stored columns that are another form of a score of :data:`SCORES` (they rank in its direction).
_FORMS = {"log_p_exact": "log_p", "p": "log_p", "log_p_floored": "log_p", "log_p_mle": "log_p"}

#: Every score a ranking accepts (``rank --by``, ``train --top``, ``search --objective``): the statistics
#: stored with each row, the low tail of its stored MAEs, and every score :data:`STORED_SCORES` names.
RANKABLE = ("log_p", "log_p_exact", "p", "mean", "sd", "min", "q05", "q10", *STORED_SCORES)


def better(name: str) -> str:
    """Which way a score (or a stored form of one: ``log_p_exact``, ``p``, ``hidden_cov_l2``...) is better:
    :data:`HIGHER` or :data:`LOWER`, as :data:`SCORES` says."""
    return describe(_FORMS.get(name, name)).direction


def check_score(name, option: str = "--by") -> str:
    """``name`` if a ranking accepts it (:data:`RANKABLE`), else one line listing every accepted score.

    Raises
    ------
    InvalidParameterError
        An unknown score: ``The '--by' option must be one of log_p, ... Got 'x' instead.``
    """
    if isinstance(name, str) and name in RANKABLE:
        return name
    raise InvalidParameterError(f"The '{option}' option must be one of {', '.join(RANKABLE)}. Got {name!r} "
                                "instead.")

#: The default ranking score of ``mae-ort rank``, chosen by one rule from the committed reports
#: (``python scripts/default_score.py``): over the studies whose trained networks beat the trivial predictors,
#: the score with the best median signed Spearman with the trained test MAE.  On docs/report-* of
#: 2026-12-05: ``readout`` +0.57 (7 studies), ``readout_keras`` +0.49, ``log p`` +0.22.  ``log_p`` stays the
#: paper's column everywhere.
DEFAULT_RANKING = "readout"


def ranking(frame, by: str | None = None, *, where: str = "the database") -> tuple[str, str, bool, bool]:
    """How to order stored rows (``rank``, ``train --top``) by ``by``: ``(name, column, ascending, fell_back)``.

    ``by`` is a score of :data:`RANKABLE`, ordered as :data:`RANK_ASCENDING` says: a statistic stored with
    each row (its own column), a low-tail score of the rows' MAEs (``min``, ``q05``, ``q10``: computed
    from the frame's ``maes`` column into a column of that name, which this adds to ``frame``) or a stored
    score (:data:`STORED_SCORES`, the frame's ``score_<name>`` column); ``None`` is :data:`DEFAULT_RANKING`
    where every row has it, else ``log_p`` (``fell_back`` says so).

    Raises
    ------
    InvalidParameterError
        An unknown name, listing every accepted one (:func:`check_score`).
    DataError
        A stored score that no row of ``frame`` has, saying how to compute it (``where`` names the rows);
        a low-tail score of a frame without its MAEs.
    """
    fell_back = False
    if by is None:
        col = f"score_{DEFAULT_RANKING}"
        by = DEFAULT_RANKING if col in frame and frame[col].notna().all() else "log_p"
        fell_back = by == "log_p"
    by = check_score(by)
    ascending = RANK_ASCENDING[by]
    if by in TAIL_SCORES:
        if by not in frame:
            if "maes" not in frame:
                raise DataError(f"ranking by {by} needs the rows' sampled MAEs, which these rows of {where} lack")
            frame[by] = [tail_score(m, by) for m in frame["maes"]]
        return by, by, ascending, fell_back
    if by in STORED_SCORES:
        col = f"score_{by}"
        if col not in frame or frame[col].isna().all():
            raise DataError(f"the rows of {where} have no stored {by} score; compute it (their MAEs are kept) with "
                            f"the screen command that made them plus --scores {by}")
        return by, col, ascending, fell_back
    return by, by, ascending, fell_back


def tail_score(maes, name: str) -> float:
    """A low-tail score of one row's sampled MAEs (``min``, ``q05``, ``q10``), as :func:`scores_of` computes it."""
    x = np.asarray([math.nan if v is None else v for v in maes], dtype=np.float64)
    return _mae_scores(x, None, [name])[name]


_FROM_MAES = ("log_p", "mean", "sd", "min", "q05", "q10")
_FORWARD = ("hidden_cov", "naswot")
_LAYER = re.compile(r"hidden_cov_l([1-9][0-9]*)\Z")


class Scores(dict):
    """The scores by name (a ``dict[str, float]``), with what produced them in :attr:`info`.

    ``info`` holds ``batch`` (the window indices of the forward pass),
    ``forward_samples``, ``seed``, ``constant_units`` (per forward sample, the
    constant units dropped from each scored layer's hidden covariance, as
    ``{"l1": 0, ...}``), ``nonfinite_states``
    (forward samples whose states overflowed), ``seconds`` (MAE sampling and the
    forward pass) and, from :func:`scores`, ``result`` (the
    :class:`~mae_ort.sampling.sampler.SamplingResult`, or None when no MAE score was asked).
    """

    def __init__(self, values=(), info: dict | None = None) -> None:
        super().__init__(values)
        self.info: dict = {} if info is None else info


def describe(name: str) -> ScoreInfo:
    """The :class:`ScoreInfo` of a score name, ``hidden_cov_l2`` included."""
    if isinstance(name, str) and name in SCORES and name != "hidden_cov_l{k}":
        return SCORES[name]
    if isinstance(name, str) and _LAYER.match(name):
        return SCORES["hidden_cov_l{k}"]
    raise InvalidParameterError(f"no score {name!r}; scores are {', '.join(SCORES)}")


#: How ``rank``, ``train --top`` and ``search`` order every score of :data:`RANKABLE`: ``True`` ascending
#: (smaller first, a :data:`LOWER` score), from :data:`SCORES` through :func:`better` (the one table).
RANK_ASCENDING = {n: better(n) == LOWER for n in RANKABLE}


def score_names(depth: int | Architecture, which="all", *, caller: str = "scores") -> list[str]:
    """The names that ``which`` asks for on an architecture of ``depth`` layers, in :data:`SCORES` order.

    Parameters
    ----------
    depth : int or Architecture
    which : 'all', str or sequence of str
        ``'all'``, or score names (``hidden_cov_l{k}`` with ``1 <= k <= depth``).

    Raises
    ------
    InvalidParameterError
        An unknown name, naming the valid ones.
    """
    depth = depth.depth if isinstance(depth, Architecture) else check_int(depth, "depth", caller, low=1)
    every = []
    for name in SCORES:
        if name == "hidden_cov_l{k}":
            every.extend(f"hidden_cov_l{k}" for k in range(1, depth + 1))
        else:
            every.append(name)
    if isinstance(which, str):
        if which.lower() == "all":
            return every
        which = [which]
    try:
        asked = list(which)
    except TypeError:
        asked = [which]
    valid = ", ".join(repr(n) for n in every)
    if not asked:
        raise InvalidParameterError(f"The 'which' parameter of {caller} must be 'all' or a non-empty list of "
                                    f"score names among {valid}. Got {which!r} instead.")
    for name in asked:
        if name not in every:
            raise InvalidParameterError(f"The 'which' parameter of {caller} must be 'all' or a list of score names "
                                        f"among {valid} (for {depth} layer{'s' if depth > 1 else ''}). "
                                        f"Got {name!r} instead.")
    return [n for n in every if n in asked]


# -- scores of the MAEs -------------------------------------------------------------


def mae_quantile(maes, q: float) -> float:
    """The ``q`` quantile of the MAEs (``np.quantile``, linear), non-finite MAEs counting as ``+inf``.

    A network whose predictions overflowed certainly misses the threshold, so it
    sits at the top of the order; the quantile is ``inf`` when it needs one of them.
    """
    x = np.asarray(maes, dtype=np.float64)
    finite = np.isfinite(x)
    nf = int(finite.sum())
    if nf == x.size:
        return float(np.quantile(x, q))
    pos = q * (x.size - 1)
    if nf == 0 or math.ceil(pos) >= nf:
        return math.inf
    # the order statistics below position nf do not depend on what stands above them
    return float(np.quantile(np.where(finite, x, x[finite].max()), q))


def _check_maes(maes, samples: int, caller: str) -> np.ndarray:
    try:
        x = np.asarray(maes, dtype=np.float64)
    except (TypeError, ValueError):
        raise InvalidParameterError(f"The 'maes' parameter of {caller} must be a 1-D array of real numbers. "
                                    f"Got {maes!r} instead.") from None
    if x.ndim != 1 or x.size != samples:
        raise InvalidParameterError(f"The 'maes' parameter of {caller} must be a 1-D array of the settings' "
                                    f"{samples} samples. Got shape {x.shape} instead.")
    return x


def _mae_scores(maes: np.ndarray, settings: SamplingSettings, names: Sequence[str]) -> dict[str, float]:
    out = {}
    if {"log_p", "mean", "sd"} & set(names):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the floor of log_p; the exact value is what is reported
            f = fit_truncnorm(maes, threshold=settings.threshold, lower=settings.lower, upper=settings.upper,
                              fit=settings.fit)
        out.update(log_p=f.log_p_exact, mean=f.mean, sd=f.sd)
    finite = maes[np.isfinite(maes)]
    out["min"] = float(finite.min()) if finite.size else math.inf
    out["q05"] = mae_quantile(maes, 0.05)
    out["q10"] = mae_quantile(maes, 0.10)
    return {n: float(out[n]) for n in names}


# -- scores of the forward pass -----------------------------------------------------


class HiddenCovariance(NamedTuple):
    """:func:`hidden_covariance`'s result: the score, the units used and the constant units dropped."""

    score: float
    units: int
    constant: int


def hidden_covariance(matrix, *, k: float = HIDDEN_COV_K) -> HiddenCovariance:
    """The hidden-covariance score of one layer (Serianni and Kalita, ACL 2023).

    Parameters
    ----------
    matrix : array of shape (H, M)
        One row per hidden unit, one column per (window, time step).
    k : float
        The regulariser (theirs: 1e-5).

    Returns
    -------
    HiddenCovariance
        ``score = -sum(log(lam + k) + 1 / (lam + k))`` over the eigenvalues ``lam`` of
        ``np.corrcoef`` of the rows.  Higher is better; the best a unit can add is
        ``-(log(1 + k) + 1 / (1 + k)) ~ -1`` (uncorrelated with the others), so the
        score scales with the width.

    Notes
    -----
    A constant row (a unit with the same state in every column) has no correlation:
    it is dropped, and counted in ``constant``.  A dropped unit adds nothing, so a
    layer with constant units scores higher than the same layer with them varying
    but uncorrelated.  Every row constant: ``score = nan``.  A non-finite entry:
    ``score = nan``.
    """
    m = np.asarray(matrix, dtype=np.float64)
    if m.ndim != 2 or m.shape[1] < 2:
        raise InvalidParameterError(f"hidden_covariance needs a 2-D matrix (units, columns) with at least 2 "
                                    f"columns. Got shape {m.shape} instead.")
    if not np.isfinite(m).all():
        return HiddenCovariance(math.nan, m.shape[0], 0)
    varying = m.std(axis=1) > 0
    used = m[varying]
    constant = int(m.shape[0] - used.shape[0])
    if used.shape[0] == 0:
        return HiddenCovariance(math.nan, 0, constant)
    lam = np.linalg.eigvalsh(np.atleast_2d(np.corrcoef(used)))
    return HiddenCovariance(float(-np.sum(np.log(lam + k) + 1.0 / (lam + k))), int(used.shape[0]), constant)


def activation_kernel(codes) -> np.ndarray:
    """The kernel ``K = sum over layers of c c^T + (1 - c)(1 - c)^T`` of binary codes (Mellor et al., ICML 2021).

    Parameters
    ----------
    codes : array of shape (B, m) or sequence of them (one per layer)
        1 where a unit is active, 0 elsewhere; one row per window.

    Returns
    -------
    ndarray of shape (B, B)
        ``K[i, j]`` = the number of code positions where windows ``i`` and ``j`` agree.
    """
    layers = [codes] if isinstance(codes, np.ndarray) else list(codes)
    K = None
    for c in layers:
        c = np.asarray(c, dtype=np.float64)
        part = c @ c.T + (1.0 - c) @ (1.0 - c).T
        K = part if K is None else K + part
    return K


def naswot(codes) -> float:
    """``log|det K|`` of :func:`activation_kernel` (Mellor et al., ICML 2021); ``-inf`` when ``K`` is singular
    (two windows with the same code, which the score reads as the worst)."""
    return float(np.linalg.slogdet(activation_kernel(codes))[1])


def select_batch(X, batch: int, *, seed: int, distinct: bool = True, rtol: float = DISTINCT_RTOL) -> np.ndarray:
    """Indices (sorted) of at most ``batch`` windows, chosen in a random order seeded by ``seed``.

    Parameters
    ----------
    X : array of shape (N, LB, n_in)
    batch : int
    seed : int
    distinct : bool
        Skip a window within ``rtol * (max(X) - min(X))`` (max-abs) of one already
        chosen, so that near-duplicate windows do not make the kernel singular.
    """
    X = np.asarray(X)
    n = X.shape[0]
    order = np.random.default_rng([seed, _BATCH_STREAM]).permutation(n)
    if not distinct:
        return np.sort(order[:batch])
    flat = X.reshape(n, -1).astype(np.float64)
    tol = rtol * float(flat.max() - flat.min()) if flat.size else 0.0
    chosen = np.empty((min(batch, n), flat.shape[1]))
    idx: list[int] = []
    for i in order:
        row = flat[i]
        if idx and np.any(np.abs(chosen[:len(idx)] - row).max(axis=1) <= tol):
            continue
        chosen[len(idx)] = row
        idx.append(int(i))
        if len(idx) == batch:
            break
    return np.sort(np.asarray(idx, dtype=np.int64))


def _forward_scores(states: list[np.ndarray], names: Sequence[str]) -> tuple[dict[str, float], dict[str, int], bool]:
    """Scores of one weight sample's hidden states (one (B, T, H) array per layer)."""
    out: dict[str, float] = {}
    constant: dict[str, int] = {}
    finite = all(np.isfinite(s).all() for s in states)
    layer_names = [n for n in names if _LAYER.match(n)]
    want = {int(_LAYER.match(n).group(1)) for n in layer_names} | ({1} if "hidden_cov" in names else set())
    for k in sorted(want):
        s = states[k - 1]
        hc = hidden_covariance(s.reshape(-1, s.shape[-1]).T)
        out[f"hidden_cov_l{k}"] = hc.score
        constant[f"l{k}"] = hc.constant
    if "hidden_cov" in names:
        out["hidden_cov"] = out["hidden_cov_l1"]
    if "naswot" in names:
        out["naswot"] = naswot([(s > 0).reshape(s.shape[0], -1) for s in states]) if finite else math.nan
    return {n: out[n] for n in names if n in out}, constant, not finite


# -- the public calls ---------------------------------------------------------------


def scores_of(arch: Architecture, windows: Windows, maes=None, *, settings: SamplingSettings, which="all",
              batch: int = 128, forward_samples: int = 1, distinct: bool = True,
              sampler: Sampler | None = None) -> Scores:
    """Training-free scores of ``arch`` with MAEs already sampled (e.g. a stored row).

    Parameters
    ----------
    arch : Architecture
    windows : Windows
        The windows the MAEs were sampled on (the forward pass uses a batch of them).
    maes : array of shape (settings.samples,), optional
        The sampled MAEs; needed only for the MAE scores (``log_p``, ``mean``, ``sd``,
        ``min``, ``q05``, ``q10``).
    settings : SamplingSettings
        How the MAEs were sampled: its threshold, bounds and fit give ``log_p``; its
        seed and weight distribution draw the forward-pass weights (the run's first
        ``forward_samples`` weight samples) and the batch.
    which : 'all' or sequence of str
        Names of :data:`SCORES` (``hidden_cov_l{k}`` per layer).
    batch : int
        At most this many windows in the forward pass (>= 2); see :func:`select_batch`.
    forward_samples : int
        Weight samples of the forward pass (>= 1); each forward score is their mean.
    distinct : bool
        Leave near-duplicate windows out of the batch (see :func:`select_batch`).
    sampler : Sampler, optional
        Draws the weights (a default one otherwise).

    Returns
    -------
    Scores
        ``dict[str, float]`` in :data:`SCORES` order; :attr:`Scores.info` says how.

    Raises
    ------
    InvalidParameterError
        An unknown score, ``batch < 2``, ``forward_samples < 1``, MAEs missing or of
        the wrong length.
    DataError
        Fewer than 2 (distinct) windows.
    """
    caller = "scores_of"
    if not isinstance(arch, Architecture):
        raise InvalidParameterError(f"The 'arch' parameter of {caller} must be an Architecture. Got {arch!r} instead.")
    if not isinstance(windows, Windows):
        raise InvalidParameterError(f"The 'windows' parameter of {caller} must be a mae_ort.Windows. "
                                    f"Got {type(windows).__name__} instead.")
    if not isinstance(settings, SamplingSettings):
        raise InvalidParameterError(f"The 'settings' parameter of {caller} must be a SamplingSettings. "
                                    f"Got {settings!r} instead.")
    names = score_names(arch, which, caller=caller)
    batch = check_int(batch, "batch", caller, low=2)
    forward_samples = check_int(forward_samples, "forward_samples", caller, low=1)
    values: dict[str, float] = {}
    info: dict = {"seed": settings.seed, "forward_samples": forward_samples, "seconds": {}}

    mae_names = [n for n in names if n in _FROM_MAES]
    if mae_names:
        if maes is None:
            raise InvalidParameterError(f"{caller} needs the sampled MAEs for {', '.join(mae_names)}; pass maes=")
        values.update(_mae_scores(_check_maes(maes, settings.samples, caller), settings, mae_names))

    fwd_names = [n for n in names if n in _FORWARD or _LAYER.match(n)]
    if fwd_names:
        t0 = time.perf_counter()
        idx = select_batch(windows.X, batch, seed=settings.seed, distinct=distinct)
        if idx.size < 2:
            raise DataError(f"the forward-pass scores need at least 2 {'distinct ' if distinct else ''}windows; "
                            f"the series has {idx.size}")
        W = (sampler or Sampler()).weights(arch, n_in=windows.n_in, n_out=windows.n_out, samples=forward_samples,
                                           seed=settings.seed, init=Init.parse(settings.init),
                                           seeding=settings.seeding)
        with np.errstate(all="ignore"):  # overflowing states are reported as nan
            states = reference.hidden_states(arch, windows.X[idx], W, dtype=np.float64)
        per, constant, bad = [], [], 0
        for s in range(forward_samples):
            v, c, nonfinite = _forward_scores([h[s] for h in states], fwd_names)
            per.append(v)
            constant.append(c)
            bad += nonfinite
        with np.errstate(invalid="ignore"):
            values.update({n: float(np.mean([v[n] for v in per])) for n in fwd_names})
        info.update(batch=idx.tolist(), constant_units=constant, nonfinite_states=bad)
        info["seconds"]["forward"] = time.perf_counter() - t0

    if "n_weights" in names:
        values["n_weights"] = float(arch.n_weights(windows.n_in, windows.n_out))
    ro_names = [n for n in names if n in READOUT_SCORES]
    if ro_names:
        t0 = time.perf_counter()
        values.update(readout_scores(arch, windows, settings, ro_names, sampler=sampler))
        info["seconds"]["readout"] = time.perf_counter() - t0
    return Scores({n: values[n] for n in names}, info)


def readout_scores(arch: Architecture, windows: Windows, settings: SamplingSettings, which=READOUT_SCORES, *,
                   sampler: Sampler | None = None) -> dict[str, float]:
    """The readout scores (:data:`READOUT_SCORES`) of ``arch`` on ``windows``: ``readout`` and ``readout_window``
    on the settings' ``samples`` MRS weight samples (the row's own; one pass gives both), ``readout_keras`` on
    as many Keras-initialised ones seeded by the settings' seed, ``lookback_ridge`` on the windows alone.
    Nothing is stored.

    Raises
    ------
    DataError
        Fewer than 2 windows to fit the ridge on or to test it.
    """
    from .keras_init import keras_init_weights
    from .readout import fit_windows, lookback_ridge, median_score

    fit_windows(windows.n)
    out: dict[str, float] = {}
    if {"readout", "readout_window", "readout_keras"} & set(which):
        sampler = sampler or Sampler()
        n = settings.samples
        if "readout" in which or "readout_window" in which:
            _, per = sampler.maes(arch, windows, samples=n, seed=settings.seed, init=settings.weights,
                                  seeding=settings.seeding, readout=True)
            out.update({name: median_score(v) for name, v in per.items()})
        if "readout_keras" in which:
            W = keras_init_weights(arch, n_in=windows.n_in, n_out=windows.n_out, samples=n, seed=settings.seed)
            out["readout_keras"] = median_score(sampler.readout_of(arch, windows, W))
    if "lookback_ridge" in which:
        out["lookback_ridge"] = lookback_ridge(windows.X, windows.y)
    return {n: out[n] for n in which}


def scores(series, arch, look_back: int, *, samples: int = 100, seed: int = 0, threshold: float = 0.01,
           lower: float = 0.0, upper: float = 2.0, fit: str = "moments", init="normal", batch: int = 128,
           forward_samples: int = 1, distinct: bool = True, which="all", preset: str | None = None,
           cell: str | None = None, activation: str | None = None, recurrent_activation: str | None = None,
           head_activation: str | None = None, input=None, target=None, scale: str = "none",
           target_form: str = "level", sampler: Sampler | None = None, runtime: str = "auto", device: str = "cpu",
           threads: int | None = None, memory_budget: int = GiB) -> Scores:
    """Every training-free score of one architecture on one series: MAE random sampling, then one forward pass.

    Parameters
    ----------
    series, arch, look_back, samples, seed, threshold, lower, upper, fit, init
        As :func:`mae_ort.sample` (``seed`` also draws the forward pass and its batch).
    preset, cell, activation, recurrent_activation, head_activation, input, target, scale, target_form
        As :func:`mae_ort.sample` (with ``delta`` every score sees the change target).
    batch, forward_samples, distinct, which
        As :func:`scores_of`.
    sampler : Sampler, optional
        Samples the MAEs and draws the forward weights (keeps sessions across calls);
        otherwise one is made from ``runtime``, ``device``, ``threads`` and ``memory_budget``.

    Returns
    -------
    Scores
        ``dict[str, float]`` in :data:`SCORES` order; ``info['result']`` is the
        :class:`~mae_ort.sampling.sampler.SamplingResult` (None when ``which`` asks
        for no MAE score, and then nothing is sampled).

    Raises
    ------
    MaeOrtError
        On any bad input, with a one-line message.

    Examples
    --------
    >>> s = scores(sine(), [31, 31, 31], 30, samples=100, seed=0)       # doctest: +SKIP
    >>> s["log_p"], s["hidden_cov"], s["naswot"], s["n_weights"]        # doctest: +SKIP
    """
    caller = "scores"
    target_form = check_target_form(target_form, caller)
    arch = resolve(arch, preset=preset, cell=cell, activation=activation, recurrent_activation=recurrent_activation,
                   head_activation=head_activation if isinstance(arch, Architecture)
                   else head_for(head_activation, target_form), caller=caller)
    check_head(arch.head_activation, target_form, caller)
    look_back = check_int(look_back, "look_back", caller, low=1)
    settings = SamplingSettings.checked(caller, samples=samples, threshold=threshold, lower=lower, upper=upper,
                                        fit=fit, init=Init.parse(init), seed=seed, target_form=target_form)
    names = score_names(arch, which, caller=caller)
    check_int(batch, "batch", caller, low=2)
    check_int(forward_samples, "forward_samples", caller, low=1)
    sampler = sampler or Sampler(runtime=runtime, device=device, threads=threads, memory_budget=memory_budget)
    prepared = prepare(series, input=input, target=target, scale=scale)
    win = sampler.windows_of(prepared, look_back, target_form)
    result = None
    if any(n in _FROM_MAES for n in names):
        result = sampler.run(prepared, arch, look_back, settings)
    out = scores_of(arch, win, None if result is None else result.maes, settings=settings, which=names, batch=batch,
                    forward_samples=forward_samples, distinct=distinct, sampler=sampler)
    out.info["result"] = result
    if result is not None:
        out.info["seconds"]["sampling"] = result.seconds
    return out
