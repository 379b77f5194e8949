"""Running a whole search space: worker processes or a Dask cluster, into a store.

:func:`screen` samples every row (architecture x look-back) of a
:class:`~mae_ort.screening.space.Space` that its store does not hold yet and returns the rows as
a DataFrame.  Three executors, one contract:

* **in-process** (``workers`` 0 or 1, or a short sweep by default): one
  :class:`~mae_ort.sampling.sampler.Sampler` here;
* **worker processes** (``workers >= 2``; by default one per core, 1 thread each): a
  ``ProcessPoolExecutor`` started by a ``forkserver`` that preloads this module
  (``spawn`` where there is none), never a plain ``fork`` (onnxruntime's and Numba's
  thread pools do not survive it); each worker keeps one Sampler (its sessions and
  buffers) for the whole sweep, with ``threads`` runtime threads (Numba's included),
  so that ``workers x threads`` is about the number of cores.  A worker stops by
  itself when the sweep's process dies, even by SIGKILL;
* **Dask** (``scheduler`` an address or a ``distributed.Client``): the same tasks go to
  a cluster; each worker thread keeps its own Sampler.

In every case only this process writes the store, as results arrive, one transaction
per finished task (a task is a few consecutive rows of one family and look-back, about
``batch_flops`` of work, usually one row at paper sizes).  At most ``2 x`` the
parallelism is in flight, so memory stays bounded whatever the size of the space.
Each row's seed comes from the sweep's seed and the row's key
(:func:`~mae_ort.screening.space.row_seed`), so a row's MAEs do not depend on the executor, the
order or the batching.

Ctrl-C (``KeyboardInterrupt``) or SIGTERM stops submitting, keeps every finished row,
stops the workers and re-raises (:class:`ScreenInterrupted` for SIGTERM, a
``KeyboardInterrupt``); rerunning the same call resumes.
"""

from __future__ import annotations

import threading
import time
import warnings
from typing import Iterable, Iterator

from .._checks import check_int, check_option, check_real
from .._progress import as_progress
from .._system import default_threads, limit_numba_threads
from .._workers import WorkerPool, main_guard_missing, sigterm_raises
from ..data import prepare, sine
from ..errors import DataError, Interrupted, MaeOrtError, MaeOrtWarning
from ..model.keys import KEY_COLUMNS
from ..results.store import Settings, Store, open_store
from ..runtimes import DEVICES, RUNTIMES
from ..sampling.sampler import GiB, Init, Sampler, SamplingResult
from ..sampling.settings import SamplingSettings
from .space import Row, as_space

__all__ = ["screen", "ScreenInterrupted", "default_workers"]


class ScreenInterrupted(Interrupted):
    """A screen was stopped by a signal (SIGTERM); finished rows are stored.

    Attributes
    ----------
    signum : int
        The signal's number.
    """


def _evaluate(sampler: Sampler, series, rows: list[Row], settings: SamplingSettings) -> list[SamplingResult]:
    """Sample ``rows``, each with its own seed (the one function every executor runs)."""
    return [sampler.run(series, row.arch, row.look_back, settings.replace(seed=row.seed(settings.seed)), warn=False)
            for row in rows]


def default_workers(device: str = "cpu") -> int:
    """Worker processes used by default: one per core on the CPU, one with CUDA."""
    return 1 if device == "cuda" else default_threads()


# -- executors: generators of finished batches --------------------------------------------------

_WORKER: dict = {}


def _init_worker(series, sampler: Sampler, settings: SamplingSettings) -> None:
    _WORKER.update(series=series, sampler=sampler, settings=settings)


def _run_in_worker(rows: list[Row]) -> list[SamplingResult]:
    return _evaluate(_WORKER["sampler"], _WORKER["series"], rows, _WORKER["settings"])


_LOCAL = threading.local()


def _run_in_dask(rows: list[Row], series, sampler: Sampler, settings: SamplingSettings) -> list[SamplingResult]:
    """A Dask task: one Sampler per worker thread (its sessions and buffers), kept across tasks."""
    cache = getattr(_LOCAL, "samplers", None)
    if cache is None:
        cache = _LOCAL.samplers = {}
        limit_numba_threads(sampler.threads or 1)
    key = (sampler.runtime, sampler.device, sampler.threads, sampler.memory_budget)
    sampler = cache.setdefault(key, sampler)
    return _evaluate(sampler, series, rows, settings)


def _inline(batches: Iterator[list[Row]], series, sampler: Sampler,
            settings: SamplingSettings) -> Iterator[list[SamplingResult]]:
    import numba

    before = numba.get_num_threads()  # per calling thread: restored below
    limit_numba_threads(sampler.threads or default_threads())
    try:
        for rows in batches:
            yield _evaluate(sampler, series, rows, settings)
    finally:
        numba.set_num_threads(before)


def _processes(batches: Iterator[list[Row]], series, sampler: Sampler, settings: SamplingSettings,
               workers: int) -> Iterator[list[SamplingResult]]:
    pool = WorkerPool(workers, threads=sampler.threads, initializer=_init_worker,
                      initargs=(series, sampler, settings), preload=__name__, what="rows")
    return pool.run(_run_in_worker, batches)


def _connect(scheduler, timeout: float):
    try:
        import distributed
    except ImportError as e:  # pragma: no cover - the dask extra is missing
        raise MaeOrtError("--scheduler needs Dask: pip install 'mae-ort[dask]'") from e
    if isinstance(scheduler, distributed.Client):
        return scheduler, False
    address = str(scheduler)
    try:
        client = distributed.Client(address, timeout=f"{timeout}s", set_as_default=False)
    except (OSError, TimeoutError, ValueError) as e:
        first = (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise MaeOrtError(f"cannot reach the Dask scheduler at {address!r} within {timeout:g} s ({first}); "
                          "nothing was computed") from e
    return client, True


def _dask(batches: Iterator[list[Row]], series, sampler: Sampler, settings: SamplingSettings,
          client) -> Iterator[list[SamplingResult]]:
    from distributed import as_completed

    nthreads = sum(client.nthreads().values())
    limit = max(4, 2 * nthreads)
    running = as_completed(loop=client.loop)
    in_flight: set = set()

    def submit() -> bool:
        rows = next(batches, None)
        if rows is None:
            return False
        f = client.submit(_run_in_dask, rows, series, sampler, settings, pure=False)
        in_flight.add(f)
        running.add(f)
        return True

    try:
        for _ in range(limit):
            if not submit():
                break
        for f in running:
            in_flight.discard(f)
            results = f.result()  # a task's error is raised here, after the rows before it were stored
            f.release()
            yield results
            submit()
    finally:
        if in_flight:
            client.cancel(list(in_flight))


# -- batches and progress -----------------------------------------------------------------------

def _batches(rows: Iterable[Row], *, done: set, n_in: int, n_out: int, length: int, samples: int,
             batch_flops: float) -> Iterator[list[Row]]:
    """Consecutive rows of one family and look-back, up to about ``batch_flops`` of work each
    (all ``samples`` weight samples counted, so a killed task loses little whatever the sample count)."""
    batch: list[Row] = []
    work = 0.0
    for row in rows:
        if row.key in done:
            continue
        if batch and (row.group != batch[0].group or work >= batch_flops):
            yield batch
            batch, work = [], 0.0
        batch.append(row)
        work += samples * row.arch.flops(n_in, n_out, row.look_back, max(1, length - row.look_back))
    if batch:
        yield batch


# -- the sweep ------------------------------------------------------------------------------------

def screen(space, series=None, *, store=None, samples: int = 100, threshold: float = 0.01, lower: float = 0.0,
           upper: float = 2.0, fit: str = "moments", init="normal", seed: int = 0, workers: int | None = None,
           threads: int | None = None, scheduler=None, connect_timeout: float = 10.0, runtime: str = "auto",
           device: str = "cpu", memory_budget: int = GiB, progress=False, batch_flops: float = 1e10):
    """Sample every row of a space that the store does not hold yet; return the space's rows.

    Parameters
    ----------
    space : Space, str or iterable of Row
        What to run: a :class:`~mae_ort.screening.space.Space`, a preset name (``"paper-2layer"``)
        or rows.
    series : array-like, DataFrame, Series or CSV path, optional
        The data (:func:`mae_ort.data.prepare`); default: the paper's sine.
    store : None, str, Path or Store
        Where rows live (:func:`~mae_ort.results.store.open_store`); default: a new in-memory store.
    samples, threshold, lower, upper, fit, init
        As :func:`mae_ort.sample`.
    seed : int
        The sweep's seed; row ``r`` is sampled with ``r.seed(seed)``.
    workers : int, optional
        Worker processes; 0 or 1 runs in this process.  Default: one per core
        (:func:`default_workers`), or this process when fewer than ``4 x`` that many rows
        are left (starting a worker costs seconds).  Ignored with ``scheduler``.
    threads : int, optional
        Runtime threads of each worker.  Default: cores // workers (at least 1; all
        cores when running in this process); with ``scheduler``, 1.
    scheduler : str or distributed.Client, optional
        Run on a Dask cluster (``"tcp://host:8786"``); needs the ``dask`` extra.
    connect_timeout : float
        Seconds to wait for the scheduler.
    runtime, device, memory_budget
        As :class:`~mae_ort.sampling.sampler.Sampler` (not part of the stored settings).
    progress : bool or callable
        ``True``: a progress bar on stderr; a callable is called as ``progress(done, total)``
        after each stored batch (rows done in this call, rows to do in this call).
    batch_flops : float
        Work per task (rows of one family and look-back are grouped up to this many FLOPs).

    Returns
    -------
    pandas.DataFrame
        One line per row of the space, in the space's order, with the columns of
        :meth:`mae_ort.results.store.SQLiteStore.frame` and ``maes`` (float64 arrays of shape (S,)).
        ``df.attrs`` holds ``settings_id``, ``new_rows`` and ``seconds``.

    Raises
    ------
    MaeOrtError
        Bad parameters, an empty space, a series too short for a look-back, an unusable
        store, an unreachable scheduler.
    KeyboardInterrupt
        On Ctrl-C (or :class:`ScreenInterrupted` on SIGTERM), after storing every
        finished row and stopping the workers.

    Examples
    --------
    >>> from mae_ort.screening.space import grid
    >>> df = screen(grid(units="3:5", look_back="1,2"), samples=10, workers=1)   # doctest: +SKIP
    >>> df[["units", "look_back", "log_p"]]                                        # doctest: +SKIP
    """
    caller = "screen"
    t0 = time.perf_counter()
    space = as_space(space)
    sampling = SamplingSettings.checked(caller, samples=samples, threshold=threshold, lower=lower, upper=upper,
                                        fit=fit, init=Init.parse(init), seed=seed)
    runtime = check_option(runtime, "runtime", caller, RUNTIMES)
    device = check_option(device, "device", caller, DEVICES)
    memory_budget = check_int(memory_budget, "memory_budget", caller, low=1)
    connect_timeout = check_real(connect_timeout, "connect_timeout", caller, low=0.0, low_open=True)
    batch_flops = check_real(batch_flops, "batch_flops", caller, low=0.0)
    auto_workers = workers is None
    workers = default_workers(device) if workers is None else check_int(workers, "workers", caller, low=0)
    threads = None if threads is None else check_int(threads, "threads", caller, low=1)
    series = prepare(sine(), name="sine") if series is None else prepare(series)

    keys = list(space.keys())
    if not keys:
        raise MaeOrtError(f"the space {space.name!r} is empty: nothing to screen")
    longest = max(k[-1] for k in keys)
    if series.length < longest + 1:
        raise DataError(f"series has {series.length} points; look_back={longest} needs at least {longest + 1}")

    own_store = not isinstance(store, Store) and store is not None  # opened here from a path: closed here
    st: Store = open_store(store)
    settings = Settings.of(series, sampling)
    client, own_client = (None, False)
    bar = None
    new = 0
    try:
        if scheduler is not None:  # connect before writing anything
            client, own_client = _connect(scheduler, connect_timeout)
        sid = st.add_settings(settings)
        done = st.done_keys(sid)
        total = sum(1 for k in keys if k not in done)
        batches = _batches(space, done=done, n_in=series.inputs.shape[1], n_out=series.targets.shape[1],
                           length=series.length, samples=sampling.samples, batch_flops=batch_flops)
        # Short sweeps run here by default: starting workers costs seconds (imports, sessions, JIT).
        inline = client is None and (workers <= 1 or total <= 1 or (auto_workers and total < 4 * workers))
        if not inline and client is None:
            script = main_guard_missing()
            if script is not None:
                advice = (f"screen() was called at the top level of {script} without `if __name__ == \"__main__\":`; "
                          "worker processes import the script again and would run it once more each")
                if not auto_workers:
                    raise MaeOrtError(f"{advice}. Put the call under that guard to use workers={workers}, or pass "
                                      "workers=1")
                warnings.warn(f"{advice}, so this sweep runs in this process. Put the call under that guard to use "
                              f"{workers} workers", MaeOrtWarning, stacklevel=2)
                inline = True
        parallel = 1 if (client is not None or inline) else min(workers, total)
        if threads is None:
            threads = 1 if client is not None else max(1, default_threads() // parallel)
        sampler = Sampler(runtime=runtime, device=device, threads=threads, memory_budget=memory_budget)
        if client is not None:
            results = _dask(batches, series, sampler, settings, client)
        elif inline:
            results = _inline(batches, series, sampler, settings)
        else:
            results = _processes(batches, series, sampler, settings, parallel)
        if total:
            resumed = f" ({len(keys) - total} already done)" if len(keys) > total else ""
            bar = as_progress(progress, description=f"screening {space.name}{resumed}", caller=caller)
            if bar is not None:
                bar(0, total)
        finished = 0
        with sigterm_raises(ScreenInterrupted):
            try:
                for batch in results:
                    new += st.add_results(sid, batch)
                    finished += len(batch)
                    if bar is not None:
                        bar(finished, total)
            finally:
                results.close()
        return _frame(st, sid, keys, new=new, seconds=time.perf_counter() - t0)
    finally:
        if bar is not None and hasattr(bar, "close"):
            bar.close()
        if own_client:
            client.close()
        if own_store:
            st.close()


def _frame(st: Store, sid: str, keys: list[tuple], *, new: int, seconds: float):
    import pandas as pd

    df = st.frame(sid, maes=True)
    order = pd.DataFrame(keys, columns=list(KEY_COLUMNS))
    order["_order"] = range(len(order))
    out = df.merge(order, on=list(KEY_COLUMNS), how="inner").sort_values("_order").drop(columns="_order")
    out = out.reset_index(drop=True)
    out.attrs.update(settings_id=sid, new_rows=new, seconds=seconds)
    return out

