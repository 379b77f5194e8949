"""``search``: an Optuna study over a screening grid, scored by MAE random sampling.

Each trial suggests one row of the grid (:class:`~mae_ort.search.space.SearchSpace`),
and the row is scored by MRS through the results store (:class:`~.scoring.Scorer`):
a row the store holds, from ``screen`` or an earlier search with the same settings, is
reused, never sampled again, and a new row is sampled with its own seed exactly as
``screen`` would and stored.  The trial keeps the row's statistics as user attributes
(``mean``, ``sd``, ``p``, ``log_p``, ``log_p_exact``, ``n_outside``, ``n_nonfinite``,
``row_id``, ``settings_id``, ``cached``).

Where things live
-----------------
* mae-ort's rows: ``db`` (a SQLite file, created if missing; default: in memory).
* The Optuna study: ``storage`` (any SQLAlchemy URL or an Optuna storage); default, when
  ``db`` is given, **the same SQLite file** (``sqlite:///<db>``): the mae-ort tables are
  created first (the store refuses a database without its ``meta`` table), then
  Optuna's.  Without ``db`` or ``storage``: Optuna's in-memory storage.
* The study is named ``study``, or by default after the sampler and a hash of the
  grid, the sampling settings and the objective, so the same call resumes.  The grid and
  the settings are stored as the study's user attribute ``mae_ort`` and compared when
  the study is loaded: a study of another grid or other settings is refused with a
  message saying what differs.

Resuming and parallel work
--------------------------
``trials`` is the number of evaluated trials the study should hold: rerunning an
interrupted search runs only the rest, several processes may work on one study (each
stops when the study has enough, so the study may end a trial or so per process over;
give each process its own ``sampler_seed``, or they propose the same rows), and ``jobs``
runs worker processes that evaluate trials while this process asks and tells (this
process alone writes the database; with ``jobs > 1`` the trials depend on the order in
which results arrive, so a seed no longer fixes them).
With ``scheduler`` the trials are asked in batches of ``jobs`` and each batch is scored
by :func:`mae_ort.screening.screen` on the Dask cluster.  On Ctrl-C or SIGTERM the
finished trials are kept, the unfinished ones are marked failed, and the exception is
re-raised; trials left running by a process that died on this machine are marked
failed when the next search of the study starts.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import importlib.util
import json
import os
import socket
import time
import warnings

import optuna
from optuna.samplers import BaseSampler
from optuna.trial import TrialState

from .._checks import check_int, check_option, check_real, check_seed
from .._hold import hold_point
from .._progress import as_progress
from .._system import default_threads
from .._workers import WorkerPool, main_guard_missing, sigterm_raises
from ..data import prepare, sine
from ..errors import DataError, Interrupted, InvalidParameterError, MaeOrtError, RuntimeUnavailableError, StoreError
from ..model.architecture import MODEL_FIELDS, check_head, resolve
from ..results.store import Settings, SQLiteStore, Store, open_store
from ..runtimes import DEVICES, RUNTIMES
from ..sampling.sampler import GiB, Init, Sampler
from ..sampling.settings import SEEDING, SamplingSettings
from ..screening.cost import largest_member
from ..screening.space import Grid, RowList, as_space
from .names import SAMPLERS
from .resn import RESNSampler
from .scoring import Scorer, check_objective, evaluate_row, objective_value, trial_attrs
from .space import SearchSpace

__all__ = ["search", "SAMPLERS", "make_sampler", "SearchInterrupted", "best_frame", "ATTR", "OWNER"]

#: The study user attribute holding the grid, the sampling settings, the objective and its direction.
ATTR = "mae_ort"

#: The trial system attribute naming the process that runs it (``host:pid``).
OWNER = "mae_ort:owner"


class SearchInterrupted(Interrupted):
    """A search was stopped by a signal (SIGTERM); finished trials are stored.

    Attributes
    ----------
    signum : int
    """


# -- pieces ---------------------------------------------------------------------------------------

def make_sampler(name, space, *, seed: int | None = None, **options) -> BaseSampler:
    """An Optuna sampler by name.

    Parameters
    ----------
    name : {'tpe', 'gp', 'random', 'resn'}
        Optuna's ``TPESampler`` (default of :func:`search`), ``GPSampler`` (needs PyTorch),
        ``RandomSampler``, or :class:`~mae_ort.search.resn.RESNSampler`.
    space : SearchSpace or Grid
        The grid (RESN proposes its rows).
    seed : int, optional
    **options
        RESN's settings (:class:`~mae_ort.search.resn.RESNSampler`); none for the others.

    Raises
    ------
    InvalidParameterError
        An unknown name, or options for a sampler that takes none.
    RuntimeUnavailableError
        ``gp`` without PyTorch installed.
    """
    name = check_option(name, "sampler", "search", SAMPLERS)
    if options and name != "resn":
        raise InvalidParameterError(f"sampler options ({', '.join(sorted(options))}) apply to sampler='resn' only")
    if name == "tpe":
        return optuna.samplers.TPESampler(seed=seed)
    if name == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if name == "gp":
        if importlib.util.find_spec("torch") is None:
            raise RuntimeUnavailableError("sampler='gp' (Optuna's GPSampler) needs PyTorch: pip install torch")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return optuna.samplers.GPSampler(seed=seed)
    return RESNSampler(space, seed=seed, **options)


def _with_model(grid: Grid, preset, cell, activation, recurrent_activation, head_activation) -> Grid:
    """The grid with its model replaced by a preset and/or overrides (``None`` keeps the grid's)."""
    given = dict(cell=cell, activation=activation, recurrent_activation=recurrent_activation,
                 head_activation=head_activation)
    if preset is None and all(v is None for v in given.values()):
        return grid
    if preset is None:
        base = dict(cell=grid.cells[0], activation=grid.activation, recurrent_activation=grid.recurrent_activation,
                    head_activation=grid.head_activation)
        base.update({k: v for k, v in given.items() if v is not None})
        probe = resolve([1], caller="search", **base)
    else:
        probe = resolve([1], preset=preset, caller="search", **given)
    fields = {f: getattr(probe, f) for f in MODEL_FIELDS}
    cells = (fields.pop("cell"),) if (cell is not None or preset is not None) else grid.cells
    return dataclasses.replace(grid, cells=cells, **fields)


def _identity(space: SearchSpace, scorer_settings, objective: str, direction: str) -> dict:
    settings = dataclasses.asdict(scorer_settings)
    settings.pop("series")  # a label; the fingerprint identifies the data
    if settings.get("target_form") == "level":  # as before the target form existed: older studies resume
        settings.pop("target_form")
    settings["settings_id"] = scorer_settings.id
    return json.loads(json.dumps({"space": space.to_dict(), "settings": settings, "objective": objective,
                                  "direction": direction}))


def _default_name(identity: dict, sampler_name: str) -> str:
    text = json.dumps(identity, sort_keys=True, separators=(",", ":"))
    return f"mae-ort-{sampler_name}-{hashlib.sha256(text.encode()).hexdigest()[:10]}"


def _fmt(v) -> str:
    if isinstance(v, list):
        if all(isinstance(x, list) for x in v):
            return " / ".join(_fmt(x) for x in v)
        return ",".join(map(str, v))
    return str(v)


def _compare(theirs: dict | None, ours: dict, name: str, where: str) -> None:
    """Refuse a study made with another grid, other settings or another objective (say what differs)."""
    advice = ("choose a new study name (study=..., --study NAME) to search with these, or repeat the study's own "
              "options to resume it")
    if not isinstance(theirs, dict):
        raise InvalidParameterError(f"the study {name!r} in {where} was not made by mae-ort search (it has no "
                                    f"{ATTR!r} user attribute); {advice.split(', or')[0]}")
    diffs = {}
    for section in ("space", "settings"):
        t, o = theirs.get(section) or {}, ours[section]
        for key in o:
            if key == "settings_id":
                continue
            if t.get(key) != o[key]:
                label = f"{key} {_fmt(t.get(key))} there, {_fmt(o[key])} here"
                if key == "series_fingerprint":
                    label = "the series (its fingerprint differs)"
                diffs.setdefault(section, []).append(label)
    for key in ("objective", "direction"):
        if theirs.get(key) != ours[key]:
            diffs.setdefault(key, []).append(f"{theirs.get(key)} there, {ours[key]} here")
    if diffs:
        parts = [f"{'a different ' + s if s in ('space', 'settings') else 'another ' + s} ({'; '.join(d)})"
                 for s, d in diffs.items()]
        raise InvalidParameterError(f"the study {name!r} in {where} was made with {', '.join(parts)}; {advice}")


def _redact(url: str) -> str:
    try:
        from sqlalchemy.engine import make_url

        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - a malformed URL is shown as given
        return url


#: The package to install for a database driver module that SQLAlchemy could not import.
_DRIVERS = {"psycopg2": "psycopg2-binary", "psycopg": "'psycopg[binary]'", "MySQLdb": "mysqlclient",
            "pymysql": "pymysql"}


def _missing_driver(error: BaseException) -> str | None:
    """The module named by a ``ModuleNotFoundError`` in ``error``'s chain (a missing database driver), or None."""
    seen = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if isinstance(error, ModuleNotFoundError) and error.name:
            return error.name.split(".")[0]
        error = error.__cause__ or error.__context__
    return None


def _open_storage(storage, store: Store | None):
    """``(optuna storage, where)`` from ``storage`` (URL, Optuna storage or None) and the mae-ort store."""
    from optuna.storages import BaseStorage, InMemoryStorage, RDBStorage

    if isinstance(storage, BaseStorage):
        return storage, type(storage).__name__
    shown = None
    if storage is None:
        if isinstance(store, SQLiteStore) and not store.in_memory:
            storage, shown = "sqlite:///" + os.path.abspath(store.path), store.path
        else:
            return InMemoryStorage(), "memory"
    if not isinstance(storage, str):
        raise InvalidParameterError(f"The 'storage' parameter of search must be a database URL (sqlite:///file.db, "
                                    f"postgresql://...) or an Optuna storage. Got {storage!r} instead.")
    shown = shown or _redact(storage)
    sqlite = storage.startswith("sqlite")
    kwargs = {"connect_args": {"timeout": 60}} if sqlite else {}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            rdb = RDBStorage(storage, engine_kwargs=kwargs)
    except Exception as e:  # noqa: BLE001 - SQLAlchemy, driver and Optuna schema errors alike
        driver = _missing_driver(e)
        if driver is not None:
            raise StoreError(f"cannot open the Optuna storage {shown!r}: its database driver is not installed "
                             f"(No module named {driver!r}): pip install {_DRIVERS.get(driver, driver)}") from e
        first = (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise StoreError(f"cannot open the Optuna storage {shown!r}: {first}") from e
    if sqlite:
        _relaxed_sync(rdb.engine)
    return rdb, shown


def _relaxed_sync(engine) -> None:
    """``synchronous=NORMAL`` on Optuna's SQLite connections, as the store's own (WAL): a commit does not wait
    for the disk, so a trial's dozen attribute writes cost milliseconds; a power failure may lose the last
    commits, never consistency."""
    from sqlalchemy import event

    def on_connect(dbapi_connection, _record):
        cursor = dbapi_connection.cursor()
        try:
            mode = cursor.execute("PRAGMA journal_mode").fetchone()
            if mode and str(mode[0]).lower() == "wal":
                cursor.execute("PRAGMA synchronous=NORMAL")
        finally:
            cursor.close()

    event.listen(engine, "connect", on_connect)
    engine.dispose()  # connections opened before the listener are replaced by new ones


def _done(study) -> int:
    """Evaluated trials: complete or pruned ones, and failed ones that were scored (objective undefined)."""
    n = 0
    for t in study.get_trials(deepcopy=False):
        if t.state in (TrialState.COMPLETE, TrialState.PRUNED) or (t.state == TrialState.FAIL
                                                                    and "row_id" in t.user_attrs):
            n += 1
    return n


def _owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _fail_stale(study) -> int:
    """Mark failed the running trials of processes of this machine that are gone."""
    host = socket.gethostname()
    n = 0
    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        owner = str(t.system_attrs.get(OWNER, ""))
        h, _, pid = owner.rpartition(":")
        if h != host or not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            with contextlib.suppress(Exception):
                study.tell(t.number, state=TrialState.FAIL)
                n += 1
        except PermissionError:
            pass
    return n


def _ask_owned(study):
    """``study.ask()`` with this process recorded as the trial's owner in the same write: a process killed
    between the two would leave a RUNNING trial that :func:`_fail_stale` cannot tell is stale.  Trials
    enqueued by the user (WAITING) are asked the usual way, then owned."""
    import datetime

    from optuna.trial import FrozenTrial

    storage = study._storage
    if storage.get_all_trials(study._study_id, deepcopy=False, states=(TrialState.WAITING,)):
        trial = study.ask()
        storage.set_trial_system_attr(trial._trial_id, OWNER, _owner())
        return trial
    template = FrozenTrial(number=-1, state=TrialState.RUNNING, value=None, datetime_start=datetime.datetime.now(),
                           datetime_complete=None, params={}, distributions={}, user_attrs={},
                           system_attrs={OWNER: _owner()}, intermediate_values={}, trial_id=-1)
    with contextlib.suppress(AttributeError):  # as study.ask: the sampler sees the trials stored by now
        study._thread_local.cached_all_trials = None
    return optuna.Trial(study, storage.create_new_trial(study._study_id, template_trial=template))


def _tell(study, trial, record: dict, settings_id: str, objective: str, *, cached: bool) -> None:
    for k, v in trial_attrs(record, settings_id, cached=cached).items():
        trial.set_user_attr(k, v)
    value = objective_value(record, objective)
    if value is None:
        study.tell(trial, state=TrialState.FAIL)
    else:
        study.tell(trial, float(value))


# -- worker processes ------------------------------------------------------------------------------

_WORKER: dict = {}


def _init_worker(series, sampler: Sampler, sampling: SamplingSettings) -> None:
    _WORKER.update(series=series, sampler=sampler, sampling=sampling)


def _run_in_worker(task):
    number, row = task
    return number, evaluate_row(_WORKER["sampler"], _WORKER["series"], row, _WORKER["sampling"])


# -- the search ---------------------------------------------------------------------------------

def search(space, series=None, *, trials: int = 100, sampler="tpe", objective: str = "log_p",
           direction: str | None = None, db=None, storage=None, study: str | None = None, samples: int = 100,
           threshold: float = 0.01, lower: float = 0.0, upper: float = 2.0, fit: str = "moments", init="normal",
           seed: int = 0, sampler_seed: int | None = None, sampler_options: dict | None = None,
           seeding: int = SEEDING, preset: str | None = None, cell: str | None = None, activation: str | None = None,
           recurrent_activation: str | None = None, head_activation: str | None = None, jobs: int | None = None,
           scheduler=None, connect_timeout: float = 10.0, runtime: str = "auto", device: str = "cpu",
           threads: int | None = None, memory_budget: int = GiB, progress=False, target_form: str = "level"):
    """Search a grid with an Optuna sampler, scoring each trial by MAE random sampling (see the module docstring).

    Parameters
    ----------
    space : Grid, SearchSpace or str
        The grid (``mae_ort.screening.grid(units="7:31", layers="1:3", look_back="1:30")``) or
        one of the paper's spaces by name.
    series : array-like, DataFrame, Series or CSV path, optional
        The data (:func:`mae_ort.data.prepare`); default: the paper's sine.
    trials : int
        Evaluated trials the study should hold when this call returns (a rerun resumes).
    sampler : {'tpe', 'gp', 'random', 'resn'} or optuna.samplers.BaseSampler
        Optuna's TPE (default), GP (needs PyTorch) or random sampler, or RESN
        (:class:`~mae_ort.search.resn.RESNSampler`).
    objective : str
        The score to optimise, one of :data:`~mae_ort.search.names.OBJECTIVES` (default ``log_p``), in the
        direction of the one table (:data:`mae_ort.sampling.scores.RANK_ASCENDING`: ``mean`` is maximised).
        A stored score (``readout_keras``...) missing from a row is computed and stored with it.
    direction : {'maximize', 'minimize'}, optional
        Override the objective's direction.
    db : None, str, Path or Store
        mae-ort's rows (and by default the study): a SQLite file, created if missing.
    storage : str or optuna.storages.BaseStorage, optional
        Where the study lives (any SQLAlchemy URL); default: the ``db`` file, or memory.
    study : str, optional
        The study's name; default: derived from the sampler, the grid, the settings and
        the objective (the same call resumes).
    samples, threshold, lower, upper, fit, init
        As :func:`mae_ort.screen`.
    seed : int
        The sweep seed: each row is sampled as ``screen`` samples it (seeding 2: with this seed).
    seeding : {1, 2}
        As :func:`mae_ort.screen` (part of the settings: rows of a screen are reused only with its seeding).
    target_form : {'level', 'delta'}
        As :func:`mae_ort.screen` (part of the settings; a grid whose head cannot go below zero is
        refused with ``delta``).
    sampler_seed : int, optional
        The sampler's seed (default: ``seed``): the same seeds give the same trials.
    sampler_options : dict, optional
        RESN's settings (``population``, ``offspring``, ``p_mutation``, ...).
    preset, cell, activation, recurrent_activation, head_activation : str, optional
        Replace the grid's model (as :func:`mae_ort.screening.grid`).
    jobs : int, optional
        Trials evaluated at once: worker processes (default 1: in this process), or, with
        ``scheduler``, the trials of one batch sent to the cluster (default 8).
    scheduler : str or distributed.Client, optional
        Score the trials on a Dask cluster (the ``dask`` extra).  It is connected to first: an
        unreachable scheduler is refused before anything is opened, even when the study
        already holds its trials.
    connect_timeout : float
        Seconds to wait for the scheduler.
    runtime, device, threads, memory_budget
        As :class:`~mae_ort.sampling.sampler.Sampler` (threads: per worker process).
    progress : bool or callable
        ``True``: a progress bar on stderr; a callable gets ``(done, total)``.

    Returns
    -------
    optuna.Study
        Its trials' user attributes hold each row's statistics and ``row_id``.

    Raises
    ------
    MaeOrtError
        Bad parameters (an unknown sampler or objective, ``trials < 1``), a grid with a
        look-back too long for the series, a storage that cannot be opened, a study of the
        same name made with another grid, other settings or another objective.  No
        trial and no row is written before these checks pass.
    KeyboardInterrupt
        On Ctrl-C (:class:`SearchInterrupted` on SIGTERM), after keeping every finished trial.

    Examples
    --------
    >>> import mae_ort
    >>> from mae_ort.screening import grid
    >>> from mae_ort.search import search
    >>> study = search(grid(units="3:8", layers="1:2", look_back="1:4"), mae_ort.sine(120),
    ...                trials=8, samples=5, db="results.sqlite")                # doctest: +SKIP
    >>> study.best_trial.user_attrs["log_p"]                                   # doctest: +SKIP
    """
    caller = "search"
    t0 = time.perf_counter()
    trials = check_int(trials, "trials", caller, low=1)
    objective, direction = check_objective(objective, direction, caller)
    if isinstance(sampler, BaseSampler):
        sampler_name = type(sampler).__name__
    else:
        sampler_name = check_option(sampler, "sampler", caller, SAMPLERS)
    sampler_seed = seed if sampler_seed is None else sampler_seed
    sampler_seed = check_seed(sampler_seed, "sampler_seed", caller)
    sampling = SamplingSettings.checked(caller, samples=samples, threshold=threshold, lower=lower, upper=upper,
                                        fit=fit, init=Init.parse(init), seed=seed, seeding=seeding,
                                        target_form=target_form)
    runtime = check_option(runtime, "runtime", caller, RUNTIMES)
    device = check_option(device, "device", caller, DEVICES)
    memory_budget = check_int(memory_budget, "memory_budget", caller, low=1)
    connect_timeout = check_real(connect_timeout, "connect_timeout", caller, low=0.0, low_open=True)
    jobs = (8 if scheduler is not None else 1) if jobs is None else check_int(jobs, "jobs", caller, low=1)
    threads = None if threads is None else check_int(threads, "threads", caller, low=1)
    grid = as_space(space) if isinstance(space, str) else (space.grid if isinstance(space, SearchSpace) else space)
    if isinstance(grid, Grid):
        grid = _with_model(grid, preset, cell, activation, recurrent_activation, head_activation)
    space = SearchSpace(grid)
    check_head(space.grid.head_activation, sampling.target_form, caller)
    if not isinstance(sampler, BaseSampler):
        sampler = make_sampler(sampler_name, space, seed=sampler_seed, **(sampler_options or {}))
    elif sampler_options:
        raise InvalidParameterError("sampler_options apply to a sampler given by name ('resn')")
    series = prepare(sine(), name="sine") if series is None else prepare(series)
    longest = max(space.look_backs)
    if series.length < longest + 1:
        raise DataError(f"series has {series.length} points; look_back={longest} needs at least {longest + 1}")
    # the grid's largest member must fit the memory budget (every trial's sampler computes the readout)
    largest_member(space.grid, series, Sampler(memory_budget=memory_budget, readout=True))
    if jobs > 1 and scheduler is None and main_guard_missing() is not None:
        raise MaeOrtError(f"search(jobs={jobs}) was called at the top level of {main_guard_missing()} without "
                          "`if __name__ == \"__main__\":`; worker processes import the script again. Put the call "
                          "under that guard, or pass jobs=1")

    verbosity = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    own_store = db is not None and not isinstance(db, Store)
    st = None
    client, own_client = (None, False)
    try:
        if scheduler is not None:  # before opening anything, and even when the study already has its trials
            from ..screening.sweep import connect_scheduler

            client, own_client = connect_scheduler(scheduler, connect_timeout)
        # An explicit storage is opened first (a bad URL leaves the db alone); the default one, the db's own
        # file, after the store (the store refuses a database without its meta table, Optuna does not).
        storage_obj, where = (None, None) if storage is None else _open_storage(storage, None)
        try:
            st = open_store(db)
        except StoreError as e:
            if "another program" in str(e):
                raise StoreError(f"{e}. If it holds an Optuna study, keep mae-ort's rows in another file: "
                                 f"db=OTHER.sqlite (--db), storage='sqlite:///{db}' (--storage)") from e
            raise
        if storage_obj is None:
            storage_obj, where = _open_storage(None, st)
        identity = _identity(space, Settings.of(series, sampling), objective, direction)
        name = study or _default_name(identity, sampler_name.lower())
        names = {s.study_name for s in optuna.study.get_all_study_summaries(storage_obj, include_best_trial=False)}
        if name in names:
            _compare(optuna.load_study(study_name=name, storage=storage_obj).user_attrs.get(ATTR), identity, name,
                     where)
        study_obj = optuna.create_study(storage=storage_obj, sampler=sampler, study_name=name, direction=direction,
                                        load_if_exists=True)
        if ATTR not in study_obj.user_attrs:
            study_obj.set_user_attr(ATTR, identity)
            study_obj.set_user_attr("mae_ort_info", {"sampler": sampler_name, "created_by": _owner()})
        else:  # another process created it meanwhile
            _compare(study_obj.user_attrs.get(ATTR), identity, name, where)
        scorer = Scorer(series, sampling, st, runtime=runtime, device=device,
                        threads=threads if jobs == 1 or scheduler is not None else None,
                        memory_budget=memory_budget, objective=objective)
        _fail_stale(study_obj)
        runner = _Runner(study_obj, space, scorer, objective, target=trials)
        with sigterm_raises(SearchInterrupted):
            runner.run(jobs=jobs, scheduler=client, connect_timeout=connect_timeout, progress=progress,
                       threads=threads)
        study_obj.set_user_attr("mae_ort_last_run", {"new_trials": runner.told, "new_rows": scorer.new_rows,
                                                     "reused_rows": scorer.reused_rows,
                                                     "seconds": round(time.perf_counter() - t0, 3)})
        return study_obj
    finally:
        optuna.logging.set_verbosity(verbosity)
        if own_client:
            client.close()
        if own_store and st is not None:
            st.close()


class _Runner:
    """Ask, score, tell until the study holds ``target`` evaluated trials."""

    def __init__(self, study, space: SearchSpace, scorer: Scorer, objective: str, *, target: int) -> None:
        self.study = study
        self.space = space
        self.scorer = scorer
        self.objective = objective
        self.target = target
        self.told = 0
        self.open: dict[int, object] = {}  # trial number -> asked, not yet told
        self._bar = None
        self._todo = 0

    # -- one trial ------------------------------------------------------------------------------
    def ask(self):
        trial = _ask_owned(self.study)
        self.open[trial.number] = trial
        return trial, self.space.suggest(trial)

    def tell(self, trial, record: dict, *, cached: bool) -> None:
        _tell(self.study, trial, record, self.scorer.settings_id, self.objective, cached=cached)
        self.open.pop(trial.number, None)
        self.told += 1
        hold_point(getattr(self.scorer.store, "path", None))
        if self._bar is not None:
            self._bar(min(self.told, self._todo), self._todo)

    def more(self) -> bool:
        return _done(self.study) + len(self.open) < self.target

    # -- executors ------------------------------------------------------------------------------
    def run(self, *, jobs: int, scheduler, connect_timeout: float, progress, threads) -> None:
        self._todo = max(0, self.target - _done(self.study))
        if self._todo == 0:
            return
        self._bar = as_progress(progress, description=f"search {self.study.study_name}", unit="trials",
                                caller="search")
        if self._bar is not None:
            self._bar(0, self._todo)
        try:
            if scheduler is not None:
                self._dask(jobs, scheduler, connect_timeout)
            elif jobs > 1:
                self._processes(jobs, threads)
            else:
                self._inline()
        finally:
            for number in list(self.open):  # interrupted or failed: nothing stays RUNNING
                with contextlib.suppress(Exception):
                    self.study.tell(number, state=TrialState.FAIL)
            self.open.clear()
            if self._bar is not None and hasattr(self._bar, "close"):
                self._bar.close()

    def _inline(self) -> None:
        while self.more():
            trial, row = self.ask()
            record, cached = self.scorer.score(row)
            self.tell(trial, record, cached=cached)

    def _processes(self, jobs: int, threads) -> None:
        sc = self.scorer
        waiting: dict[tuple, list] = {}  # row key -> trials waiting for that row

        def tasks():
            while self.more():
                trial, row = self.ask()
                record = sc.lookup(row)
                if record is not None:
                    sc.reused_rows += 1
                    self.tell(trial, record, cached=True)
                elif row.key in waiting:
                    waiting[row.key][1].append(trial)
                else:
                    waiting[row.key] = (row, [trial])
                    yield row.key, row

        per = threads or max(1, default_threads() // jobs)
        worker_sampler = Sampler(runtime=sc.sampler.runtime, device=sc.sampler.device, threads=per,
                                 memory_budget=sc.sampler.memory_budget)
        pool = WorkerPool(jobs, threads=per, initializer=_init_worker,
                          initargs=(sc.series, worker_sampler, sc.sampling), preload=__name__, what="trials")
        for key, result in pool.run(_run_in_worker, tasks()):
            sc.add([result])
            row, asked = waiting.pop(key)
            record = sc.lookup(row)
            for i, trial in enumerate(asked):
                if i:
                    sc.reused_rows += 1
                self.tell(trial, record, cached=bool(i))

    def _dask(self, jobs: int, scheduler, connect_timeout: float) -> None:
        from ..screening.sweep import screen

        sc = self.scorer
        s = sc.sampling
        while self.more():
            n = max(1, min(jobs, self.target - _done(self.study) - len(self.open)))
            asked = [self.ask() for _ in range(n)]
            missing = {}
            for trial, row in asked:
                if sc.lookup(row) is None:
                    missing.setdefault(row.key, row)
            if missing:
                screen(RowList(missing.values()), sc.series, store=sc.store, samples=s.samples_arg,
                       threshold=s.threshold,
                       lower=s.lower, upper=s.upper, fit=s.fit, init=s.init, seed=s.seed, seeding=s.seeding,
                       target_form=s.target_form, scheduler=scheduler,
                       connect_timeout=connect_timeout, runtime=sc.sampler.runtime, device=sc.sampler.device,
                       threads=sc.sampler.threads, memory_budget=sc.sampler.memory_budget, batch_flops=0)
            for trial, row in asked:
                record = sc.lookup(row)
                cached = row.key not in missing
                missing.pop(row.key, None)  # a second trial of the same row reuses it
                if cached:
                    sc.reused_rows += 1
                else:
                    sc.new_rows += 1
                self.tell(trial, record, cached=cached)


def best_frame(study, top: int = 10):
    """The best ``top`` trials of a search as a DataFrame (rank, trial, units, look_back, cell, value, statistics)."""
    import pandas as pd

    maximize = study.direction == optuna.study.StudyDirection.MAXIMIZE
    done = [t for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))]
    done.sort(key=lambda t: (-t.value if maximize else t.value, t.number))
    rows = []
    for t in done[:top]:
        a = t.user_attrs
        rows.append({"trial": t.number, "units": a.get("units"), "look_back": a.get("look_back"),
                     "cell": a.get("cell"), "value": t.value, "log_p": a.get("log_p"),
                     "log_p_exact": a.get("log_p_exact"), "mean": a.get("mean"), "sd": a.get("sd"),
                     "row_id": a.get("row_id")})
    df = pd.DataFrame(rows, columns=["trial", "units", "look_back", "cell", "value", "log_p", "log_p_exact", "mean",
                                     "sd", "row_id"])
    df.insert(0, "rank", range(1, len(df) + 1))
    return df

