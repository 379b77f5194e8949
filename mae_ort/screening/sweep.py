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

**Several screens on one database** (two terminals, two machines on a shared file) split
the work instead of each computing every row: before each task is submitted a screen
checks whether the store holds rows it has not seen (a cheap count) and, if so, re-reads
which rows are done and skips them; when a row it computed turns out to be stored
already (both screens were computing it), it moves to the middle of the largest run of
rows that nobody has taken.  Rows in flight are not claimed in the database, so at most
the tasks in flight at such a meeting are computed twice; the first write wins.

**Scores that can mislead.**  When rows' MAEs fall outside the truncation bounds
(``n_outside > 0``: a linear head, a GRU, a wide layer), their truncated-normal fit, and
so their ``log p``, can mislead; rows whose every MAE lies above ``upper`` even rank
first.  :func:`screen` then warns once per call (:class:`OutsideBoundsWarning`) with the
number of rows affected and a wider ``upper`` that holds every MAE.

Space limit: a space of more than :data:`~mae_ort.screening.space.MAX_ROWS` rows is
refused before anything is enumerated.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import threading
import time
import warnings
from dataclasses import dataclass
from typing import Iterator

import numpy as np

from .._checks import check_int, check_option, check_real
from .._hold import hold_point
from .._progress import as_progress
from .._system import default_threads, limit_numba_threads
from .._workers import WorkerPool, main_guard_missing, sigterm_raises
from ..data import prepare, sine
from ..errors import DataError, Interrupted, InvalidParameterError, MaeOrtError, MaeOrtWarning
from ..long_format import LongTable, long_id_column, read_long
from ..model.architecture import Architecture, check_head
from ..model.keys import KEY_COLUMNS, row_key
from ..results.store import Settings, Store, open_store
from ..runtimes import DEVICES, RUNTIMES
from ..sampling.auto import log_p_interval
from ..sampling.readout import PASS_SCORES
from ..sampling.sampler import GiB, Init, OutsideBoundsWarning, Sampler, SamplingResult, join_results
from ..sampling.settings import SEEDING, SamplingSettings
from .cost import largest_member
from .race import decide
from .space import Row, as_space, check_size

__all__ = ["screen", "ScreenInterrupted", "OutsideBoundsWarning", "default_workers", "connect_scheduler"]


class ScreenInterrupted(Interrupted):
    """A screen was stopped by a signal (SIGTERM); finished rows are stored.

    Attributes
    ----------
    signum : int
        The signal's number.
    """


@dataclass(frozen=True)
class _Piece:
    """A race's task: samples ``first .. first + count - 1`` of some rows (a fixed-``samples`` draw)."""

    rows: list
    first: int
    count: int


@dataclass(frozen=True)
class _OfSeries:
    """A task of a many-series screen (:mod:`mae_ort.screening.many`): ``rows`` on the ``index``-th series,
    which travels with the task; its results come back as ``(index, results)``."""

    index: int
    rows: list
    series: object


def _evaluate(sampler: Sampler, series, rows, settings: SamplingSettings,
              share: bool = True) -> list[SamplingResult]:
    """Sample ``rows`` (the one function every executor runs); a :class:`_Piece` draws one round of a race.

    Seeding 1 samples each row with its own seed (:meth:`Row.seed`); seeding 2 samples every
    row with the sweep's seed, and consecutive rows that differ only in their last layer's width
    share the other layers' work (:meth:`~mae_ort.sampling.sampler.Sampler.run_group`, equal to
    sampling each alone) unless ``share`` is off.
    """
    first = 0
    if isinstance(rows, _OfSeries):
        return rows.index, _evaluate(sampler, rows.series, rows.rows, settings, share)
    if isinstance(rows, _Piece):
        first, settings = rows.first, settings.sampling.replace(samples=rows.count, auto="")
        rows = rows.rows
    if settings.seeding == 1:
        return [sampler.run(series, row.arch, row.look_back, settings.replace(seed=row.seed(settings.seed)),
                            warn=False, first_sample=first) for row in rows]
    if not share:
        return [sampler.run(series, row.arch, row.look_back, settings, warn=False, first_sample=first)
                for row in rows]
    out: list[SamplingResult] = []
    i = 0
    while i < len(rows):
        j = i + 1
        while j < len(rows) and _prefix(rows[j]) == _prefix(rows[i]):
            j += 1
        out += sampler.run_group(series, [r.arch for r in rows[i:j]], rows[i].look_back, settings, warn=False,
                                 first_sample=first)
        i = j
    return out


def _prefix(row: Row) -> tuple:
    """What rows must have in common to share work: family, look-back and all widths but the last."""
    return (row.arch.family, row.look_back, row.arch.units[:-1])


def default_workers(device: str = "cpu") -> int:
    """Worker processes used by default: one per core on the CPU, one with CUDA."""
    return 1 if device == "cuda" else default_threads()


# -- executors: generators of finished batches --------------------------------------------------

_WORKER: dict = {}


def _init_worker(series, sampler: Sampler, settings: SamplingSettings, share: bool = True) -> None:
    _WORKER.update(series=series, sampler=sampler, settings=settings, share=share)


def _run_in_worker(rows: list[Row]) -> list[SamplingResult]:
    return _evaluate(_WORKER["sampler"], _WORKER["series"], rows, _WORKER["settings"], _WORKER.get("share", True))


_LOCAL = threading.local()


def _run_in_dask(rows: list[Row], series, sampler: Sampler, settings: SamplingSettings,
                 share: bool = True) -> list[SamplingResult]:
    """A Dask task: one Sampler per worker thread (its sessions and buffers), kept across tasks."""
    cache = getattr(_LOCAL, "samplers", None)
    if cache is None:
        cache = _LOCAL.samplers = {}
        limit_numba_threads(sampler.threads or 1)
    key = (sampler.runtime, sampler.device, sampler.threads, sampler.memory_budget)
    sampler = cache.setdefault(key, sampler)
    return _evaluate(sampler, series, rows, settings, share)


def _inline(batches: Iterator[list[Row]], series, sampler: Sampler, settings: SamplingSettings,
            share: bool = True) -> Iterator[list[SamplingResult]]:
    import numba

    before = numba.get_num_threads()  # per calling thread: restored below
    limit_numba_threads(sampler.threads or default_threads())
    try:
        for rows in batches:
            yield _evaluate(sampler, series, rows, settings, share)
    finally:
        numba.set_num_threads(before)


def _pool(series, sampler: Sampler, settings: SamplingSettings, workers: int, share: bool = True) -> WorkerPool:
    return WorkerPool(workers, threads=sampler.threads, initializer=_init_worker,
                      initargs=(series, sampler, settings, share), preload=__name__, what="rows")


def _processes(batches: Iterator[list[Row]], series, sampler: Sampler, settings: SamplingSettings,
               workers: int, share: bool = True) -> Iterator[list[SamplingResult]]:
    return _pool(series, sampler, settings, workers, share).run(_run_in_worker, batches)


def connect_scheduler(scheduler, timeout: float):
    """``(client, own)``: a Dask client of ``scheduler`` (an address, or a ``distributed.Client`` kept as it is).

    ``own`` says the client was made here (the caller closes it).  A missing dask extra or a
    scheduler that does not answer within ``timeout`` seconds is one :class:`MaeOrtError` line.
    """
    try:
        import distributed
    except ImportError as e:  # pragma: no cover - the dask extra is missing
        raise MaeOrtError("--scheduler needs Dask: pip install 'mae-ort[dask]'") from e
    if isinstance(scheduler, distributed.Client):
        return scheduler, False
    address = str(scheduler)
    try:
        client = distributed.Client(address, timeout=f"{timeout}s", set_as_default=False)
    except (OSError, TimeoutError, ValueError, TypeError) as e:
        _close_half_started(e, distributed.Client)
        first = (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise MaeOrtError(f"cannot reach the Dask scheduler at {address!r} within {timeout:g} s ({first}); "
                          "nothing was computed") from e
    return client, True


def _close_half_started(error: BaseException, client_type) -> None:
    """Close the Client that a failed ``Client(...)`` left half started (found in the traceback).

    Otherwise its ``__del__`` tries to close it at exit, times out and prints
    "Exception ignored in: <function Client.__del__ ...>" with a traceback.
    """
    tb = error.__traceback__
    while tb is not None:
        client = tb.tb_frame.f_locals.get("self")
        if isinstance(client, client_type):
            try:
                client.close(timeout=2)
            except Exception:  # noqa: BLE001 - best effort: it never connected
                pass
            client.status = "closed"  # nothing left for __del__ to do
            break
        tb = tb.tb_next


def _dask(batches: Iterator[list[Row]], series, sampler: Sampler, settings: SamplingSettings,
          client, share: bool = True) -> Iterator[list[SamplingResult]]:
    from distributed import as_completed

    nthreads = sum(client.nthreads().values())
    limit = max(4, 2 * nthreads)
    running = as_completed(loop=client.loop)
    in_flight: set = set()

    def submit() -> bool:
        rows = next(batches, None)
        if rows is None:
            return False
        f = client.submit(_run_in_dask, rows, series, sampler, settings, share, pure=False)
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


# -- the work: batches, shared with other screens of the same store -----------------------------

_TODO, _MINE, _STORED = 0, 1, 2  # a row's state: to do, submitted by this screen, stored (by anyone)


#: The most rows that share their first layers which one task takes together.
SHARE_ROWS = 32


def _row_of(key: tuple) -> Row:
    """The row of a natural key (:data:`KEY_COLUMNS` order)."""
    cell, activation, recurrent, head, units, look_back = key
    arch = Architecture(tuple(int(u) for u in units.split(",")), cell=cell, activation=activation,
                        recurrent_activation=recurrent, head_activation=head)
    return Row(arch, look_back)


class _Work:
    """The rows of a space still to do, as batches, skipping rows that other screens store meanwhile.

    Batches are consecutive rows of one family and look-back, up to about ``batch_flops``
    of work each (all ``samples`` weight samples counted, so a killed task loses little).
    Before each batch the store's row count is compared with the rows this screen knows
    of; when it grew (another screen is writing), the done keys are re-read (at most
    about a tenth of the time is spent re-reading).  When a stored batch turns out to
    have been stored first by someone else (:meth:`stored` with fewer rows inserted than
    computed), the next batch starts at the middle of the largest run of rows nobody has
    taken, so that two screens of one space split it.

    Parameters
    ----------
    st : Store
    sid : str
        The settings id.
    keys : list of tuple
        The space's keys, in its order (rows of a group are consecutive).
    n_in, n_out, length, samples, batch_flops
        What a row's work is computed from.
    share : bool
        Keep rows that share all layers but the last in one batch (up to :data:`SHARE_ROWS`).
    """

    def __init__(self, st: Store, sid: str, keys: list[tuple], *, n_in: int, n_out: int, length: int,
                 samples: int, batch_flops: float, share: bool = False) -> None:
        self.share = share
        self.st, self.sid, self.keys = st, sid, keys
        self.n_in, self.n_out, self.length, self.samples, self.batch_flops = n_in, n_out, length, samples, batch_flops
        self.state = np.zeros(len(keys), dtype=np.uint8)
        self.pos = 0
        self.mine: dict[tuple, int] = {}  # submitted here, not stored yet: key -> index
        self._index: dict[tuple, int] | None = None  # key -> index, built when another writer shows up
        self._refresh_seconds = 0.0
        self._refreshed_at = -math.inf
        done = st.done_keys(sid)
        self.known = len(done)  # rows of these settings in the store that this screen knows of
        for i, k in enumerate(keys):
            if k in done:
                self.state[i] = _STORED
        self.done_at_start = int(np.count_nonzero(self.state == _STORED))
        self.total = len(keys) - self.done_at_start  # rows to do at the start
        self.computed = 0  # rows computed here
        self.meetings = 0  # batches that another screen had stored first

    @property
    def finished(self) -> int:
        """Rows of the space stored since the start (by this screen or another)."""
        return int(np.count_nonzero(self.state == _STORED)) - self.done_at_start

    def _count(self) -> int:
        count = getattr(self.st, "count", None)
        return int(count(self.sid)) if count is not None else len(self.st.done_keys(self.sid))

    def refresh(self, *, force: bool = False) -> None:
        """Mark the rows that other screens stored (when the store holds rows not seen here)."""
        now = time.perf_counter()
        if not force and now - self._refreshed_at < 10 * self._refresh_seconds:
            return
        if not force and self._count() <= self.known:
            return
        done = self.st.done_keys(self.sid)
        if self._index is None:
            self._index = {k: i for i, k in enumerate(self.keys)}
        for k in done:
            i = self._index.get(k)
            if i is not None and self.state[i] == _TODO:
                self.state[i] = _STORED
        self.known = len(done)
        self._refreshed_at = time.perf_counter()
        self._refresh_seconds = self._refreshed_at - now

    def stored(self, results: list[SamplingResult], inserted: int) -> None:
        """Record a finished batch of which ``inserted`` rows were new to the store."""
        for r in results:
            i = self.mine.pop(row_key(r.arch, r.look_back), None)
            if i is not None:
                self.state[i] = _STORED
        self.computed += len(results)
        self.known += inserted
        if inserted < len(results):  # another screen computed these rows too: go elsewhere
            self.meetings += 1
            self.refresh(force=True)
            self.pos = self._largest_gap_middle(self.pos)

    def _largest_gap_middle(self, default: int) -> int:
        free = np.concatenate(([0], (self.state == _TODO).view(np.int8), [0]))
        edges = np.flatnonzero(np.diff(free))
        if edges.size == 0:
            return default
        starts, ends = edges[0::2], edges[1::2]
        k = int(np.argmax(ends - starts))
        return int((starts[k] + ends[k]) // 2)

    def _next_todo(self) -> int | None:
        n = len(self.state)
        for lo, hi in ((self.pos, n), (0, min(self.pos, n))):
            j = lo
            while j < hi:
                stop = min(hi, j + 65536)
                hits = np.flatnonzero(self.state[j:stop] == _TODO)
                if hits.size:
                    return j + int(hits[0])
                j = stop
        return None

    def batches(self) -> Iterator[list[Row]]:
        """Yield the next batch until no row is left to do (rows submitted here are not offered again)."""
        n = len(self.keys)
        while True:
            self.refresh()
            i = self._next_todo()
            if i is None:
                return
            batch: list[Row] = []
            work = 0.0
            while i < n and self.state[i] == _TODO:
                row = _row_of(self.keys[i])
                if _starts_new_batch(row, batch, work, share=self.share, batch_flops=self.batch_flops):
                    break
                batch.append(row)
                self.state[i] = _MINE
                self.mine[self.keys[i]] = i
                work += self.samples * _row_flops(row, self.n_in, self.n_out, self.length)
                i += 1
            self.pos = i
            yield batch


def _outside_bounds(df, lower: float, upper: float) -> str | None:
    """The warning about rows whose MAEs fall outside ``[lower, upper]``, or None when there are none."""
    if len(df) == 0 or "n_outside" not in df:
        return None
    hit = df[df["n_outside"] > 0]
    if len(hit) == 0:
        return None
    finite = [m[np.isfinite(m)] for m in hit["maes"]] if "maes" in hit else []
    all_above = sum(1 for m in finite if m.size and bool(np.all(m > upper)))
    below = any(m.size and float(m.min()) < lower for m in finite)
    top = max((float(m.max()) for m in finite if m.size), default=upper)
    fixes = []
    if top > upper:
        fixes.append(f"upper={_round_up(top):g} (--upper {_round_up(top):g})")
    if below:
        fixes.append("lower=0 (--lower 0)")
    worst = f", {all_above} with every MAE above {upper:g} (their log p is meaningless and ranks them high)" \
        if all_above else ""
    return (f"{len(hit)} of {len(df)} rows have MAEs outside the truncation bounds [{lower:g}, {upper:g}] "
            f"(column n_outside{worst}), so their log p can mislead; screen again with wider bounds, "
            f"e.g. {' and '.join(fixes) or 'a larger upper'}, which holds every MAE")


def _round_up(x: float) -> float:
    """``x`` rounded up to two significant digits (13.7 -> 14, 1234 -> 1300)."""
    if not math.isfinite(x) or x <= 0:
        return x
    step = 10.0 ** (math.floor(math.log10(x)) - 1)
    return math.ceil(x / step) * step


def _row_flops(row: Row, n_in: int, n_out: int, length: int) -> float:
    """The products of one weight sample of ``row`` on a series of ``length`` points."""
    return row.arch.flops(n_in, n_out, row.look_back, max(1, length - row.look_back))


def _starts_new_batch(row: Row, batch: list[Row], work: float, *, share: bool, batch_flops: float) -> bool:
    """Whether ``row`` opens a new batch after ``batch`` (``work`` flops so far): rows that share their first
    layers stay together (up to :data:`SHARE_ROWS`: their work is shared); otherwise a batch ends at a new
    group or once it holds ``batch_flops``."""
    if not batch:
        return False
    if share and _prefix(row) == _prefix(batch[0]) and len(batch) < SHARE_ROWS:
        return False
    return row.group != batch[0].group or work >= batch_flops


# -- a race: synchronous rounds, decisions at each round's end (mae_ort.screening.race) -------------

def _round_batches(rows: list[Row], count: int, *, share: bool, flops_of, batch_flops: float) -> list[list[Row]]:
    """The running rows of a race's round as tasks: rows that share their first layers together (up to
    :data:`SHARE_ROWS`), else consecutive rows of one group up to ``batch_flops`` (``count`` samples each)."""
    batches: list[list[Row]] = []
    batch: list[Row] = []
    work = 0.0
    for row in rows:
        if _starts_new_batch(row, batch, work, share=share, batch_flops=batch_flops):
            batches.append(batch)
            batch, work = [], 0.0
        batch.append(row)
        work += count * flops_of(row)
    if batch:
        batches.append(batch)
    return batches


def _race(st: Store, sid: str, keys: list[tuple], sampling: SamplingSettings, run_round, *, share: bool,
          flops_of, batch_flops: float, bar, total: int) -> tuple[int, int]:
    """Race the space's rows that ``st`` lacks, round by round; store each row when it stops.

    ``run_round(tasks)`` yields the results of a list of :class:`_Piece`.  Returns (rows inserted,
    rows computed).
    """
    auto = sampling.auto_samples
    fit = dict(threshold=sampling.threshold, lower=sampling.lower, upper=sampling.upper)
    in_space = set(keys)
    done = st.done_keys(sid)
    stopped_lows: list[float] = []
    if done:  # a resumed race: the stored rows enter with their final intervals
        old = st.frame(sid, maes=True)
        for rec, m in zip(old[list(KEY_COLUMNS)].itertuples(index=False, name=None), old["maes"]):
            if tuple(rec) in in_space:
                stopped_lows.append(log_p_interval(m, **fit)[1])
    active = [k for k in keys if k not in done]
    row_of = {k: _row_of(k) for k in active}
    parts: dict[tuple, list[SamplingResult]] = {k: [] for k in active}
    new = computed = 0
    for first, count in auto.rounds():
        if not active:
            break
        rows = [row_of[k] for k in active]
        tasks = [_Piece(b, first, count) for b in _round_batches(rows, count, share=share, flops_of=flops_of,
                                                                 batch_flops=batch_flops)]
        for results in run_round(tasks):
            for r in results:
                parts[row_key(r.arch, r.look_back)].append(r)
        running = {k: np.concatenate([p.maes for p in parts[k]]) for k in active}
        status, intervals, _ = decide(running, stopped_lows, auto, **fit)
        stopping = [k for k in active if status[k] is not None]  # in the space's order
        finished = [join_results(parts.pop(k), sampling, status[k]) for k in stopping]
        new += st.add_results(sid, finished)
        hold_point(getattr(st, "path", None))
        computed += len(finished)
        stopped_lows += [intervals[k][1] for k in stopping]
        active = [k for k in active if status[k] is None]
        if bar is not None:
            bar(computed, total)
    return new, computed


# -- the sweep ------------------------------------------------------------------------------------

def screen(space, series=None, *, store=None, samples: int = 100, threshold: float = 0.01, lower: float = 0.0,
           upper: float = 2.0, fit: str = "moments", init="normal", seed: int = 0, workers: int | None = None,
           threads: int | None = None, scheduler=None, connect_timeout: float = 10.0, runtime: str = "auto",
           device: str = "cpu", memory_budget: int = GiB, progress=False, batch_flops: float = 1e10,
           share: bool = True, seeding: int = SEEDING, race: int | None = None, scores=(), id_col: str | None = None,
           target_form: str = "level"):
    """Sample every row of a space that the store does not hold yet; return the space's rows.

    Parameters
    ----------
    space : Space, str or iterable of Row
        What to run: a :class:`~mae_ort.screening.space.Space`, a preset name (``"paper-2layer"``)
        or rows.
    series : array-like, DataFrame, Series, LongTable or CSV path, optional
        The data (:func:`mae_ort.data.prepare`); default: the paper's sine.  A long-format table (a
        :class:`~mae_ort.long_format.LongTable`, or a DataFrame or CSV file with an ``id_col`` or
        ``unique_id`` column) screens every series of it on its own into the store
        (:mod:`mae_ort.screening.many`).
    store : None, str, Path or Store
        Where rows live (:func:`~mae_ort.results.store.open_store`); default: a new in-memory store.
        Several screens may share one database: each skips the rows the others store.
    samples, threshold, lower, upper, fit, init
        As :func:`mae_ort.sample`; ``samples="auto"`` (or ``"auto:tol=0.3,max=200"``, an
        :class:`~mae_ort.sampling.auto.AutoSamples`) samples each row in rounds until its answer is
        known (:mod:`mae_ort.sampling.auto`); the stored rows say how many samples they drew
        (``drawn``) and why they stopped (``status``).
    race : int, optional
        With ``samples="auto"``: race the rows for the top ``race`` by ``log p``
        (:mod:`mae_ort.screening.race`): all rows go round by round, and a row whose 95 % upper
        bound of ``log p`` is below the ``race``-th best lower bound stops (``status="raced"``: not
        a full estimate).  The race is part of the settings, so raced rows never mix with others;
        the decisions do not depend on workers, chunking or batching.  Several screens racing on
        one database do not split the work.
    seed : int
        The sweep's seed.  With seeding 2 (the default) every row is sampled with it, so a row's
        result equals ``mae_ort.sample`` of that architecture with ``seed``; with seeding 1
        (mae-ort 0.1's rows) row ``r`` is sampled with ``r.seed(seed)``.
    share : bool
        Compute the layers that consecutive rows share once (seeding 2, the Numba runtime):
        rows of one family, look-back and widths but the last go to one task.  The results are
        the same to the bit either way; ``False`` is for comparisons.
    seeding : {1, 2}
        The seeding version (:data:`mae_ort.sampling.settings.SEEDINGS`; part of the settings).
    target_form : {'level', 'delta'}
        What the networks forecast (part of the settings; see :func:`mae_ort.sample`): ``delta`` adds
        each output to the target's last value; a space with a head that cannot go below zero is then
        refused before any work.
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
    scores : sequence of str
        Scores to store with every row of the space (:data:`~mae_ort.sampling.scores.STORED_SCORES`):
        ``readout`` and ``readout_window`` come from the MAE pass of new rows (their prefixes are then not
        shared; either asks for both, at the cost of one); rows already stored that lack a score get it from
        a pass of their own weights, their MAEs untouched.  ``df`` gets ``score_<name>`` columns.
    id_col : str, optional
        The id column of a long-format table (default ``unique_id`` where the table has one); its
        ``ds`` and ``y`` columns are the time and the target (:func:`mae_ort.long_format.read_long`).
    batch_flops : float
        Work per task (rows of one family and look-back are grouped up to this many FLOPs; with
        sharing, rows that share their first layers go together whatever their work, up to
        :data:`SHARE_ROWS` rows).

    Returns
    -------
    pandas.DataFrame
        One line per row of the space, in the space's order, with the columns of
        :meth:`mae_ort.results.store.SQLiteStore.frame` and ``maes`` (float64 arrays of shape (S,)).
        ``df.attrs`` holds ``settings_id``, ``new_rows`` (rows this call added),
        ``computed_rows`` (rows this call computed: more than ``new_rows`` when another
        screen stored some of them first), ``meetings`` (how often that happened) and
        ``seconds``.

    Warns
    -----
    OutsideBoundsWarning
        Once per call, when rows of the space have MAEs outside ``[lower, upper]``
        (``n_outside > 0``): how many, and a wider ``upper`` that holds every MAE.

    Raises
    ------
    MaeOrtError
        Bad parameters, an empty space, a space of more than
        :data:`~mae_ort.screening.space.MAX_ROWS` rows, a series too short for a look-back,
        an unusable store, an unreachable scheduler, a space whose largest architecture needs more than
        ``memory_budget`` for one weight sample (then no database file is created).
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
                                        fit=fit, init=Init.parse(init), seed=seed, seeding=seeding,
                                        target_form=target_form)
    if race is not None:
        race = check_int(race, "race", caller, low=1)
        if not sampling.auto:
            raise InvalidParameterError(f"race={race} needs samples='auto' (a race decides between rounds); got "
                                        f"samples={samples!r}")
        sampling = sampling.replace(auto=str(dataclasses.replace(sampling.auto_samples, race=race)))
    elif sampling.auto and sampling.auto_samples.race:
        race = sampling.auto_samples.race
    share = bool(share) and sampling.seeding >= 2
    scores = _check_scores(scores, caller)
    if scores and race:
        raise InvalidParameterError("scores= and race= do not go together: a raced row is not a full estimate; "
                                    "screen without race to store readout scores")
    runtime = check_option(runtime, "runtime", caller, RUNTIMES)
    device = check_option(device, "device", caller, DEVICES)
    memory_budget = check_int(memory_budget, "memory_budget", caller, low=1)
    connect_timeout = check_real(connect_timeout, "connect_timeout", caller, low=0.0, low_open=True)
    batch_flops = check_real(batch_flops, "batch_flops", caller, low=0.0)
    auto_workers = workers is None
    workers = default_workers(device) if workers is None else check_int(workers, "workers", caller, low=0)
    threads = None if threads is None else check_int(threads, "threads", caller, low=1)
    if progress is not True:
        as_progress(progress, description=space.name, caller=caller)  # a bad value is refused before any work
    bar = None
    if isinstance(series, LongTable) or long_id_column(series, id_col) is not None:
        from .many import screen_long

        if race:
            raise InvalidParameterError("race= ranks the rows of one series; screen a long table without it")
        table = series if isinstance(series, LongTable) else read_long(series, id_col=id_col)
        check_size(space)
        for head in dict.fromkeys(k[3] for k in space.keys()):  # as below: before any work
            check_head(head, sampling.target_form, caller)
        return screen_long(space, table, store=store, sampling=sampling, share=share, scores=scores,
                           runtime=runtime, device=device, memory_budget=memory_budget, workers=workers,
                           auto_workers=auto_workers, threads=threads, scheduler=scheduler,
                           connect_timeout=connect_timeout, progress=progress, batch_flops=batch_flops, t0=t0)
    series = prepare(sine(), name="sine") if series is None else prepare(series)

    check_size(space)  # before enumerating anything
    keys = list(space.keys())
    if not keys:
        raise MaeOrtError(f"the space {space.name!r} is empty: nothing to screen")
    for head in dict.fromkeys(k[3] for k in keys):  # a one-signed head on a change target: refused before any work
        check_head(head, sampling.target_form, caller)
    longest = max(k[-1] for k in keys)
    if series.length < longest + 1:
        raise DataError(f"series has {series.length} points; look_back={longest} needs at least {longest + 1}")

    if scores:
        from ..sampling.readout import fit_windows

        for lb in sorted({k[-1] for k in keys}):  # a ridge that cannot be fitted: refused before any work
            fit_windows(series.length - lb)
    # the largest member must fit the memory budget: refused now, not after hours of its smaller rows
    pass_readout = bool(set(PASS_SCORES) & set(scores))  # computed from the MAE pass of new rows
    largest_member(space, series, Sampler(memory_budget=memory_budget, readout=pass_readout))
    settings = Settings.of(series, sampling)
    client, own_client = (None, False)
    st: Store | None = None
    own_store = False
    new = 0
    try:
        if scheduler is not None:  # connect before creating or writing anything
            client, own_client = connect_scheduler(scheduler, connect_timeout)
        own_store = not isinstance(store, Store) and store is not None  # opened here from a path: closed here
        st = open_store(store)
        sid = st.add_settings(settings)
        work = _Work(st, sid, keys, n_in=series.inputs.shape[1], n_out=series.targets.shape[1],
                     length=series.length, samples=sampling.samples, batch_flops=batch_flops, share=share)
        total = work.total
        batches = work.batches()
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
        sampler = Sampler(runtime=runtime, device=device, threads=threads, memory_budget=memory_budget,
                          readout=pass_readout)
        if total:
            resumed = f" ({len(keys) - total} already done)" if len(keys) > total else ""
            bar = as_progress(progress, description=f"screening {space.name}{resumed}", caller=caller)
            if bar is not None:
                bar(0, total)
        if race:
            pool = None if (client is not None or inline) else _pool(series, sampler, settings, parallel, share)
            if client is not None:
                run_round = lambda tasks: _dask(iter(tasks), series, sampler, settings, client, share)  # noqa: E731
            elif inline:
                run_round = lambda tasks: _inline(iter(tasks), series, sampler, settings, share)  # noqa: E731
            else:
                run_round = lambda tasks: pool.run(_run_in_worker, tasks, keep=True)  # noqa: E731
            flops_of = functools.partial(_row_flops, n_in=series.inputs.shape[1], n_out=series.targets.shape[1],
                                         length=series.length)
            try:
                with sigterm_raises(ScreenInterrupted):
                    new, computed = _race(st, sid, keys, settings, run_round, share=share, flops_of=flops_of,
                                          batch_flops=batch_flops, bar=bar, total=total)
            finally:
                if pool is not None:
                    pool.close()
            work.computed = computed
            results = (batch for batch in ())  # every row is stored already
        elif client is not None:
            results = _dask(batches, series, sampler, settings, client, share)
        elif inline:
            results = _inline(batches, series, sampler, settings, share)
        else:
            results = _processes(batches, series, sampler, settings, parallel, share)
        with sigterm_raises(ScreenInterrupted):
            try:
                for batch in results:
                    inserted = st.add_results(sid, batch)
                    new += inserted
                    hold_point(getattr(st, "path", None))
                    work.stored(batch, inserted)
                    if bar is not None:
                        bar(min(work.finished, total), total)
            finally:
                results.close()
        if scores:
            with sigterm_raises(ScreenInterrupted):
                _fill_scores(st, sid, keys, scores, series, sampling,
                             Sampler(runtime=runtime, device=device, threads=None, memory_budget=memory_budget))
        df = _frame(st, sid, keys, new=new, seconds=time.perf_counter() - t0)
        df.attrs.update(computed_rows=work.computed, meetings=work.meetings)
        message = _outside_bounds(df, sampling.lower, sampling.upper)
        if message is not None:
            warnings.warn(message, OutsideBoundsWarning, stacklevel=2)
        return df
    finally:
        if bar is not None and hasattr(bar, "close"):
            bar.close()
        if own_client:
            client.close()
        if own_store and st is not None:
            st.close()


def _check_scores(scores, caller: str) -> tuple[str, ...]:
    """The score names asked of a screen, checked (the one-line error lists the known ones)."""
    from ..sampling.scores import STORED_SCORES

    names = (scores,) if isinstance(scores, str) else tuple(scores or ())
    for n in names:
        if n not in STORED_SCORES:
            raise InvalidParameterError(f"The 'scores' parameter of {caller} takes the stored scores "
                                        f"{', '.join(STORED_SCORES)}. Got {n!r} instead.")
    return tuple(n for n in STORED_SCORES if n in names)


def stored_row_scores(row: Row, drawn: int | None, names, series, sampling: SamplingSettings,
                      sampler: Sampler) -> dict[str, float]:
    """The stored scores ``names`` (:data:`~mae_ort.sampling.scores.STORED_SCORES`) of a stored row, from its own
    weights (the seed ``screen`` sampled it with, its ``drawn`` samples; the forward-pass scores from the first
    of them, :func:`~mae_ort.sampling.scores.scores_of`); its MAEs are neither resampled nor touched."""
    from ..sampling.scores import scores_of

    seed = row.seed(sampling.seed) if sampling.seeding == 1 else sampling.seed
    settings = sampling.replace(samples=int(drawn or sampling.samples), auto="", seed=seed)
    return dict(scores_of(row.arch, sampler.windows_of(series, row.look_back, sampling.target_form), None,
                          settings=settings, which=list(names), sampler=sampler))


def _fill_scores(st: Store, sid: str, keys: list[tuple], names: tuple[str, ...], series,
                 sampling: SamplingSettings, sampler: Sampler) -> int:
    """Compute and store the scores ``names`` of the space's stored rows that lack them (their MAEs are not
    resampled); each row's scores are stored as soon as they are known, so an interruption loses none."""
    want = set(keys)
    added = 0
    for r in st.frame(sid).itertuples(index=False):
        key = tuple(getattr(r, c) for c in KEY_COLUMNS)
        missing = [n for n in names if math.isnan(getattr(r, f"score_{n}", math.nan))]  # NaN: not stored
        if key in want and missing:
            values = stored_row_scores(_row_of(key), r.drawn, missing, series, sampling, sampler)
            added += st.add_scores((int(r.id), n, v) for n, v in values.items())
    return added


def _frame(st: Store, sid: str, keys: list[tuple], *, new: int, seconds: float):
    import pandas as pd

    df = st.frame(sid, maes=True)
    order = pd.DataFrame(keys, columns=list(KEY_COLUMNS))
    order["_order"] = range(len(order))
    out = df.merge(order, on=list(KEY_COLUMNS), how="inner").sort_values("_order").drop(columns="_order")
    out = out.reset_index(drop=True)
    out.attrs.update(settings_id=sid, new_rows=new, seconds=seconds)
    return out

