"""MAE random sampling in your own Optuna loops.

* :func:`objective` -- MRS as an Optuna objective: ``f(trial)`` suggests a row of a grid
  (``depth``, ``u1 .. u{depth}``, ``look_back``, as :class:`mae_ort.search.SearchSpace`),
  scores it through a results store (rows the store holds are reused, new ones are
  sampled with their own seed, as ``screen`` does, and stored) and returns its ``log_p``
  (or another stored score); the trial's user attributes hold the row's statistics.
* :func:`enqueue_top` -- put the best screened rows of a database at the front of any
  study (``study.enqueue_trial``), so that a search starts from what a screen found.

Example (``import mae_ort`` does not import Optuna; importing this module does)::

    import optuna, mae_ort
    from mae_ort.integrations.optuna import objective
    from mae_ort.screening import grid

    space = grid(units="3:8", layers="1:2", look_back="1:4")
    f = objective(mae_ort.sine(120), space, samples=5, store="results.sqlite")
    study = optuna.create_study(direction="maximize")
    study.optimize(f, n_trials=8)

Must not import: cli.
"""

from __future__ import annotations

import math
import threading
import warnings

from .._checks import check_int, check_option
from ..data import prepare, sine
from ..errors import DataError, MaeOrtWarning
from ..model.architecture import check_head
from ..results.store import Store, open_store
from ..sampling.sampler import GiB, Init
from ..sampling.scores import RANK_ASCENDING, TAIL_SCORES, ranking
from ..sampling.settings import SamplingSettings
from ..screening.space import Row
from ..search.scoring import OBJECTIVES, Scorer, check_objective, objective_value, trial_attrs
from ..search.space import PARAM_CELL, PARAM_DEPTH, PARAM_LOOK_BACK, as_search_space, unit_param

__all__ = ["objective", "MRSObjective", "enqueue_top", "default_params"]


class MRSObjective:
    """MAE random sampling as an Optuna objective (made by :func:`objective`).

    Calling it with a trial suggests a row of the grid, scores it (the store is the
    cache) and returns the objective's value (``nan`` where it is undefined: no
    finite MAE; Optuna marks such a trial failed).  Calls are serialised (one lock), so
    ``study.optimize(..., n_jobs=N)`` is safe but not faster.

    Attributes
    ----------
    space : SearchSpace
    scorer : Scorer
        ``scorer.new_rows`` and ``scorer.reused_rows`` count what the calls did.
    objective, direction : str
    """

    def __init__(self, space, scorer: Scorer, objective: str, direction: str, own_store: bool) -> None:
        self.space = space
        self.scorer = scorer
        self.objective = objective
        self.direction = direction
        self._own_store = own_store
        self._warned = False
        self._lock = threading.Lock()

    def __call__(self, trial) -> float:
        study = getattr(trial, "study", None)
        if study is not None and not self._warned and study.direction.name.lower() != self.direction:
            self._warned = True
            warnings.warn(f"the study {study.direction.name.lower()}s but {self.objective!r} is better "
                          f"{'larger' if self.direction == 'maximize' else 'smaller'}; create the study with "
                          f"direction={self.direction!r}", MaeOrtWarning, stacklevel=2)
        row = self.space.suggest(trial)
        with self._lock:
            record, cached = self.scorer.score(row)
        for k, v in trial_attrs(record, self.scorer.settings_id, cached=cached).items():
            trial.set_user_attr(k, v)
        value = objective_value(record, self.objective)
        return float("nan") if value is None else float(value)

    def close(self) -> None:
        """Close the store if this objective opened it (from a path)."""
        if self._own_store:
            self.scorer.store.close()


def objective(series=None, space="paper-2layer", samples: int = 100, store=None, *, objective: str = "log_p",
              threshold: float = 0.01, lower: float = 0.0, upper: float = 2.0, fit: str = "moments",
              init="normal", seed: int = 0, runtime: str = "auto", device: str = "cpu", threads: int | None = None,
              memory_budget: int = GiB, target_form: str = "level") -> MRSObjective:
    """MRS as an Optuna objective: ``f(trial) -> float``, with the store as cache.

    Parameters
    ----------
    series : array-like, DataFrame, Series or CSV path, optional
        The data (:func:`mae_ort.data.prepare`); default: the paper's sine.
    space : Grid, SearchSpace or str
        The grid whose rows trials suggest (default: the paper's 2-layer space).
    samples : int
        Weight samples per row.
    store : None, str, Path or Store
        The results store (default: a new in-memory one); rows it holds under the same
        settings are reused, new rows are written to it.
    objective : str
        One of ``mae_ort.search.OBJECTIVES``: what ``f`` returns (create the study with its direction:
        ``mae_ort.search.OBJECTIVES[objective]``).
    threshold, lower, upper, fit, init, seed
        As :func:`mae_ort.screen` (seeding 2: every row is sampled with this seed).
    runtime, device, threads, memory_budget
        As :class:`mae_ort.Sampler`.
    target_form : {'level', 'delta'}
        As :func:`mae_ort.screen` (part of the settings).

    Returns
    -------
    MRSObjective

    Raises
    ------
    MaeOrtError
        Bad parameters, a look-back too long for the series, an unusable store.
    """
    caller = "objective"
    objective, direction = check_objective(objective, None, caller)
    grid_space = as_search_space(space)
    sampling = SamplingSettings.checked(caller, samples=samples, threshold=threshold, lower=lower, upper=upper,
                                        fit=fit, init=Init.parse(init), seed=seed, target_form=target_form)
    check_head(grid_space.grid.head_activation, sampling.target_form, caller)
    series = prepare(sine(), name="sine") if series is None else prepare(series)
    longest = max(grid_space.look_backs)
    if series.length < longest + 1:
        raise DataError(f"series has {series.length} points; look_back={longest} needs at least {longest + 1}")
    own = store is not None and not isinstance(store, Store)
    st = open_store(store)
    scorer = Scorer(series, sampling, st, runtime=runtime, device=device, threads=threads,
                    memory_budget=memory_budget, objective=objective)
    return MRSObjective(grid_space, scorer, objective, direction, own)


def default_params(row: dict) -> dict:
    """The trial parameters of a stored row under :class:`mae_ort.search.SearchSpace`'s names.

    ``{"depth": d, "u1": ..., "u{d}": ..., "look_back": lb}`` (and ``"cell"`` when the row
    dict says ``with_cell``).
    """
    units = [int(u) for u in str(row["units"]).split(",")]
    out = {}
    if row.get("with_cell"):
        out[PARAM_CELL] = row["cell"]
    out[PARAM_DEPTH] = len(units)
    out.update({unit_param(k): u for k, u in enumerate(units, 1)})
    out[PARAM_LOOK_BACK] = int(row["look_back"])
    return out


def _plain(v):
    if hasattr(v, "item"):
        v = v.item()
    if isinstance(v, float) and math.isnan(v):
        return None
    return v


def enqueue_top(study, db, k: int = 10, params=None, *, settings: str | None = None, by: str = "log_p",
                space=None) -> list[dict]:
    """Enqueue the ``k`` best screened rows of a database into ``study``.

    Parameters
    ----------
    study : optuna.Study
        Any study; its next trials get these parameters first.
    db : str, Path or Store
        A results database (opened read-only).
    k : int
        How many rows.
    params : callable, optional
        ``params(row) -> dict``: the trial parameters of a stored row (a dict with the
        store's columns: ``units`` as ``"31,31"``, ``depth``, ``u1``..., ``look_back``,
        ``cell``, the statistics, ``id``).  Default: :func:`default_params` (the names
        :func:`objective` and :func:`mae_ort.search` suggest), or the grid's own
        parameters when ``space`` is given.
    settings : str, optional
        The settings id (a unique prefix is enough); needed when the database holds
        rows of several settings.
    by : str
        The ranking, one of ``mae_ort.search.OBJECTIVES`` (best first, as ``mae-ort rank --by``; ties broken by
        ``log_p_exact`` and ``mean``); a stored score must be stored with the rows.
    space : Grid or SearchSpace, optional
        Only rows of this grid, with its parameters.

    Returns
    -------
    list of dict
        The parameters enqueued, best first (each with ``user_attrs`` ``row_id``,
        ``settings_id`` and the row's statistics; a trial with the same parameters
        already in the study is skipped).

    Raises
    ------
    MaeOrtError
        A missing database, no rows, ambiguous settings, bad parameters.
    """
    caller = "enqueue_top"
    k = check_int(k, "k", caller, low=1)
    by = check_option(by, "by", caller, OBJECTIVES)
    grid_space = None if space is None else as_search_space(space)
    own = not isinstance(db, Store)
    st = open_store(db, create=False, readonly=True) if own else db
    try:
        frame = st.settings_frame()
        if settings is not None:
            sid = st.settings_id(settings)
        elif len(frame) == 1:
            sid = frame["settings_id"].iloc[0]
        elif len(frame) == 0:
            raise DataError(f"the database {getattr(st, 'path', db)!r} holds no screened rows")
        else:
            raise DataError(f"the database {getattr(st, 'path', db)!r} holds rows of {len(frame)} settings "
                            f"({', '.join(frame['settings_id'])}); choose one with settings=...")
        df = st.frame(sid, maes=by in TAIL_SCORES)
    finally:
        if own:
            st.close()
    if grid_space is not None:
        keep = [grid_space.contains(Row.from_record(r)) for r in df.to_dict("records")]
        df = df[keep]
    df = df.copy()  # ranking() may add the column it ranks by
    if df.empty:
        raise DataError(f"no screened rows to enqueue (settings {sid})")
    _, col, ascending, _ = ranking(df, by, where=repr(str(getattr(st, "path", db))))
    order = [(col, ascending)] + [(c, a) for c, a in (("log_p_exact", False), ("mean", RANK_ASCENDING["mean"]))
                                        if c != col]
    df = df.sort_values([c for c, _ in order], ascending=[a for _, a in order], na_position="last").head(k)
    df = df.drop(columns="maes", errors="ignore")
    with_cell = df["cell"].nunique() > 1
    out = []
    for rec in df.to_dict("records"):
        rec = {key: _plain(v) for key, v in rec.items()}
        rec["with_cell"] = with_cell
        if params is not None:
            p = dict(params(rec))
        elif grid_space is not None:
            p = grid_space.params(Row.from_record(rec))
        else:
            p = default_params(rec)
        attrs = {"row_id": rec["id"], "settings_id": sid, "enqueued_by": "mae_ort.integrations.optuna.enqueue_top",
                 **{c: rec.get(c) for c in ("units", "look_back", "cell", "mean", "sd", "p", "log_p", "log_p_exact")},
                 by: rec.get(col)}
        study.enqueue_trial(p, user_attrs=attrs, skip_if_exists=True)
        out.append(p)
    return out
