"""Validation: train architectures picked from a screened database and store their errors beside the sampling rows.

:func:`validate` picks ``pick`` rows (architecture x look-back) uniformly at random
from the screened rows of one database whose series is the split's training part,
trains each once with Keras for the largest epoch budget
(:func:`mae_ort.study.train.train`), and writes one ``trained`` row per budget into the
same SQLite file, linked to the sampling row by its ``id``.

Storage: the trained rows go into the same database through its one owner,
:class:`mae_ort.results.SQLiteStore` (table ``trained``: one row per
``(sampling_id, split_key, train_key, seed, epochs)``, where ``sampling_id`` is the
screened row, ``split_key`` identifies the train/test data, ``train_key`` the
training settings (:meth:`mae_ort.study.train.TrainSettings.key`) and ``seed`` the
Keras seed; ``test_sampling_id`` links the same architecture sampled on the *test*
part when ``sample_on='test'``, the reference implementation's leaky scoring).

Resuming: an architecture whose rows exist for every requested budget (same data,
settings and seed) is not trained again; rows are written in one transaction per
architecture as it finishes, so an interrupted validation loses at most the
trainings in flight.  Only the parent process writes.

Parallelism: ``jobs`` worker processes with the lifecycle of
:class:`mae_ort._workers.WorkerPool`, each limited to ``cores // jobs`` threads before
TensorFlow is imported.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import time
from pathlib import Path

import numpy as np

from .._checks import check_int, check_option, check_seed
from .._files import atomic_path
from .._hold import hold_point
from .._system import default_threads, limit_threads
from .._workers import WorkerPool, sigterm_raises
from ..data import TrainTestSplit, check_target_form, sine_split
from ..errors import InvalidParameterError, MaeOrtError
from ..model.architecture import MODEL_FIELDS, Architecture
from ..model.keys import KEY_COLUMNS, hashed_rank
from ..results.store import open_store
from ..sampling.auto import AutoSamples
from .train import TEST_MODES, TrainSettings, parse_epochs

__all__ = [
    "SAMPLE_ON",
    "candidates",
    "pick_rows",
    "validate",
    "joined",
    "load_costs",
    "save_costs",
]

#: Which part of the series the sampling statistics compared with the trained MAE come from.
SAMPLE_ON = ("train", "test")


# -- choosing rows -----------------------------------------------------------------------------
def split_key(split: TrainTestSplit) -> str:
    """A short hash of the training and test parts' fingerprints."""
    text = f"{split.train.fingerprint()}|{split.test.fingerprint()}"
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def candidates(db, split: TrainTestSplit | None = None, *, settings_id: str | None = None, depth=None,
               look_back=None, model: dict | None = None, maes: bool = False, target_form: str | None = None):
    """The screened rows of ``db`` whose series is the split's training part.

    Parameters
    ----------
    db : str or Path
    split : TrainTestSplit, optional
        Default: the paper's sine (:func:`~mae_ort.study.train.sine_split`).
    settings_id : str, optional
        Which sampling settings (an id or a unique prefix), when several were
        screened on this series.
    depth, look_back : int or sequence of int, optional
        Only these depths / look-backs.
    model : dict, optional
        Only rows of this model: any of ``cell``, ``activation``, ``recurrent_activation``,
        ``head_activation`` (see :func:`mae_ort.model.architecture.model_fields`).  Rows of several models without a
        filter are refused: one study compares architectures of one model.
    target_form : {'level', 'delta'}, optional
        Only settings screened with this target form (default: any; the rows' ``target_form``
        column says which, and training follows it).

    Returns
    -------
    pandas.DataFrame
        As :meth:`mae_ort.results.store.SQLiteStore.frame`; ``df.attrs["settings_id"]`` is set.

    Raises
    ------
    StoreError
        Missing or unreadable database.
    MaeOrtError
        No screened rows for this series, several settings without ``settings_id``,
        or none left after the filters.
    """
    split = split or sine_split()
    st = open_store(str(db), create=False)
    try:
        sf = st.settings_frame()
        fp = split.train.fingerprint()
        mine = sf[(sf.series_fingerprint == fp) & (sf["rows"] > 0)]
        if settings_id is not None:
            chosen = sf[sf.settings_id == st.settings_id(settings_id)]
            if chosen.series_fingerprint.iloc[0] != fp:
                raise MaeOrtError(
                    f"{db}: settings {settings_id!r} were screened on series {chosen.series.iloc[0]!r}, not on the "
                    f"training part {split.train.name!r} of this validation (fingerprint {fp})"
                )
            mine = chosen
        if target_form is not None:
            target_form = check_target_form(target_form, "candidates")
            other = mine[mine.target_form != target_form]
            mine = mine[mine.target_form == target_form]
            if mine.empty and len(other):
                raise MaeOrtError(f"{db}: the screened rows of this series forecast the "
                                  f"{' and '.join(sorted(set(other.target_form)))} target form, not {target_form!r}; "
                                  f"screen with --target-form {target_form} first, or leave --target-form out")
        if mine.empty:
            seen = ", ".join(sorted(set(f"{s} ({f})" for s, f in zip(sf.series, sf.series_fingerprint)))) or "none"
            raise MaeOrtError(
                f"{db}: no screened rows for the training part {split.train.name!r} (fingerprint {fp}); "
                f"screened series: {seen}. Screen it first (mae-ort screen --db {db} ...)"
            )
        if len(mine) > 1:
            lines = "; ".join(f"{r.settings_id} ({r.rows} rows, samples={r.samples}, fit={r.fit}, init={r.init}, "
                              f"seed={r.seed}, target_form={r.target_form})" for r in mine.itertuples())
            raise MaeOrtError(f"{db}: several sampling settings were screened on this series; choose one with "
                              f"--settings: {lines}")
        sid = str(mine.settings_id.iloc[0])
        df = st.frame(sid, depth=depth, look_back=look_back, maes=maes)
    finally:
        st.close()
    for field, value in (model or {}).items():
        if value is not None:
            df = df[df[field] == value]
    if len(df) and (df["cell"] == "onnx").all():
        raise MaeOrtError(f"{db}: the screened rows of settings {sid} are own ONNX models (screen --onnx), which "
                          "mae-ort ranks but cannot rebuild to train; train them in their own framework")
    df = df[df["cell"] != "onnx"]  # own ONNX models beside built-in rows: only the built-in ones are trained
    if df.empty:
        raise MaeOrtError(f"{db}: no screened rows of settings {sid} with depth={depth}, look_back={look_back}"
                          + (f" and model {model}" if model else ""))
    models = df[list(MODEL_FIELDS)].drop_duplicates()
    if len(models) > 1:
        listing = "; ".join("/".join(m) for m in models.itertuples(index=False))
        raise MaeOrtError(f"{db}: the screened rows hold {len(models)} models (cell/activation/gates/head: "
                          f"{listing}); choose one with --preset, --cell, --activation, --recurrent-activation or "
                          "--head-activation")
    df = df.reset_index(drop=True)
    df.attrs["settings_id"] = sid
    return df


def pick_rows(df, pick, *, seed: int = 0):
    """``pick`` rows chosen uniformly at random, reproducibly: the smallest hashes of ``(seed, key)``.

    The same seed picks the same rows however the database was filled, and a larger
    ``pick`` picks a superset.  ``pick='all'`` (or ``None``) keeps every row.
    """
    if pick is None or (isinstance(pick, str) and pick.lower() == "all"):
        return df.reset_index(drop=True)
    pick = check_int(pick, "pick", "validate", low=1)
    ranks = [hashed_rank("pick", seed, tuple(r)) for r in df[list(KEY_COLUMNS)].itertuples(index=False)]
    order = np.argsort(np.asarray(ranks, dtype=np.uint64), kind="stable")[:pick]
    return df.iloc[np.sort(order)].reset_index(drop=True)


# -- training jobs -------------------------------------------------------------------------------
_WORKER: dict = {}


def _init_worker(split: TrainTestSplit, threads: int) -> None:
    _WORKER.update(split=split, threads=threads)


def _train_one(task: dict, split: TrainTestSplit | None = None, threads: int | None = None) -> dict:
    from .train import train

    split = split or _WORKER["split"]
    threads = threads or _WORKER.get("threads")
    r = train(split, Architecture(**task["arch"]), look_back=task["look_back"], epochs=task["epochs"],
              seed=task["seed"], settings=TrainSettings(**task["settings"]), recursive=task["recursive"],
              threads=threads, keep_model=bool(task.get("save")), target_form=task.get("target_form", "level"))
    if task.get("save"):
        with atomic_path(task["save"]) as tmp:  # a stopped training leaves no half-written .keras file
            r.model.save(tmp)
    return {"sampling_id": task["sampling_id"], "seed": task["seed"], "budgets": [vars(b) for b in r.budgets],
            "stopped_epoch": r.stopped_epoch, "seconds": r.seconds, "threads": threads}


def _run(tasks: list[dict], split: TrainTestSplit, *, jobs: int, threads: int):
    """Yield finished results; in this process (jobs=1) or in ``jobs`` worker processes."""
    if jobs <= 1 or len(tasks) <= 1:
        limit_threads(threads)
        for t in tasks:
            yield _train_one(t, split, threads)
        return
    pool = WorkerPool(min(jobs, len(tasks)), threads=threads, initializer=_init_worker, initargs=(split, threads),
                      preload=__name__, what="architectures")
    yield from pool.run(_train_one, tasks)


def _trained_rows(result: dict, *, skey: str, tkey: str, seed: int, max_epochs: int, split_json: str,
                  settings_json: str, test_sampling_id) -> list[dict]:
    return [{"sampling_id": result["sampling_id"], "split_key": skey, "train_key": tkey, "seed": seed,
             "epochs": b["epochs"], "max_epochs": max_epochs, "test_mae": b["test_mae"],
             "test_mae_recursive": b["test_mae_recursive"], "train_mae": b["train_mae"],
             "monitor_loss": b["monitor_loss"], "epochs_run": b["epochs_run"], "best_epoch": b["best_epoch"],
             "stopped_epoch": result["stopped_epoch"], "train_seconds": b["seconds"],
             "test_sampling_id": test_sampling_id, "split": split_json, "train_settings": settings_json,
             "threads": result.get("threads")} for b in result["budgets"]]


def _test_rows(db, split: TrainTestSplit, picked, settings_row) -> dict:
    """Sample the picked architectures on the test part (the reference's scoring); key -> sampling id."""
    from ..screening.space import Row, RowList
    from ..screening.sweep import screen

    rows = [Row.from_record(r) for r in picked.itertuples()]
    longest = max(r.look_back for r in rows)
    if split.test.length < longest + 1:
        raise MaeOrtError(f"sample_on='test': the test part has {split.test.length} points; look_back={longest} "
                          f"needs at least {longest + 1}")
    auto = str(getattr(settings_row, "auto", "") or "")  # samples="auto": the same rule, without a race
    samples = str(dataclasses.replace(AutoSamples.parse(auto), race=0)) if auto else int(settings_row.samples)
    df = screen(RowList(rows, name="validation picks"), split.test, store=str(db), samples=samples,
                threshold=float(settings_row.threshold), lower=float(settings_row.lower),
                upper=float(settings_row.upper), fit=str(settings_row.fit), init=str(settings_row.init),
                seed=int(settings_row.sweep_seed), seeding=int(getattr(settings_row, "seeding", 1)), workers=1,
                target_form=str(getattr(settings_row, "target_form", "level")))
    return {tuple(r): int(i) for r, i in zip(df[list(KEY_COLUMNS)].itertuples(index=False), df["id"])}


def train_rows(store, split: TrainTestSplit, rows, *, budgets, settings: TrainSettings, seeds=(0,), jobs: int = 1,
               threads: int = 1, test_ids: dict | None = None, test_mode: str = "one-step", save_dir=None,
               save_tag: str = "", progress=None, season: int | None = None) -> int:
    """Train screened rows (a DataFrame of :func:`candidates`) with every seed; store each as it finishes.

    Rows already stored for every budget (same data, settings and seed) are skipped.  With
    ``save_dir``, each trained Keras model is saved there as ``<sampling id>-seed<seed>.keras``.
    Each row is trained in the target form it was screened with (its ``target_form`` column).
    ``season`` (the baselines' season) is stored in the rows' ``split`` JSON, for the report.
    Returns the number of trainings run now.
    """
    skey, tkey = split_key(split), settings.key()
    ids = [int(i) for i in rows["id"]]
    tasks = []
    for s in seeds:
        done = store.trained_budgets(ids, split_key=skey, train_key=tkey, seed=s)
        tasks += [{
            "sampling_id": int(r.id), "arch": Architecture.from_row(r).to_dict(),
            "look_back": int(r.look_back), "epochs": tuple(budgets), "seed": int(s), "settings": settings.to_dict(),
            "recursive": split.recursive_ok, "target_form": str(getattr(r, "target_form", "level")),
            "label": f"{r.cell}[{r.units}] lb={r.look_back}" + (f" seed {s}" if len(seeds) > 1 else ""),
            "save": None if save_dir is None else str(Path(save_dir) / f"{int(r.id)}-{save_tag}-seed{int(s)}.keras"),
        } for r in rows.itertuples() if not set(budgets) <= done.get(int(r.id), set())]
    split_json = json.dumps({**split.to_dict(), "spec": split.spec, **({"season": season} if season else {})},
                            sort_keys=True)
    settings_json = json.dumps(settings.to_dict(), sort_keys=True)
    labels = {(t["sampling_id"], t["seed"]): t["label"] for t in tasks}
    test_ids = test_ids or {}
    n_done = 0
    results = _run(tasks, split, jobs=jobs, threads=threads)
    with sigterm_raises():
        try:
            for result in results:
                store.add_trained(_trained_rows(result, skey=skey, tkey=tkey, seed=result["seed"],
                                                max_epochs=max(budgets), split_json=split_json,
                                                settings_json=settings_json,
                                                test_sampling_id=test_ids.get(result["sampling_id"])))
                hold_point(getattr(store, "path", None))
                n_done += 1
                if progress is not None:
                    last = result["budgets"][-1]
                    mae = last["test_mae"] if test_mode == "one-step" else last["test_mae_recursive"]
                    label = labels[(result["sampling_id"], result["seed"])]
                    progress(n_done, len(tasks), f"{label}: test MAE {mae:.4f} after {last['epochs']} epochs "
                                                 f"({result['seconds']:.1f} s)")
        finally:
            results.close()  # stops the training processes at once when interrupted
    return len(tasks)


def validate(db, split: TrainTestSplit | None = None, *, pick=30, epochs="1,10,100", seed: int = 0,
             trainer: str = "paper", settings: TrainSettings | None = None, repeats: int = 1,
             settings_id: str | None = None, depth=None, look_back=None, model: dict | None = None,
             sample_on: str = "train", test_mode: str = "one-step", jobs: int = 1, threads: int | None = None,
             progress=None, target_form: str | None = None, season: int | None = None):
    """Train architectures picked from a screened database; store their test MAEs beside the sampling rows.

    Parameters
    ----------
    db : str or Path
        A results database with screened rows (``mae-ort screen --db``).
    split : TrainTestSplit, optional
        Training and test data; default the paper's sine (train ``t`` in [0, 100),
        test [100, 120)).  The screened rows used are those of its training part.
    pick : int or 'all'
        How many architectures (rows) to train, picked uniformly at random with ``seed``.
    epochs : str or sequence of int
        Epoch budgets; each architecture is trained once, for the largest.
    seed : int
        Picks the rows and seeds Keras (``keras.utils.set_random_seed``): repeat ``r`` of an
        architecture is trained with seed ``seed + r``.
    trainer : {'paper', 'reference', 'modern'}
        The named trainer (:data:`mae_ort.study.train.TRAINERS`), unless ``settings`` is given.
    settings : TrainSettings, optional
        Explicit training settings (e.g. ``TrainSettings.preset("paper", batch_size=32)``).
    repeats : int
        Trainings of each architecture, with seeds ``seed, seed + 1, ...`` (each row keeps its
        ``seed``; a finished (architecture, seed) training is never redone, so raising ``repeats``
        trains the new seeds only).  The report summarises them by their median test MAE; two or
        more measure the trainer's own noise (the report's noise ceiling, over all seed pairs).
    settings_id, depth, look_back, model
        Which screened rows (see :func:`candidates`).
    target_form : {'level', 'delta'}, optional
        Only rows screened with this target form (default: the screened rows' own); each network is
        trained in its rows' form (``delta``: its output is added to the target's last value) and
        tested on the level, one-step and recursive alike.
    sample_on : {'train', 'test'}
        ``test`` also samples the picked architectures on the test part (with the
        screened settings) and links those rows (``test_sampling_id``), to reproduce the
        reference's leaky scoring; ``train`` (default) compares with the screened rows.
    test_mode : {'one-step', 'recursive'}
        The test MAE to report; both are stored when possible, ``recursive`` is
        required to be possible (the inputs are the targets).
    jobs : int
        Training processes; 1 trains in this process.
    threads : int, optional
        Threads per training (default: cores // jobs).
    progress : callable, optional
        ``progress(done, total, message)`` after each architecture.
    season : int, optional
        The season of the baselines (seasonal naive, ETS, ARIMA), stored with the trained rows.

    Returns
    -------
    pandas.DataFrame
        The picked rows' trained results (:func:`joined` for these rows, this split,
        settings and seed); ``df.attrs`` has ``trained`` (architectures trained now),
        ``skipped`` (already done), ``seconds`` and ``baselines`` (the forecasting baselines on
        the same test points, :func:`mae_ort.study.baselines.evaluate`, the linear
        autoregression at every look-back trained).

    Raises
    ------
    MaeOrtError
        Bad parameters, a missing database, no screened rows for this series.
    KeyboardInterrupt
        On Ctrl-C (or :class:`~mae_ort.errors.Interrupted` on SIGTERM), after storing
        every finished architecture and stopping the training processes; rerunning
        resumes.
    """
    from .baselines import check_season, evaluate

    caller = "validate"
    t0 = time.perf_counter()
    split = split or sine_split()
    season = check_season(season, split.train.length, caller)
    budgets = parse_epochs(epochs, caller)
    seed = check_seed(seed, "seed", caller)
    if settings is None:
        settings = TrainSettings.preset(trainer)
    elif not isinstance(settings, TrainSettings):
        raise InvalidParameterError(f"The 'settings' parameter of {caller} must be a TrainSettings. "
                                    f"Got {settings!r} instead.")
    repeats = check_int(repeats, "repeats", caller, low=1)
    sample_on = check_option(sample_on, "sample_on", caller, SAMPLE_ON)
    test_mode = check_option(test_mode, "test_mode", caller, TEST_MODES)
    jobs = check_int(jobs, "jobs", caller, low=1)
    threads = max(1, default_threads() // jobs) if threads is None else check_int(threads, "threads", caller, low=1)
    if test_mode == "recursive" and not split.recursive_ok:
        raise InvalidParameterError(
            "--test-mode recursive feeds predictions back as inputs, so the inputs must be the targets; this series "
            f"has inputs {', '.join(split.train.input_names)} and targets {', '.join(split.train.target_names)}"
        )
    cand = candidates(db, split, settings_id=settings_id, depth=depth, look_back=look_back, model=model,
                      target_form=target_form)
    sid = cand.attrs["settings_id"]
    picked = pick_rows(cand, pick, seed=seed)
    store = open_store(str(db), create=False)
    try:
        skey, tkey = split_key(split), settings.key()
        test_ids: dict = {}
        if sample_on == "test":
            s_row = candidates(db, split, settings_id=sid).iloc[0]
            by_key = _test_rows(db, split, picked, s_row)
            test_ids = {int(i): by_key.get(tuple(k)) for i, k in
                        zip(picked["id"], picked[list(KEY_COLUMNS)].itertuples(index=False))}
            store.link_test_rows({k: v for k, v in test_ids.items() if v is not None}, split_key=skey)
        ids = [int(i) for i in picked["id"]]
        n_tasks = train_rows(store, split, picked, budgets=budgets, settings=settings,
                             seeds=range(seed, seed + repeats), jobs=jobs, threads=threads, test_ids=test_ids,
                             test_mode=test_mode, progress=progress, season=season)
    finally:
        store.close()
    out = joined(db, sampling_ids=ids, split_key=skey, train_key=tkey, sample_on=sample_on)
    out = out[out.epochs.isin(budgets) & out.seed.isin(range(seed, seed + repeats))].reset_index(drop=True)
    out.attrs.update(trained=n_tasks, skipped=len(picked) * repeats - n_tasks, settings_id=sid,
                     seconds=time.perf_counter() - t0, trainer=settings.trainer(), repeats=repeats)
    out.attrs["baselines"] = evaluate(split, look_backs=sorted(set(int(v) for v in picked.look_back)), season=season,
                                      caller=caller)
    return out


# -- reading back --------------------------------------------------------------------------------
def joined(db, *, sampling_ids=None, split_key: str | None = None, train_key: str | None = None,
           seed: int | None = None, depth=None, sample_on: str = "train"):
    """Trained rows joined with the sampling statistics they are compared with.

    Parameters
    ----------
    db : str or Path
    sampling_ids : sequence of int, optional
        Only these screened rows.
    split_key, train_key, seed, depth : optional
        Only these data, training settings, Keras seed, depths.
    sample_on : {'train', 'test'}
        ``train``: the statistics of the screened row (``sampling_id``); ``test``: of the
        row sampled on the test part (``test_sampling_id``; trained rows without one are dropped).

    Returns
    -------
    pandas.DataFrame
        One row per trained architecture and budget: ``trained_id, sampling_id,
        scored_id, units, depth, look_back, cell, activation, recurrent_activation,
        head_activation, series, samples, threshold, lower, upper, fit, init, mean, sd, p,
        log_p, log_p_exact, n_nonfinite, n_outside, sample_seconds, maes`` and the trained
        columns ``epochs, test_mae, test_mae_recursive, train_mae, ..., train_seconds,
        train_settings, seed``.
    """
    sample_on = check_option(sample_on, "sample_on", "joined", SAMPLE_ON)
    with open_store(str(db), create=False, readonly=True) as store:
        return store.trained_frame(sampling_ids=sampling_ids, split_key=split_key, train_key=train_key, seed=seed,
                                   depth=depth, link="sampling_id" if sample_on == "train" else "test_sampling_id")


def save_costs(db, rows: list[dict], *, sampling_id: int | None = None) -> None:
    """Append Table 4 measurements (from :func:`mae_ort.study.jobs.measure_costs`) to the database."""
    with open_store(str(db), create=False) as store:
        store.add_costs(rows, sampling_id=sampling_id)


def load_costs(db):
    """The Table 4 measurements stored in ``db`` as a DataFrame (possibly empty)."""
    with open_store(str(db), create=False, readonly=True) as store:
        return store.costs_frame()
