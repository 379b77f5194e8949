"""MRS of single rows, with the results store as the cache: what a search trial evaluates.

A :class:`Scorer` answers "the statistics of this row under these sampling settings":
from the store when it holds the row (written by ``screen`` or an earlier search, under
the same settings id), else by sampling the row as ``screen`` does (seeding 2: with the
sweep's seed; seeding 1: with :meth:`~mae_ort.screening.space.Row.seed` of it), exactly as ``screen``
does) and storing it.  So no (architecture, look-back, settings) is ever scored twice,
and a search's rows equal a screen's with the same seed.
"""

from __future__ import annotations

import math
import threading

from .._checks import check_option
from .._system import default_threads, limit_numba_threads
from ..model.keys import KEY_COLUMNS
from ..results.store import Settings, Store
from ..sampling.sampler import GiB, Sampler, SamplingResult
from ..sampling.scores import STORED_SCORES, TAIL_SCORES, tail_score
from ..sampling.settings import SamplingSettings
from ..screening.space import Row
from .names import OBJECTIVES

__all__ = ["OBJECTIVES", "STATISTICS", "Scorer", "evaluate_row", "check_objective", "objective_value", "trial_attrs"]

#: The statistics of a row stored on each trial as user attributes (with ``row_id``).
STATISTICS = ("mean", "sd", "p", "log_p", "log_p_exact", "n_outside", "n_nonfinite", "readout", "readout_window")


def check_objective(objective, direction=None, caller: str = "search") -> tuple[str, str]:
    """``(objective, direction)`` checked; the direction defaults to the objective's own."""
    objective = check_option(objective, "objective", caller, OBJECTIVES)
    direction = OBJECTIVES[objective] if direction is None else check_option(direction, "direction", caller,
                                                                             ("maximize", "minimize"))
    return objective, direction


def evaluate_row(sampler: Sampler, series, row: Row, sampling: SamplingSettings) -> SamplingResult:
    """Sample ``row`` as ``screen`` does: with the sweep's seed (seeding 2), or with the row's own seed
    derived from it (seeding 1)."""
    seed = row.seed(sampling.seed) if sampling.seeding == 1 else sampling.seed
    return sampler.run(series, row.arch, row.look_back, sampling.replace(seed=seed), warn=False)


def _num(v):
    if v is None:
        return None
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(f) else f


def _record(r) -> dict:
    rec = {c: getattr(r, c) for c in KEY_COLUMNS}
    rec["look_back"] = int(rec["look_back"])
    rec["id"] = int(r.id)
    rec["depth"] = int(r.depth)
    rec["seed"] = int(r.seed)
    for c in ("mean", "sd", "p", "log_p", "log_p_exact"):
        rec[c] = _num(getattr(r, c))
    for c in ("n_outside", "n_nonfinite"):
        rec[c] = int(getattr(r, c))
    rec["drawn"] = None if getattr(r, "drawn", None) is None else int(r.drawn)
    for name in STORED_SCORES:  # the scores stored with the row (the readouts, ...); None where missing
        rec[name] = _num(getattr(r, f"score_{name}", None))
    maes = getattr(r, "maes", None)
    if maes is not None:  # the low tail of the sampled MAEs (a frame read with them)
        rec.update({name: _num(tail_score(maes, name)) for name in TAIL_SCORES})
    return rec


def needed_scores(objective: str | None) -> tuple[str, ...]:
    """The stored scores every record of a search needs: ``readout`` (the default objective, kept on every
    trial) and the objective's own when it is a stored score."""
    extra = (objective,) if objective in STORED_SCORES and objective != "readout" else ()
    return ("readout",) + extra


def objective_value(record: dict, objective: str) -> float | None:
    """The objective's value in a stored record; ``None`` where it is undefined (no finite MAE)."""
    return record.get(objective)


def trial_attrs(record: dict, settings_id: str, *, cached: bool) -> dict:
    """The user attributes of a trial: the row, its statistics, its id in the store, whether it was reused."""
    out = {"units": record["units"], "look_back": record["look_back"], "cell": record["cell"]}
    out.update({k: record[k] for k in STATISTICS})
    out.update(row_id=record["id"], settings_id=settings_id, cached=bool(cached))
    return out


class Scorer:
    """The statistics of single rows under one set of sampling settings, cached in a store.

    Parameters
    ----------
    series : Series
        A prepared series (:func:`mae_ort.data.prepare`).
    sampling : SamplingSettings
        Samples, threshold, bounds, fit, init and the sweep seed (rows derive their seeds from it).
    store : Store
        Where rows are looked up and written.
    runtime, device, threads, memory_budget
        As :class:`~mae_ort.sampling.sampler.Sampler` (threads: default all cores).

    Attributes
    ----------
    settings : Settings
    settings_id : str
    new_rows, reused_rows : int
        Rows sampled and rows found in the store by :meth:`score`.
    """

    def __init__(self, series, sampling: SamplingSettings, store: Store, *, runtime: str = "auto",
                 device: str = "cpu", threads: int | None = None, memory_budget: int = GiB,
                 objective: str | None = None) -> None:
        self.series = series
        self.sampling = sampling.sampling if isinstance(sampling, Settings) else sampling
        self.store = store
        self.settings = Settings.of(series, self.sampling)
        self.settings_id = store.add_settings(self.settings)
        # every row gets its readout score from the MAE pass itself (1.04x its cost), so any objective can use it
        self.sampler = Sampler(runtime=runtime, device=device, threads=threads, memory_budget=memory_budget,
                               readout=True)
        self.needs = needed_scores(objective)
        self._maes = objective in TAIL_SCORES  # the objective is computed from the stored MAEs
        self.new_rows = 0
        self.reused_rows = 0
        self._known: dict[tuple, dict] = {}
        self._lock = threading.RLock()

    def lookup(self, row: Row) -> dict | None:
        """The stored record of ``row`` under these settings, or ``None``; a stored row that lacks a score of
        :attr:`needs` gets it first, from its own weights (its MAEs kept)."""
        with self._lock:
            rec = self._read(row)
            missing = [] if rec is None else [n for n in self.needs if rec.get(n) is None]
            if missing:
                from ..screening.sweep import stored_row_scores

                values = stored_row_scores(row, rec["drawn"], missing, self.series, self.sampling, self.sampler)
                self.store.add_scores([(rec["id"], n, v) for n, v in values.items()])
                self._known.pop(row.key, None)
                rec = self._read(row)
            return rec

    def _read(self, row: Row) -> dict | None:
        rec = self._known.get(row.key)
        if rec is None:
            df = self.store.frame(self.settings_id, look_back=row.look_back, depth=row.arch.depth, maes=self._maes)
            for r in df.itertuples(index=False):
                record = _record(r)
                self._known[tuple(record[c] for c in KEY_COLUMNS)] = record
            rec = self._known.get(row.key)
        return rec

    def evaluate(self, row: Row) -> SamplingResult:
        """Sample ``row`` here (not stored)."""
        import numba

        before = numba.get_num_threads()
        limit_numba_threads(self.sampler.threads or default_threads())
        try:
            return evaluate_row(self.sampler, self.series, row, self.sampling)
        finally:
            numba.set_num_threads(before)

    def add(self, results) -> int:
        """Store finished results (rows already stored are left alone); returns the rows inserted."""
        with self._lock:
            n = self.store.add_results(self.settings_id, list(results))
            self.new_rows += n
            return n

    def score(self, row: Row) -> tuple[dict, bool]:
        """``(record, cached)``: the stored record of ``row``, sampled and stored first if missing."""
        with self._lock:
            rec = self.lookup(row)  # a stored row without a needed score gets it here (its own pass, MAEs kept)
            if rec is not None:
                self.reused_rows += 1
                return rec, True
            self.add([self.evaluate(row)])
            rec = self.lookup(row)
            assert rec is not None, row
            return rec, False
