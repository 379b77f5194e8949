"""Validation: train architectures picked from a screened database and store their errors beside the sampling rows.

:func:`validate` picks ``pick`` rows (architecture x look-back) uniformly at random
from the screened rows of one database whose series is the split's training part,
trains each once with Keras for the largest epoch budget
(:func:`mae_ort.train.train`), and writes one ``trained`` row per budget into the
same SQLite file, linked to the sampling row by its ``id``.

Schema (owned here; version in table ``trained_meta``, key ``schema_version``)
---------------------------------------------------------------------------------
``trained``: one row per ``(sampling_id, split_key, train_key, seed, epochs)``
(UNIQUE), where ``sampling_id`` is ``sampling.id`` of the screened row (the
architecture, look-back and sampling settings), ``split_key`` identifies the
train/test data (fingerprints of both parts), ``train_key`` the training
settings (:meth:`mae_ort.train.TrainSettings.key`) and ``seed`` the Keras seed.
Columns: the test MAE one-step (``test_mae``) and recursive
(``test_mae_recursive``, NULL when the inputs are not the targets), the training
MAE, the monitored loss, epochs run, best epoch, training seconds, and
``test_sampling_id``: the sampling row of the same architecture on the *test*
part, filled by ``sample_on='test'`` (the reference implementation's leaky
scoring).  ``trained_costs`` holds Table 4 measurements.

Resuming: an architecture whose rows exist for every requested budget (same data,
settings and seed) is not trained again; rows are written in one transaction per
architecture as it finishes, so an interrupted validation loses at most the
trainings in flight.  Only the parent process writes.

Parallelism: ``jobs`` worker processes (``spawn``), each limited to
``cores // jobs`` threads through ``OMP_NUM_THREADS``/``TF_NUM_INTRAOP_THREADS``
set before TensorFlow is imported.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import signal
import sqlite3
import threading
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

import numpy as np

from ._validation import check_int, check_option, check_seed
from ._pool import sigterm_raises
from ._pool import stop_pool as _stop_pool
from .errors import InvalidParameterError, MaeOrtError, StoreError
from .runtime import default_threads
from .store import write_transaction as _transaction
from .train import TEST_MODES, TrainSettings, TrainTestSplit, parse_epochs, sine_split

__all__ = [
    "SCHEMA_VERSION",
    "SAMPLE_ON",
    "ensure_schema",
    "candidates",
    "pick_rows",
    "validate",
    "joined",
    "load_costs",
    "save_costs",
]

#: Version of the ``trained`` tables (``trained_meta.schema_version``).
SCHEMA_VERSION = 1

#: Which part of the series the sampling statistics compared with the trained MAE come from.
SAMPLE_ON = ("train", "test")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS trained_meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS trained (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT,
    sampling_id        INTEGER NOT NULL REFERENCES sampling(id),
    split_key          TEXT NOT NULL,
    train_key          TEXT NOT NULL,
    seed               INTEGER NOT NULL,
    epochs             INTEGER NOT NULL,
    max_epochs         INTEGER NOT NULL,
    test_mae           REAL,
    test_mae_recursive REAL,
    train_mae          REAL,
    monitor_loss       REAL,
    epochs_run         INTEGER NOT NULL,
    best_epoch         INTEGER NOT NULL,
    stopped_epoch      INTEGER,
    train_seconds      REAL NOT NULL,
    test_sampling_id   INTEGER REFERENCES sampling(id),
    split              TEXT NOT NULL,
    train_settings     TEXT NOT NULL,
    threads            INTEGER,
    created            TEXT NOT NULL,
    UNIQUE (sampling_id, split_key, train_key, seed, epochs)
);
CREATE INDEX IF NOT EXISTS trained_by_sampling ON trained (sampling_id);
CREATE TABLE IF NOT EXISTS trained_costs (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    sampling_id      INTEGER REFERENCES sampling(id),
    kind             TEXT NOT NULL,
    units            TEXT NOT NULL,
    look_back        INTEGER NOT NULL,
    epochs           INTEGER,
    samples          INTEGER,
    work_seconds     REAL NOT NULL,
    setup_seconds    REAL,
    process_seconds  REAL NOT NULL,
    peak_rss_bytes   INTEGER NOT NULL,
    created          TEXT NOT NULL
);
"""

_TRAINED_COLUMNS = (
    "sampling_id", "split_key", "train_key", "seed", "epochs", "max_epochs", "test_mae", "test_mae_recursive",
    "train_mae", "monitor_loss", "epochs_run", "best_epoch", "stopped_epoch", "train_seconds", "test_sampling_id",
    "split", "train_settings", "threads", "created",
)


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


# -- the database ------------------------------------------------------------------------------
def _open(db, *, create_tables: bool = True) -> sqlite3.Connection:
    """A connection to an existing mae-ort results database, with the trained tables present."""
    from .store import open_store

    path = Path(str(db))
    st = open_store(str(path), create=False)  # checks: exists, SQLite, mae-ort schema version
    st.close()
    try:
        conn = sqlite3.connect(str(path), timeout=60.0, isolation_level=None)
        conn.execute("PRAGMA foreign_keys=ON")
    except sqlite3.Error as e:
        raise StoreError(f"cannot open the results database {str(path)!r}: {e}") from e
    if create_tables:
        ensure_schema(conn, str(path))
    return conn


def ensure_schema(conn: sqlite3.Connection, path: str = "") -> None:
    """Create the trained tables if missing; refuse a newer version of them."""
    with _transaction(conn, path) as c:
        tables = {r[0] for r in c.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if "trained_meta" in tables:
            meta = dict(c.execute("SELECT key, value FROM trained_meta").fetchall())
            try:
                version = int(meta.get("schema_version", "0"))
            except ValueError:
                version = 0
            if version != SCHEMA_VERSION:
                hint = ": upgrade mae-ort (pip install -U mae-ort)" if version > SCHEMA_VERSION else ""
                raise StoreError(f"{path!r} holds trained results of schema version {version}; this mae-ort reads "
                                 f"version {SCHEMA_VERSION}{hint}")
            return
        for statement in _SCHEMA.split(";"):
            if statement.strip():
                c.execute(statement)
        c.execute("INSERT OR REPLACE INTO trained_meta (key, value) VALUES ('schema_version', ?)",
                  (str(SCHEMA_VERSION),))
        c.execute("INSERT OR REPLACE INTO trained_meta (key, value) VALUES ('created', ?)", (_now(),))


def _read(conn, sql: str, params=(), path: str = "") -> list[tuple]:
    try:
        return conn.execute(sql, params).fetchall()
    except sqlite3.Error as e:
        raise StoreError(f"cannot read the results database {path!r}: {e}") from e


# -- choosing rows -----------------------------------------------------------------------------
def split_key(split: TrainTestSplit) -> str:
    """A short hash of the training and test parts' fingerprints."""
    text = f"{split.train.fingerprint()}|{split.test.fingerprint()}"
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def candidates(db, split: TrainTestSplit | None = None, *, settings_id: str | None = None, depth=None,
               look_back=None, maes: bool = False):
    """The screened rows of ``db`` whose series is the split's training part.

    Parameters
    ----------
    db : str or Path
    split : TrainTestSplit, optional
        Default: the paper's sine (:func:`~mae_ort.train.sine_split`).
    settings_id : str, optional
        Which sampling settings (an id or a unique prefix), when several were
        screened on this series.
    depth, look_back : int or sequence of int, optional
        Only these depths / look-backs.

    Returns
    -------
    pandas.DataFrame
        As :meth:`mae_ort.store.SQLiteStore.frame`; ``df.attrs["settings_id"]`` is set.

    Raises
    ------
    StoreError
        Missing or unreadable database.
    MaeOrtError
        No screened rows for this series, several settings without ``settings_id``,
        or none left after the filters.
    """
    from .store import open_store

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
        if mine.empty:
            seen = ", ".join(sorted(set(f"{s} ({f})" for s, f in zip(sf.series, sf.series_fingerprint)))) or "none"
            raise MaeOrtError(
                f"{db}: no screened rows for the training part {split.train.name!r} (fingerprint {fp}); "
                f"screened series: {seen}. Screen it first (mae-ort screen --db {db} ...)"
            )
        if len(mine) > 1:
            lines = "; ".join(f"{r.settings_id} ({r.rows} rows, samples={r.samples}, fit={r.fit}, init={r.init}, "
                              f"seed={r.seed})" for r in mine.itertuples())
            raise MaeOrtError(f"{db}: several sampling settings were screened on this series; choose one with "
                              f"--settings: {lines}")
        sid = str(mine.settings_id.iloc[0])
        df = st.frame(sid, depth=depth, look_back=look_back, maes=maes)
    finally:
        st.close()
    if df.empty:
        raise MaeOrtError(f"{db}: no screened rows of settings {sid} with depth={depth} and look_back={look_back}")
    df.attrs["settings_id"] = sid
    return df


def _pick_rank(seed: int, key: tuple) -> int:
    text = f"mae-ort-pick|{int(seed)}|" + "/".join(map(str, key[:5])) + f"/lb{key[5]}"
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big") >> 1


def pick_rows(df, pick, *, seed: int = 0):
    """``pick`` rows chosen uniformly at random, reproducibly: the smallest hashes of ``(seed, key)``.

    The same seed picks the same rows however the database was filled, and a larger
    ``pick`` picks a superset.  ``pick='all'`` (or ``None``) keeps every row.
    """
    from .store import KEY_COLUMNS

    if pick is None or (isinstance(pick, str) and pick.lower() == "all"):
        return df.reset_index(drop=True)
    pick = check_int(pick, "pick", "validate", low=1)
    ranks = [_pick_rank(seed, tuple(r)) for r in df[list(KEY_COLUMNS)].itertuples(index=False)]
    order = np.argsort(np.asarray(ranks, dtype=np.uint64), kind="stable")[:pick]
    return df.iloc[np.sort(order)].reset_index(drop=True)


# -- training jobs -------------------------------------------------------------------------------
_WORKER: dict = {}


def _watch_parent(parent: int) -> None:
    while True:
        time.sleep(0.5)
        if os.getppid() != parent:
            os._exit(1)


def _init_worker(split: TrainTestSplit, threads: int) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    from .train import limit_threads

    limit_threads(threads)  # before TensorFlow is imported in this process
    _WORKER.update(split=split, threads=threads)
    threading.Thread(target=_watch_parent, args=(os.getppid(),), daemon=True, name="mae-ort-parent-watch").start()


def _train_one(task: dict, split: TrainTestSplit | None = None, threads: int | None = None) -> dict:
    from .spec import Architecture
    from .train import train

    split = split or _WORKER["split"]
    threads = threads or _WORKER.get("threads")
    r = train(split, Architecture(**task["arch"]), look_back=task["look_back"], epochs=task["epochs"],
              seed=task["seed"], settings=TrainSettings(**task["settings"]), recursive=task["recursive"],
              threads=threads)
    return {"sampling_id": task["sampling_id"], "budgets": [vars(b) for b in r.budgets],
            "stopped_epoch": r.stopped_epoch, "seconds": r.seconds, "threads": threads}


def _run(tasks: list[dict], split: TrainTestSplit, *, jobs: int, threads: int):
    """Yield finished results; in this process (jobs=1) or in ``jobs`` spawned workers."""
    if jobs <= 1 or len(tasks) <= 1:
        for t in tasks:
            yield _train_one(t, split, threads)
        return
    import multiprocessing as mp

    ex = ProcessPoolExecutor(max_workers=min(jobs, len(tasks)), mp_context=mp.get_context("spawn"),
                             initializer=_init_worker, initargs=(split, threads))
    clean = False
    pending: set = set()
    try:
        queue = list(tasks)
        while queue or pending:
            while queue and len(pending) < 2 * jobs:
                pending.add(ex.submit(_train_one, queue.pop(0)))
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for f in done:
                try:
                    yield f.result()
                except BrokenProcessPool as e:
                    raise MaeOrtError("a training process died (out of memory or killed); finished architectures "
                                      "are stored, rerun the same command to resume") from e
        clean = True
    finally:
        if clean:
            ex.shutdown(wait=True)
        else:
            _stop_pool(ex)


def _write(conn, path: str, result: dict, *, skey: str, tkey: str, seed: int, max_epochs: int, split_json: str,
           settings_json: str, test_sampling_id) -> None:
    rows = []
    for b in result["budgets"]:
        rows.append((
            result["sampling_id"], skey, tkey, seed, b["epochs"], max_epochs, b["test_mae"], b["test_mae_recursive"],
            b["train_mae"], b["monitor_loss"], b["epochs_run"], b["best_epoch"], result["stopped_epoch"],
            b["seconds"], test_sampling_id, split_json, settings_json, result.get("threads"), _now(),
        ))
    update = ", ".join(
        (f"{c}=COALESCE(excluded.{c}, trained.{c})" if c == "test_sampling_id" else f"{c}=excluded.{c}")
        for c in _TRAINED_COLUMNS if c not in ("sampling_id", "split_key", "train_key", "seed", "epochs", "created"))
    sql = (f"INSERT INTO trained ({', '.join(_TRAINED_COLUMNS)}) VALUES ({', '.join('?' * len(_TRAINED_COLUMNS))}) "
           f"ON CONFLICT (sampling_id, split_key, train_key, seed, epochs) DO UPDATE SET {update}")
    with _transaction(conn, path) as c:
        c.executemany(sql, rows)


def _test_rows(db, split: TrainTestSplit, picked, settings_row) -> dict:
    """Sample the picked architectures on the test part (the reference's scoring); key -> sampling id."""
    from .screen import screen
    from .space import Row, RowList
    from .spec import Architecture
    from .store import KEY_COLUMNS

    rows = [Row(Architecture(tuple(int(u) for u in r.units.split(",")), cell=r.cell, activation=r.activation,
                             recurrent_activation=r.recurrent_activation, head_activation=r.head_activation),
                int(r.look_back)) for r in picked.itertuples()]
    longest = max(r.look_back for r in rows)
    if split.test.length < longest + 1:
        raise MaeOrtError(f"sample_on='test': the test part has {split.test.length} points; look_back={longest} "
                          f"needs at least {longest + 1}")
    df = screen(RowList(rows, name="validation picks"), split.test, store=str(db), samples=int(settings_row.samples),
                threshold=float(settings_row.threshold), lower=float(settings_row.lower),
                upper=float(settings_row.upper), fit=str(settings_row.fit), init=str(settings_row.init),
                seed=int(settings_row.sweep_seed), workers=1)
    return {tuple(r): int(i) for r, i in zip(df[list(KEY_COLUMNS)].itertuples(index=False), df["id"])}


def validate(db, split: TrainTestSplit | None = None, *, pick=30, epochs="1,10,100", seed: int = 0,
             settings: TrainSettings | None = None, settings_id: str | None = None, depth=None, look_back=None,
             sample_on: str = "train", test_mode: str = "one-step", jobs: int = 1, threads: int | None = None,
             progress=None):
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
        Picks the rows and seeds Keras (``keras.utils.set_random_seed(seed)``) for every training.
    settings : TrainSettings, optional
        Default: the reference implementation's trainer.
    settings_id, depth, look_back
        Which screened rows (see :func:`candidates`).
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

    Returns
    -------
    pandas.DataFrame
        The picked rows' trained results (:func:`joined` for these rows, this split,
        settings and seed); ``df.attrs`` has ``trained`` (architectures trained now),
        ``skipped`` (already done) and ``seconds``.

    Raises
    ------
    MaeOrtError
        Bad parameters, a missing database, no screened rows for this series.
    KeyboardInterrupt
        On Ctrl-C (or :class:`~mae_ort.errors.Interrupted` on SIGTERM), after storing
        every finished architecture and stopping the training processes; rerunning
        resumes.
    """
    caller = "validate"
    t0 = time.perf_counter()
    split = split or sine_split()
    budgets = parse_epochs(epochs, caller)
    seed = check_seed(seed, "seed", caller)
    settings = settings or TrainSettings()
    sample_on = check_option(sample_on, "sample_on", caller, SAMPLE_ON)
    test_mode = check_option(test_mode, "test_mode", caller, TEST_MODES)
    jobs = check_int(jobs, "jobs", caller, low=1)
    threads = max(1, default_threads() // jobs) if threads is None else check_int(threads, "threads", caller, low=1)
    if test_mode == "recursive" and not split.recursive_ok:
        raise InvalidParameterError(
            "--test-mode recursive feeds predictions back as inputs, so the inputs must be the targets; this series "
            f"has inputs {', '.join(split.train.input_names)} and targets {', '.join(split.train.target_names)}"
        )
    path = str(db)
    cand = candidates(db, split, settings_id=settings_id, depth=depth, look_back=look_back)
    sid = cand.attrs["settings_id"]
    picked = pick_rows(cand, pick, seed=seed)
    conn = _open(db)
    try:
        skey, tkey = split_key(split), settings.key()
        test_ids: dict = {}
        if sample_on == "test":
            from .store import KEY_COLUMNS

            s_row = candidates(db, split, settings_id=sid).iloc[0]
            by_key = _test_rows(db, split, picked, s_row)
            test_ids = {int(i): by_key.get(tuple(k)) for i, k in
                        zip(picked["id"], picked[list(KEY_COLUMNS)].itertuples(index=False))}
            with _transaction(conn, path) as c:
                c.executemany("UPDATE trained SET test_sampling_id=? WHERE sampling_id=? AND split_key=?",
                              [(v, k, skey) for k, v in test_ids.items() if v is not None])
        ids = [int(i) for i in picked["id"]]
        done = {}
        for i in range(0, len(ids), 500):
            chunk = ids[i:i + 500]
            q = (f"SELECT sampling_id, epochs FROM trained WHERE split_key=? AND train_key=? AND seed=? "
                 f"AND sampling_id IN ({', '.join('?' * len(chunk))})")
            for s, e in _read(conn, q, (skey, tkey, seed, *chunk), path):
                done.setdefault(int(s), set()).add(int(e))
        todo = [r for r in picked.itertuples() if not set(budgets) <= done.get(int(r.id), set())]
        tasks = [{
            "sampling_id": int(r.id),
            "arch": {"units": tuple(int(u) for u in r.units.split(",")), "cell": r.cell, "activation": r.activation,
                     "recurrent_activation": r.recurrent_activation, "head_activation": r.head_activation},
            "look_back": int(r.look_back), "epochs": budgets, "seed": seed, "settings": settings.to_dict(),
            "recursive": split.recursive_ok, "label": f"{r.cell}[{r.units}] lb={r.look_back}",
        } for r in todo]
        split_json = json.dumps({**split.to_dict(), "spec": split.spec}, sort_keys=True)
        settings_json = json.dumps(settings.to_dict(), sort_keys=True)
        labels = {t["sampling_id"]: t["label"] for t in tasks}
        n_done = 0
        results = _run(tasks, split, jobs=jobs, threads=threads)
        with sigterm_raises():
            try:
                for result in results:
                    _write(conn, path, result, skey=skey, tkey=tkey, seed=seed, max_epochs=budgets[-1],
                           split_json=split_json, settings_json=settings_json,
                           test_sampling_id=test_ids.get(result["sampling_id"]))
                    n_done += 1
                    if progress is not None:
                        last = result["budgets"][-1]
                        mae = last["test_mae"] if test_mode == "one-step" else last["test_mae_recursive"]
                        progress(n_done, len(tasks), f"{labels[result['sampling_id']]}: test MAE {mae:.4f} after "
                                                     f"{last['epochs']} epochs ({result['seconds']:.1f} s)")
            finally:
                results.close()  # stops the training processes at once when interrupted
    finally:
        conn.close()
    out = joined(db, sampling_ids=ids, split_key=skey, train_key=tkey, seed=seed, sample_on=sample_on)
    out = out[out.epochs.isin(budgets)].reset_index(drop=True)
    out.attrs.update(trained=len(tasks), skipped=len(picked) - len(tasks), settings_id=sid,
                     seconds=time.perf_counter() - t0)
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
        log_p, log_p_exact, sample_seconds, maes`` and the trained columns ``epochs,
        test_mae, test_mae_recursive, train_mae, ..., train_seconds, train_settings, seed``.
    """
    import pandas as pd

    sample_on = check_option(sample_on, "sample_on", "joined", SAMPLE_ON)
    conn = _open(db)
    path = str(db)
    try:
        link = "t.sampling_id" if sample_on == "train" else "t.test_sampling_id"
        where, params = [f"{link} IS NOT NULL"], []
        if sampling_ids is not None:
            ids = [int(i) for i in sampling_ids]
            if not ids:
                ids = [-1]
            where.append(f"t.sampling_id IN ({', '.join('?' * len(ids))})")
            params += ids
        for col, val in (("split_key", split_key), ("train_key", train_key), ("seed", seed)):
            if val is not None:
                where.append(f"t.{col} = ?")
                params.append(val)
        if depth is not None:
            ds = [int(d) for d in (depth if isinstance(depth, (list, tuple, set, range)) else [depth])]
            where.append(f"s.depth IN ({', '.join('?' * len(ds))})")
            params += ds
        tcols = ["id AS trained_id", "sampling_id", "epochs", "max_epochs", "test_mae", "test_mae_recursive",
                 "train_mae", "monitor_loss", "epochs_run", "best_epoch", "stopped_epoch", "train_seconds",
                 "test_sampling_id", "split_key", "train_key", "seed", "train_settings", "split"]
        scols = ["id AS scored_id", "units", "depth", "look_back", "cell", "activation", "recurrent_activation",
                 "head_activation", "mean", "sd", "p", "log_p", "log_p_exact", "n_nonfinite",
                 "seconds AS sample_seconds", "maes"]
        gcols = ["series", "samples", "threshold", "lower", "upper", "fit", "init", "settings_id"]
        sql = ("SELECT " + ", ".join(f"t.{c}" for c in tcols) + ", " + ", ".join(f"s.{c}" for c in scols) + ", "
               + ", ".join(f"g.{c}" for c in gcols)
               + f" FROM trained t JOIN sampling s ON s.id = {link} JOIN settings g ON g.settings_id = s.settings_id"
               + " WHERE " + " AND ".join(where) + " ORDER BY t.sampling_id, t.epochs")
        rows = _read(conn, sql, params, path)
    finally:
        conn.close()
    names = [c.split(" AS ")[-1] for c in tcols + scols] + gcols
    df = pd.DataFrame(rows, columns=names)
    for c in ("test_mae", "test_mae_recursive", "train_mae", "monitor_loss", "train_seconds", "mean", "sd", "p",
              "log_p", "log_p_exact", "sample_seconds", "threshold", "lower", "upper"):
        df[c] = pd.to_numeric(df[c], errors="coerce").astype("float64")
    df["maes"] = [np.frombuffer(b, dtype="<f8").copy() if b is not None else None for b in df["maes"]]
    return df


def save_costs(db, rows: list[dict], *, sampling_id: int | None = None) -> None:
    """Append Table 4 measurements (from :func:`mae_ort.report.measure_costs`) to ``trained_costs``."""
    conn = _open(db)
    try:
        with _transaction(conn, str(db)) as c:
            c.executemany(
                "INSERT INTO trained_costs (sampling_id, kind, units, look_back, epochs, samples, work_seconds, "
                "setup_seconds, process_seconds, peak_rss_bytes, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [(sampling_id, r["kind"], r["units"], r["look_back"], r.get("epochs"), r.get("samples"),
                  r["work_seconds"], r.get("setup_seconds"), r["process_seconds"], int(r["peak_rss_bytes"]), _now())
                 for r in rows])
    finally:
        conn.close()


def load_costs(db):
    """The Table 4 measurements stored in ``db`` as a DataFrame (possibly empty)."""
    import pandas as pd

    conn = _open(db)
    try:
        cols = ["sampling_id", "kind", "units", "look_back", "epochs", "samples", "work_seconds", "setup_seconds",
                "process_seconds", "peak_rss_bytes", "created"]
        rows = _read(conn, f"SELECT {', '.join(cols)} FROM trained_costs ORDER BY id", (), str(db))
    finally:
        conn.close()
    return pd.DataFrame(rows, columns=cols)
