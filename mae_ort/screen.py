"""Running a whole search space: worker processes or a Dask cluster, into a store.

:func:`screen` samples every row (architecture x look-back) of a
:class:`~mae_ort.space.Space` that its store does not hold yet and returns the rows as
a DataFrame.  Three executors, one contract:

* **in-process** (``workers`` 0 or 1, or a short sweep by default): one
  :class:`~mae_ort.sampler.Sampler` here;
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
(:func:`~mae_ort.space.row_seed`), so a row's MAEs do not depend on the executor, the
order or the batching.

Ctrl-C (``KeyboardInterrupt``) or SIGTERM stops submitting, keeps every finished row,
stops the workers and re-raises (:class:`ScreenInterrupted` for SIGTERM, a
``KeyboardInterrupt``); rerunning the same call resumes.
"""

from __future__ import annotations

import gc
import os
import signal
import sys
import threading
import time
import warnings
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Iterable, Iterator

from ._pool import sigterm_raises
from ._pool import stop_pool as _stop_pool
from ._validation import check_int, check_option, check_real, check_seed
from .data import prepare, sine
from .errors import DataError, Interrupted, InvalidParameterError, MaeOrtError, NonFiniteWarning
from .runtime import DEVICES, RUNTIMES, default_threads, limit_numba_threads
from .sampler import GiB, Init, Sampler, SamplingResult
from .space import Row, as_space
from .stats import check_sampling_settings
from .store import Settings, Store, open_store

__all__ = ["screen", "ScreenInterrupted", "default_workers"]


class ScreenInterrupted(Interrupted):
    """A screen was stopped by a signal (SIGTERM); finished rows are stored.

    Attributes
    ----------
    signum : int
        The signal's number.
    """


@dataclass(frozen=True)
class _Job:
    """What a worker needs besides its rows: the sampling settings and its runtime."""

    settings: Settings
    runtime: str
    device: str
    threads: int
    memory_budget: int

    def sampler(self) -> Sampler:
        return Sampler(runtime=self.runtime, device=self.device, threads=self.threads,
                       memory_budget=self.memory_budget)


def _evaluate(sampler: Sampler, series, rows: list[Row], job: _Job) -> list[SamplingResult]:
    """Sample ``rows`` (the one function every executor runs)."""
    out = []
    for row in rows:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NonFiniteWarning)  # recorded as n_nonfinite
            st = job.settings
            out.append(sampler.sample(series, row.arch, look_back=row.look_back, samples=st.samples,
                                      threshold=st.threshold, lower=st.lower, upper=st.upper, fit=st.fit,
                                      seed=row.seed(st.seed), init=st.init))
    return out


def default_workers(device: str = "cpu") -> int:
    """Worker processes used by default: one per core on the CPU, one with CUDA."""
    return 1 if device == "cuda" else default_threads()


# -- worker processes ---------------------------------------------------------------------------

_WORKER: dict = {}


def _watch_parent(lifeline) -> None:
    """Exit when the sweep's process dies (even by SIGKILL): its end of the pipe closes.

    (With ``forkserver`` a worker's parent is the server, which itself lives as long as
    any worker does, so watching ``getppid()`` would not do.)
    """
    try:
        lifeline.recv()
    except (EOFError, OSError):
        pass
    _quit_worker()


def _quit_worker(*_) -> None:
    """Leave now, after multiprocessing's finalizers (they unregister this process's
    semaphores -- Numba's, the pool queues' -- from the resource tracker, which would
    otherwise report them as leaked)."""
    try:
        from multiprocessing import util

        util._run_finalizers(0)
    finally:
        os._exit(0)


def _limit_numba_threads(threads: int) -> None:
    """Keep Numba's parallel regions (weight filling, the Numba runtime) to this worker's share of the cores.

    A parallel region waits for all of its threads; with more threads than the worker's
    share, every call waits for a descheduled thread (measured 5x more CPU per row with
    two 1-thread workers on 2 cores when Numba used 2 threads each).
    """
    if "numba" not in sys.modules:
        os.environ["NUMBA_NUM_THREADS"] = str(threads)
        return
    limit_numba_threads(threads)


def _init_worker(series, job: _Job, lifeline) -> None:
    # Ctrl-C reaches the whole process group; the parent alone decides how to stop.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _quit_worker)  # how the parent stops a worker early
    _limit_numba_threads(job.threads)
    _WORKER.update(series=series, job=job, sampler=job.sampler())
    threading.Thread(target=_watch_parent, args=(lifeline,), daemon=True, name="mae-ort-parent-watch").start()


def _run_in_worker(rows: list[Row]) -> list[SamplingResult]:
    return _evaluate(_WORKER["sampler"], _WORKER["series"], rows, _WORKER["job"])


_LOCAL = threading.local()


def _run_in_dask(rows: list[Row], series, job: _Job) -> list[SamplingResult]:
    """A Dask task: one Sampler per worker thread, kept across tasks."""
    cache = getattr(_LOCAL, "samplers", None)
    if cache is None:
        cache = _LOCAL.samplers = {}
        _limit_numba_threads(job.threads)
    key = (job.runtime, job.device, job.threads, job.memory_budget)
    sampler = cache.get(key)
    if sampler is None:
        sampler = cache[key] = job.sampler()
    return _evaluate(sampler, series, rows, job)


# -- executors: generators of finished batches --------------------------------------------------

def _inline(batches: Iterator[list[Row]], series, job: _Job) -> Iterator[list[SamplingResult]]:
    import numba

    sampler = job.sampler()
    before = numba.get_num_threads()  # per calling thread: restored below
    limit_numba_threads(job.threads)
    try:
        for rows in batches:
            yield _evaluate(sampler, series, rows, job)
    finally:
        numba.set_num_threads(before)


def _mp_context():
    """``forkserver`` preloading this module (fast, fork-safe, never re-runs ``__main__``), else ``spawn``."""
    import multiprocessing as mp

    if "forkserver" in mp.get_all_start_methods():
        ctx = mp.get_context("forkserver")
        ctx.set_forkserver_preload(["mae_ort.screen"])
        return ctx
    return mp.get_context("spawn")  # pragma: no cover - Windows


def _processes(batches: Iterator[list[Row]], series, job: _Job, workers: int) -> Iterator[list[SamplingResult]]:
    ctx = _mp_context()
    lifeline, keep_alive = ctx.Pipe(duplex=False)  # workers hold the read end; only this process writes
    ex = ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=_init_worker,
                             initargs=(series, job, lifeline))
    pending: set = set()
    clean = False
    try:
        limit = 2 * workers
        more = True
        while True:
            while more and len(pending) < limit:
                rows = next(batches, None)
                if rows is None:
                    more = False
                    break
                pending.add(ex.submit(_run_in_worker, rows))
            if not pending:
                break
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for f in done:
                try:
                    results = f.result()
                except BrokenProcessPool as e:
                    raise MaeOrtError("a worker process died (out of memory or killed); finished rows are stored, "
                                      "rerun the same command to resume") from e
                yield results
        clean = True
    except KeyboardInterrupt:
        # Hand over what already finished (the caller stores it) before stopping the workers.
        for f in [f for f in pending if f.done() and not f.cancelled() and f.exception() is None]:
            yield f.result()
        raise
    finally:
        if clean:
            ex.shutdown(wait=True)
        else:
            _stop_pool(ex)
        keep_alive.close()
        lifeline.close()
        # Release the pool's queues (and their semaphores) now, not at interpreter exit,
        # even while a traceback still refers to this frame.
        ex = pending = None
        gc.collect()


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


def _dask(batches: Iterator[list[Row]], series, job: _Job, client) -> Iterator[list[SamplingResult]]:
    from distributed import as_completed

    nthreads = sum(client.nthreads().values())
    limit = max(4, 2 * nthreads)
    running = as_completed(loop=client.loop)
    in_flight: set = set()

    def submit() -> bool:
        rows = next(batches, None)
        if rows is None:
            return False
        f = client.submit(_run_in_dask, rows, series, job, pure=False)
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

def _batches(rows: Iterable[Row], *, done: set, n_in: int, n_out: int, length: int,
             batch_flops: float) -> Iterator[list[Row]]:
    """Consecutive rows of one family and look-back, up to about ``batch_flops`` of work each."""
    batch: list[Row] = []
    work = 0.0
    for row in rows:
        if row.key in done:
            continue
        if batch and (row.group != batch[0].group or work >= batch_flops):
            yield batch
            batch, work = [], 0.0
        batch.append(row)
        work += row.arch.flops(n_in, n_out, row.look_back, max(1, length - row.look_back))
    if batch:
        yield batch


class _RichProgress:
    """A rich progress bar on stderr: rows done, rate, elapsed time and ETA."""

    def __init__(self, total: int, description: str) -> None:
        from rich.console import Console
        from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn,
                                   TimeRemainingColumn)

        self._bar = Progress(
            TextColumn("[bold]{task.description}"), BarColumn(bar_width=24), MofNCompleteColumn(),
            TextColumn("{task.fields[rate]}"), TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
            console=Console(stderr=True), speed_estimate_period=600.0,
        )
        self._task = self._bar.add_task(description, total=total, rate="")
        self._t0 = time.perf_counter()
        self._bar.start()

    def __call__(self, done: int, total: int) -> None:
        rate = done / max(1e-9, time.perf_counter() - self._t0)
        self._bar.update(self._task, completed=done, total=total, rate=f"{rate:.2f} rows/s")

    def close(self) -> None:
        self._bar.stop()


def _as_progress(progress, total: int, description: str):
    if progress is None or progress is False:
        return None
    if progress is True:
        return _RichProgress(total, description)
    if callable(progress):
        return progress
    raise InvalidParameterError(f"The 'progress' parameter of screen must be a bool or a callable(done, total). "
                                f"Got {progress!r} instead.")


# -- the sweep ------------------------------------------------------------------------------------

def screen(space, series=None, *, store=None, samples: int = 100, threshold: float = 0.01, lower: float = 0.0,
           upper: float = 2.0, fit: str = "moments", init="normal", seed: int = 0, workers: int | None = None,
           threads: int | None = None, scheduler=None, connect_timeout: float = 10.0, runtime: str = "auto",
           device: str = "cpu", memory_budget: int = GiB, progress=False, batch_flops: float = 1e9):
    """Sample every row of a space that the store does not hold yet; return the space's rows.

    Parameters
    ----------
    space : Space, str or iterable of Row
        What to run: a :class:`~mae_ort.space.Space`, a preset name (``"paper-2layer"``)
        or rows.
    series : array-like, DataFrame, Series or CSV path, optional
        The data (:func:`mae_ort.data.prepare`); default: the paper's sine.
    store : None, str, Path or Store
        Where rows live (:func:`~mae_ort.store.open_store`); default: a new in-memory store.
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
        As :class:`~mae_ort.sampler.Sampler` (not part of the stored settings).
    progress : bool or callable
        ``True``: a progress bar on stderr; a callable is called as ``progress(done, total)``
        after each stored batch (rows done in this call, rows to do in this call).
    batch_flops : float
        Work per task (rows of one family and look-back are grouped up to this many FLOPs).

    Returns
    -------
    pandas.DataFrame
        One line per row of the space, in the space's order, with the columns of
        :meth:`mae_ort.store.SQLiteStore.frame` and ``maes`` (float64 arrays of shape (S,)).
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
    >>> from mae_ort.space import grid
    >>> df = screen(grid(units="3:5", look_back="1,2"), samples=10, workers=1)   # doctest: +SKIP
    >>> df[["units", "look_back", "log_p"]]                                        # doctest: +SKIP
    """
    caller = "screen"
    t0 = time.perf_counter()
    space = as_space(space)
    samples, threshold, lower, upper, fit = check_sampling_settings(samples, threshold, lower, upper, fit, caller)
    init = str(Init.parse(init))
    seed = check_seed(seed, "seed", caller)
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
    settings = Settings(series=series.name, series_fingerprint=series.fingerprint(), samples=samples,
                        threshold=threshold, lower=lower, upper=upper, fit=fit, init=init, seed=seed)
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
                           length=series.length, batch_flops=batch_flops)
        # Short sweeps run here by default: starting workers costs seconds (imports, sessions, JIT).
        inline = client is None and (workers <= 1 or total <= 1 or (auto_workers and total < 4 * workers))
        parallel = 1 if (client is not None or inline) else min(workers, total)
        if threads is None:
            threads = 1 if client is not None else max(1, default_threads() // parallel)
        job = _Job(settings=settings, runtime=runtime, device=device, threads=threads, memory_budget=memory_budget)
        if client is not None:
            results = _dask(batches, series, job, client)
        elif inline:
            results = _inline(batches, series, job)
        else:
            results = _processes(batches, series, job, parallel)
        if total:
            resumed = f" ({len(keys) - total} already done)" if len(keys) > total else ""
            bar = _as_progress(progress, total, f"screening {space.name}{resumed}")
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

    from .store import KEY_COLUMNS

    df = st.frame(sid, maes=True)
    order = pd.DataFrame(keys, columns=list(KEY_COLUMNS))
    order["_order"] = range(len(order))
    out = df.merge(order, on=list(KEY_COLUMNS), how="inner").sort_values("_order").drop(columns="_order")
    out = out.reset_index(drop=True)
    out.attrs.update(settings_id=sid, new_rows=new, seconds=seconds)
    return out

