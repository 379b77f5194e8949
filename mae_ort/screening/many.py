"""Many series in one screen, and the ranking across them.

:func:`screen_long` (what :func:`mae_ort.screening.sweep.screen` runs for a long-format table)
screens every row of a space on every series of a :class:`~mae_ort.long_format.LongTable` into one
store: each series is its own settings (its fingerprint; its label is its id), so the store holds one
row per (series, architecture) and a rerun resumes each series where it stopped.  The tasks of all
series go through one executor (one pool of worker processes or one Dask client for the whole
table, not one per series); each task carries its series.

A series shorter than the space's largest look-back needs is skipped with a warning naming it;
series whose prepared values are identical (the same fingerprint: the same rows) are screened once,
their rows returned under each id, with a warning.

:func:`best_per_series` and :func:`rank_across_series` read such rows back (``mae-ort rank
--across-series``): each series' best row, and for the architectures every series holds, their mean
rank across the series with its spread (the sample sd of the ranks), as in a comparison of methods
over several data sets (Demsar, "Statistical comparisons of classifiers over multiple data sets",
JMLR 7, 2006: average ranks, ties sharing the mean of their ranks).
"""

from __future__ import annotations

import time
import warnings

import numpy as np

from .._system import default_threads
from .._workers import main_guard_missing, sigterm_raises
from ..errors import DataError, MaeOrtError, MaeOrtWarning
from ..model.keys import KEY_COLUMNS
from ..results.store import Settings, Store, open_store
from ..sampling.readout import PASS_SCORES
from ..sampling.sampler import OutsideBoundsWarning, Sampler
from .cost import largest_member
from .space import check_size
from .sweep import (
    ScreenInterrupted,
    _dask,
    _fill_scores,
    _frame,
    _inline,
    _OfSeries,
    _outside_bounds,
    _processes,
    _Work,
    connect_scheduler,
)

__all__ = ["screen_long", "best_per_series", "rank_across_series", "configurations", "SkippedSeriesWarning",
           "CONFIG_COLUMNS"]


class SkippedSeriesWarning(MaeOrtWarning):
    """A series of a long table is not screened (too short for the largest look-back, or a copy of another)."""


#: The columns of :meth:`~mae_ort.results.store.SQLiteStore.frame` that say how rows were sampled, apart from the
#: series: rows ranked across series share them (``target_form`` where the store has it).
CONFIG_COLUMNS = ("samples", "threshold", "lower", "upper", "fit", "init", "sweep_seed", "seeding", "auto",
                  "target_form")


def screen_long(space, table, *, store, sampling, share, scores, runtime, device, memory_budget, workers,
                auto_workers, threads, scheduler, connect_timeout, progress, batch_flops, t0):
    """Screen ``space`` on every series of ``table`` into one store (the checked arguments of
    :func:`~mae_ort.screening.sweep.screen`); its DataFrame is the space's rows of each series in turn.

    ``df.attrs`` holds ``settings_ids`` (one per screened series), ``series`` (their ids), ``skipped``
    (the ids left out as too short), ``new_rows``, ``computed_rows``, ``meetings`` and ``seconds``.
    """
    import pandas as pd

    from .._progress import as_progress

    check_size(space)
    keys = list(space.keys())
    if not keys:
        raise MaeOrtError(f"the space {space.name!r} is empty: nothing to screen")
    longest = max(k[-1] for k in keys)
    kept = [s for s in table if s.length >= longest + 1]
    skipped = [s.name for s in table if s.length < longest + 1]
    if not kept:
        raise DataError(f"no series of the long table has the {longest + 1} points that look_back={longest} needs "
                        f"(the longest has {max(s.length for s in table)})")
    for s in table:
        if s.length < longest + 1:
            warnings.warn(f"series {s.name!r} has {s.length} points; look_back={longest} needs at least "
                          f"{longest + 1}: it is skipped", SkippedSeriesWarning, stacklevel=3)
    unique: dict[str, int] = {}  # fingerprint -> index in ``screened``
    screened, copies = [], []  # copies: (id, index of the series it copies)
    for s in kept:
        fp = s.fingerprint()
        if fp in unique:
            first = screened[unique[fp]].name
            warnings.warn(f"series {s.name!r} is identical to series {first!r} (after scaling): its rows are "
                          f"{first!r}'s, stored once under {first!r}", SkippedSeriesWarning, stacklevel=3)
            copies.append((s.name, unique[fp]))
        else:
            unique[fp] = len(screened)
            screened.append(s)
    if scores:
        from ..sampling.readout import fit_windows

        shortest = min(s.length for s in screened)
        for lb in sorted({k[-1] for k in keys}):
            fit_windows(shortest - lb)
    largest_member(space, max(screened, key=lambda s: s.length),
                   Sampler(memory_budget=memory_budget, readout=bool(set(PASS_SCORES) & set(scores))))
    client, own_client = (None, False)
    st: Store | None = None
    own_store = False
    bar = None
    new = 0
    try:
        if scheduler is not None:
            client, own_client = connect_scheduler(scheduler, connect_timeout)
        own_store = not isinstance(store, Store) and store is not None
        st = open_store(store)
        sids = [st.add_settings(Settings.of(s, sampling)) for s in screened]
        works = [_Work(st, sid, keys, n_in=s.inputs.shape[1], n_out=s.targets.shape[1], length=s.length,
                       samples=sampling.samples, batch_flops=batch_flops, share=share)
                 for sid, s in zip(sids, screened)]
        total = sum(w.total for w in works)
        batches = (_OfSeries(i, b, screened[i]) for i, w in enumerate(works) for b in w.batches())
        inline = client is None and (workers <= 1 or total <= 1 or (auto_workers and total < 4 * workers))
        script = None if inline or client is not None else main_guard_missing()
        if script is not None:  # as screen does for one series
            advice = (f"screen() was called at the top level of {script} without `if __name__ == \"__main__\":`; "
                      "worker processes import the script again and would run it once more each")
            if not auto_workers:
                raise MaeOrtError(f"{advice}. Put the call under that guard to use workers={workers}, or pass "
                                  "workers=1")
            warnings.warn(f"{advice}, so this sweep runs in this process. Put the call under that guard to use "
                          f"{workers} workers", MaeOrtWarning, stacklevel=3)
            inline = True
        parallel = 1 if (client is not None or inline) else min(workers, total)
        if threads is None:
            threads = 1 if client is not None else max(1, default_threads() // parallel)
        sampler = Sampler(runtime=runtime, device=device, threads=threads, memory_budget=memory_budget,
                          readout=bool(set(PASS_SCORES) & set(scores)))
        if total:
            done = len(keys) * len(screened) - total
            resumed = f" ({done} already done)" if done else ""
            bar = as_progress(progress, description=f"screening {space.name} on {len(screened)} series{resumed}",
                              caller="screen")
            if bar is not None:
                bar(0, total)
        if client is not None:
            results = _dask(batches, None, sampler, sampling, client, share)
        elif inline:
            results = _inline(batches, None, sampler, sampling, share)
        else:
            results = _processes(batches, None, sampler, sampling, parallel, share)
        with sigterm_raises(ScreenInterrupted):
            try:
                for i, batch in results:
                    inserted = st.add_results(sids[i], batch)
                    new += inserted
                    works[i].stored(batch, inserted)
                    if bar is not None:
                        bar(min(sum(w.finished for w in works), total), total)
            finally:
                results.close()
        if scores:
            with sigterm_raises(ScreenInterrupted):
                score_sampler = Sampler(runtime=runtime, device=device, threads=None, memory_budget=memory_budget)
                for sid, s in zip(sids, screened):
                    _fill_scores(st, sid, keys, scores, s, sampling, score_sampler)
        frames = [_frame(st, sid, keys, new=0, seconds=0.0) for sid in sids]
        frames += [frames[i].assign(series=name) for name, i in copies]
        df = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
        df.attrs = dict(settings_ids=sids, series=[s.name for s in screened] + [n for n, _ in copies],
                        skipped=skipped, new_rows=new, computed_rows=sum(w.computed for w in works),
                        meetings=sum(w.meetings for w in works), seconds=time.perf_counter() - t0)
        message = _outside_bounds(df, sampling.lower, sampling.upper)
        if message is not None:
            warnings.warn(message, OutsideBoundsWarning, stacklevel=3)
        return df
    finally:
        if bar is not None and hasattr(bar, "close"):
            bar.close()
        if own_client:
            client.close()
        if own_store and st is not None:
            st.close()


# -- reading: the best of each series, the ranking across series ----------------------------------

def _units(df) -> list:
    """One label per series: its ``series`` name, with its settings id where one name has several settings."""
    names = df.groupby("series")["settings_id"].nunique()
    twice = set(names[names > 1].index)
    return [f"{n} ({sid[:8]})" if n in twice else n for n, sid in zip(df["series"], df["settings_id"])]


def configurations(df) -> list:
    """``df`` split by how its rows were sampled (:data:`CONFIG_COLUMNS`): a list of frames, largest first."""
    cols = [c for c in CONFIG_COLUMNS if c in df]
    if not cols:
        return [df]
    parts = [part for _, part in df.groupby(cols, sort=False, dropna=False)]
    return sorted(parts, key=len, reverse=True)


def _ordered(df, col: str, ascending: bool):
    keys = [col] + (["log_p_exact", "mean"] if col == "log_p" else []) + ["id"]
    asc = [ascending] + ([False, True] if col == "log_p" else []) + [True]
    return df.sort_values([k for k in keys if k in df], ascending=[a for k, a in zip(keys, asc) if k in df],
                          na_position="last")


def best_per_series(df, col: str = "log_p", ascending: bool = False):
    """Each series' best row by ``col`` (``ascending`` for errors and readout scores), in the order the series
    first appear; a ``series`` column labels them (with the settings id where one name has several).

    Ties go to a larger ``log_p_exact``, then a lower mean MAE (by ``log_p``), then the earlier row.
    """
    df = df.assign(series=_units(df))
    order = {n: i for i, n in enumerate(dict.fromkeys(df["series"]))}
    best = _ordered(df, col, ascending).drop_duplicates("series")
    return best.sort_values("series", key=lambda s: s.map(order)).reset_index(drop=True)


def rank_across_series(df, col: str = "log_p", ascending: bool = False):
    """The architectures that every series holds, by their mean rank across the series.

    In each series the rows are ranked by ``col`` (1 = best; ties share the mean of their ranks, NaN ranks
    last); the table gives each architecture's ``mean_rank``, ``sd_rank`` (sample sd over the series, NaN with
    one series), ``best_rank``, ``worst_rank``, ``n_best`` (series where it alone ranks first),
    ``n_series`` and ``mean_<col>``; ordered by mean rank, then sd.  ``df.attrs["left_out"]`` counts the
    architectures some series lacks (not ranked).

    Raises
    ------
    DataError
        Rows of several sampling configurations (:data:`CONFIG_COLUMNS`): rank each on its own
        (:func:`configurations`).
    """
    import pandas as pd

    if len(configurations(df)) > 1:
        raise DataError("the rows were sampled with several settings; rank each configuration on its own")
    key = list(KEY_COLUMNS)
    df = df.assign(series=_units(df))
    n_series = df["series"].nunique()
    held = df.groupby(key, dropna=False)["series"].nunique()
    common = held[held == n_series].index
    kept = df.set_index(key).loc[common].reset_index() if len(common) else df.iloc[:0]
    ranks = kept.groupby("series")[col].rank(method="average", ascending=ascending, na_option="bottom")
    kept = kept.assign(_rank=ranks)
    g = kept.groupby(key, sort=False, dropna=False)
    out = pd.DataFrame({
        "mean_rank": g["_rank"].mean(),
        "sd_rank": g["_rank"].std(ddof=1),
        "best_rank": g["_rank"].min(),
        "worst_rank": g["_rank"].max(),
        "n_best": g["_rank"].apply(lambda r: int((r == 1.0).sum())),
        "n_series": g["series"].nunique(),
        f"mean_{col}": g[col].mean(),
    }).reset_index()
    out = out.sort_values(["mean_rank", "sd_rank"], kind="stable", na_position="last").reset_index(drop=True)
    out.insert(0, "rank", np.arange(1, len(out) + 1))
    out.attrs["left_out"] = int(len(held) - len(common))
    return out
