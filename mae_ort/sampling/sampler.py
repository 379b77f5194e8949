"""MAE random sampling: draw weight samples, evaluate them, fit, report ``log p`` (the natural logarithm).

:class:`Sampler` keeps its runtimes (onnxruntime sessions, Numba kernels) and its
weight buffers across calls, so screening thousands of architectures pays for
export and session creation once per graph.  :func:`sample` is the one-call form.
"""

from __future__ import annotations

import math
import time
import warnings
from dataclasses import dataclass, field

import numpy as np

from .._checks import check_int, check_option, resolve_seed
from .._system import default_threads, limit_numba_threads, once_per_process
from ..data import Series, Windows, check_target_form, prepare, windows
from ..errors import InvalidParameterError, MaeOrtWarning, NonFiniteWarning
from ..model.architecture import Architecture, check_head, head_for, resolve
from ..runtimes import DEVICES, RUNTIMES, Runtime, choose_runtime, make_runtime
from .auto import stop_status
from .readout import PASS_SCORES, fit_windows, median_score, pass_readouts, readout_maes
from .settings import SEEDING, Init, SamplingSettings
from .stats import fit_truncnorm
from .weights import fill_weights, weight_streams

__all__ = ["Init", "SamplingResult", "Sampler", "sample", "results_frame", "as_architecture", "GiB",
           "OutsideBoundsWarning", "join_results"]

GiB = 1 << 30


class OutsideBoundsWarning(MaeOrtWarning):
    """Some finite MAEs fall outside the truncation bounds ``[lower, upper]`` (see ``SamplingResult.n_outside``),
    so their log p can mislead; raised once per call by :func:`sample`, :meth:`Sampler.sample` and
    :func:`mae_ort.screen` (there with the number of rows affected).

    The ``moments`` fit keeps them in the mean and sd (as the reference did), the
    ``mle`` fit leaves them out; either way the truncated normal does not describe
    them.  Widen the bounds (a larger ``upper``, ``--upper``).
    """


def _available_memory() -> int | None:
    """Bytes this process can still allocate: ``MemAvailable``, capped by a cgroup limit; None when unknown."""
    known = []
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    known.append(int(line.split()[1]) * 1024)
                    break
    except (OSError, ValueError, IndexError):
        pass
    v1 = "/sys/fs/cgroup/memory/memory."
    for limit, usage in (("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),
                         (v1 + "limit_in_bytes", v1 + "usage_in_bytes")):
        try:
            with open(limit) as fh:
                text = fh.read().strip()
            if text == "max" or int(text) >= 1 << 60:
                continue
            with open(usage) as fh:
                known.append(max(0, int(text) - int(fh.read().strip())))
            break
        except (OSError, ValueError):
            continue
    return min(known) if known else None


def _size(n: float) -> str:
    """Bytes as text: ``80 GB``, ``512 MB``."""
    for unit, scale in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= scale:
            return f"{n / scale:.3g} {unit}"
    return f"{int(n)} bytes"


@dataclass(repr=False)
class SamplingResult:
    """The outcome of sampling one architecture on one series.

    Attributes
    ----------
    maes : ndarray of shape (S,)
        MAE of each random weight sample (float64; ``inf``/``nan`` where its
        predictions overflowed).
    seed : int
        The seed every weight came from (drawn when the call passed ``seed=None`` or a
        generator): the same seed gives the same MAEs.
    mean, sd : float
        Mean and population standard deviation of the finite MAEs.
    p, log_p : float
        ``P(MAE < threshold)`` under the fitted truncated normal, and its natural
        logarithm (the ``moments`` fit floors ``log_p`` at ``log(1e-300) ~ -690.8`` as
        the reference did).
    log_p_exact : float
        ``log p`` (natural logarithm) computed in log space, without the floor.
    n_nonfinite, n_outside : int
        MAEs that are not finite, and finite MAEs outside ``[lower, upper]``.
    seconds : float
        Wall time of this call (weights, evaluation and fit).
    samples : int
        The weight samples drawn, ``len(maes)`` (with ``samples="auto"``: where it stopped).
    status : str
        How the sampling ended (:data:`mae_ort.sampling.auto.STATUSES`): ``fixed``, ``converged``,
        ``maximum``, or ``raced`` (stopped by a racing sweep: not a full estimate).
    auto : str
        ``""``, or the ``samples="auto"`` settings' text (:class:`~mae_ort.sampling.auto.AutoSamples`).
    scores : dict
        Training-free scores computed in the same pass (``{"readout": ..., "readout_window": ...}`` from a
        sampler with ``readout=True``); stored with the row.
    """

    arch: Architecture
    look_back: int
    samples: int
    seed: int
    threshold: float
    lower: float
    upper: float
    fit: str
    init: str
    maes: np.ndarray
    mean: float
    sd: float
    loc: float
    scale: float
    p: float
    log_p: float
    log_p_exact: float
    n_nonfinite: int
    n_outside: int
    seconds: float
    runtime: str
    device: str
    series: str = "series"
    windows: int = 0
    extra: dict = field(default_factory=dict)
    seeding: int = SEEDING
    setup_seconds: float = 0.0
    status: str = "fixed"
    auto: str = ""
    scores: dict = field(default_factory=dict)
    target_form: str = "level"

    @property
    def settings(self) -> SamplingSettings:
        """The settings this result was sampled with (its own seed; with ``samples="auto"`` its auto settings)."""
        return SamplingSettings(samples=self.samples, threshold=self.threshold, lower=self.lower, upper=self.upper,
                                fit=self.fit, init=self.init, seed=self.seed, seeding=self.seeding, auto=self.auto,
                                target_form=self.target_form)

    def __repr__(self) -> str:
        return (f"SamplingResult(arch={self.arch.label()}, look_back={self.look_back}, samples={self.samples}, "
                f"mean={self.mean:.6g}, sd={self.sd:.6g}, log_p={self.log_p:.6g})")

    def _row(self, maes: bool) -> dict:
        row = {"units": ",".join(map(str, self.arch.units)), "depth": self.arch.depth, "cell": self.arch.cell,
               "activation": self.arch.activation, "recurrent_activation": self.arch.recurrent_activation,
               "head_activation": self.arch.head_activation}
        row.update({k: getattr(self, k) for k in _FRAME_COLUMNS[len(row):]})
        if maes:
            row["maes"] = self.maes
        return row

    def to_frame(self, *, maes: bool = False):
        """This result as a one-row pandas DataFrame (the columns of :func:`results_frame`)."""
        return results_frame([self], maes=maes)

    def to_dict(self) -> dict:
        """JSON-ready fields, under the same names as the attributes.

        Non-finite numbers (a ``log_p`` of ``-inf``, a ``mean`` of ``nan``, an MAE that
        overflowed) are ``None``, which :func:`json.dumps` writes as ``null``.
        """
        num = lambda v: None if v is None or (isinstance(v, float) and not math.isfinite(v)) else v  # noqa: E731
        return {
            **self.arch.to_dict(),
            "arch": list(self.arch.units),
            "look_back": self.look_back,
            "samples": self.samples,
            "seed": self.seed,
            "threshold": self.threshold,
            "lower": self.lower,
            "upper": self.upper,
            "fit": self.fit,
            "init": self.init,
            "mean": num(self.mean),
            "sd": num(self.sd),
            "loc": num(self.loc),
            "scale": num(self.scale),
            "p": num(self.p),
            "log_p": num(self.log_p),
            "log_p_exact": num(self.log_p_exact),
            "n_nonfinite": self.n_nonfinite,
            "n_outside": self.n_outside,
            "seconds": self.seconds,
            "runtime": self.runtime,
            "device": self.device,
            "series": self.series,
            "windows": self.windows,
            "seeding": self.seeding,
            "setup_seconds": self.setup_seconds,
            "status": self.status,
            "auto": self.auto,
            "target_form": self.target_form,
            **({"scores": {k: num(float(v)) for k, v in self.scores.items()}} if self.scores else {}),
            "maes": [num(float(v)) for v in self.maes],
        }


def results_frame(results, *, maes: bool = False):
    """Many :class:`SamplingResult` as one pandas DataFrame, one row each.

    Columns: ``units`` (``"31,31"``), ``depth``, ``cell`` and the activations (so
    :meth:`Architecture.from_row` rebuilds each row's architecture), then
    ``look_back``, the settings (``samples``, ``seed``, ``threshold``, ``lower``,
    ``upper``, ``fit``, ``init``), the fit (``mean``, ``sd``, ``loc``, ``scale``, ``p``,
    ``log_p``, ``log_p_exact``, ``n_nonfinite``, ``n_outside``), ``seconds``,
    ``runtime``, ``device``, ``series``, ``windows``, ``status``, ``target_form``; with ``maes=True`` also ``maes``
    (each row's array).  Non-finite numbers stay floats (``-inf``, ``nan``).

    Examples
    --------
    >>> sampler = Sampler()                                                     # doctest: +SKIP
    >>> results_frame([sampler.sample(sine(), u, look_back=5) for u in ([7], [15])])  # doctest: +SKIP
    """
    import pandas as pd

    results = list(results)
    bad = [r for r in results if not isinstance(r, SamplingResult)]
    if bad:
        raise InvalidParameterError(f"The 'results' parameter of results_frame must be SamplingResult objects. "
                                    f"Got {bad[0]!r} instead.")
    if not results:
        return pd.DataFrame(columns=list(_FRAME_COLUMNS) + (["maes"] if maes else []))
    return pd.DataFrame([r._row(maes) for r in results])


#: The columns of :func:`results_frame`, in order.
_FRAME_COLUMNS = ("units", "depth", "cell", "activation", "recurrent_activation", "head_activation", "look_back",
                  "samples", "seed", "threshold", "lower", "upper", "fit", "init", "mean", "sd", "loc", "scale", "p",
                  "log_p", "log_p_exact", "n_nonfinite", "n_outside", "seconds", "runtime", "device", "series",
                  "windows", "status", "target_form")


#: The one preset resolver, under the name the sampler's callers know (see :func:`mae_ort.model.resolve`).
as_architecture = resolve


class Sampler:
    """Reusable MAE random sampler; keeps sessions and buffers across calls.

    Parameters
    ----------
    runtime : {'auto', 'onnxruntime', 'numba'}
        ``auto`` picks the faster runtime for each shape on the CPU and onnxruntime on CUDA.
    device : {'cpu', 'cuda'}
    threads : int, optional
        Threads of the runtime (default: all cores this process may use).
    memory_budget : int
        Bytes that one chunk of samples may use (weights and intermediates);
        samples are processed in chunks that fit (default 1 GiB).  Results do not
        depend on the chunking.
    chunk_size : int, optional
        Force a chunk size (still capped by the memory budget).
    readout : bool
        Also compute the echo-state readout scores (:mod:`mae_ort.sampling.readout`) of every
        :meth:`run`, from the hidden states of the same pass (``result.scores["readout"]`` and
        ``result.scores["readout_window"]``, :data:`~mae_ort.sampling.readout.PASS_SCORES`).

    Examples
    --------
    >>> s = Sampler()
    >>> r = s.sample(sine(), arch=[7], look_back=1, samples=10, seed=0)   # doctest: +SKIP
    """

    def __init__(self, *, runtime: str = "auto", device: str = "cpu", threads: int | None = None,
                 memory_budget: int = GiB, chunk_size: int | None = None, readout: bool = False) -> None:
        caller = "Sampler"
        self.readout = bool(readout)
        self.runtime = runtime if not isinstance(runtime, str) else check_option(runtime, "runtime", caller, RUNTIMES)
        self.device = check_option(device, "device", caller, DEVICES)
        self.threads = None if threads is None else check_int(threads, "threads", caller, low=1)
        self.memory_budget = check_int(memory_budget, "memory_budget", caller, low=1)
        self.chunk_size = None if chunk_size is None else check_int(chunk_size, "chunk_size", caller, low=1)
        if self.runtime == "numba" and self.device == "cuda":
            raise InvalidParameterError("runtime='numba' runs on the CPU only; use runtime='onnxruntime' with "
                                        "device='cuda'")
        self._runtimes: dict[str, object] = {}
        self._fill_setup = 0.0
        # a runtime object passed in: count only what it pays from now on
        self._given_setup0 = 0.0 if isinstance(runtime, str) else float(getattr(runtime, "setup_seconds", 0.0))
        self._buffers: dict[tuple, list[np.ndarray]] = {}
        self._windows: dict[tuple, Windows] = {}

    def __getstate__(self):
        state = self.__dict__.copy()
        state["_runtimes"], state["_buffers"], state["_windows"] = {}, {}, {}
        return state

    # -- pieces -------------------------------------------------------------------
    def runtime_for(self, arch: Architecture, look_back: int) -> Runtime:
        """The runtime object that evaluates ``arch`` at ``look_back`` (:func:`~mae_ort.runtimes.choose_runtime`)."""
        if not isinstance(self.runtime, str):
            return self.runtime
        name = choose_runtime(arch, look_back, runtime=self.runtime, device=self.device)
        rt = self._runtimes.get(name)
        if rt is None:
            rt = self._runtimes[name] = make_runtime(name, device=self.device, threads=self.threads)
        return rt

    @property
    def setup_seconds(self) -> float:
        """One-time seconds paid so far: loading or compiling the Numba kernels, exporting graphs, opening
        sessions (every later call of the same shapes skips them); a runtime object passed as ``runtime``
        counts with what it paid after this sampler got it."""
        given = 0.0
        if not isinstance(self.runtime, str):
            given = float(getattr(self.runtime, "setup_seconds", 0.0)) - self._given_setup0
        return self._fill_setup + given + sum(r.setup_seconds for r in self._runtimes.values())

    def _warm_fill(self) -> None:
        """Load the seeded weight fill's kernel once per process (timed as a one-time cost)."""
        from ..kernels import random as krandom

        self._fill_setup += once_per_process("numba-fill", krandom.warmup)

    def bytes_per_sample(self, arch: Architecture, win: Windows) -> int:
        """Estimated peak bytes one weight sample needs during a run."""
        g = arch.gates
        widest = max(arch.units)
        inter = win.n * (4 * (g + 3) * widest + 2 * (win.n_in + 1 + widest) + 4 * win.n_out)
        if self.readout:  # the hidden states (float32) and the readouts' float64 copy (readout_window: the same,
            inter += win.n * 3 * (arch.units[-1] + 1)  # its Gram matrices in blocks of bounded size)
        return 4 * (arch.n_weights(win.n_in, win.n_out) * 3 + inter)

    def check_budget(self, arch: Architecture, win: Windows) -> int:
        """The bytes one weight sample of ``arch`` on ``win`` needs; refused when above the memory budget."""
        per = self.bytes_per_sample(arch, win)
        if self.memory_budget // per < 1:
            raise InvalidParameterError(
                f"memory_budget={self.memory_budget} bytes is below what one weight sample of {arch.label()} "
                f"at look_back={win.look_back} needs (about {per} bytes); raise it"
            )
        return per

    def chunk_for(self, arch: Architecture, win: Windows, samples: int, runtime) -> int:
        """Samples per run: the runtime's preference, capped by the memory budget."""
        fit = self.memory_budget // self.check_budget(arch, win)
        want = self.chunk_size or runtime.preferred_chunk
        return int(max(1, min(want, fit, samples)))

    def check_memory(self, arch: Architecture, win: Windows, samples: int, chunk: int, lanes: int = 1) -> None:
        """Refuse, before allocating, a run whose MAEs or chunks cannot fit in the memory available.

        The MAE array (8 bytes a sample, with room for the fit's copies) and ``lanes``
        chunks of ``chunk`` samples must fit in what the machine (or its cgroup) has
        free; nothing is checked where that is unknown.

        Raises
        ------
        InvalidParameterError
            With the sizes and the fix (fewer samples, a smaller memory budget).
        """
        avail = _available_memory()
        if avail is None:
            return
        maes = 8 * samples
        chunks = lanes * chunk * self.bytes_per_sample(arch, win)
        if 4 * maes > avail:
            raise InvalidParameterError(
                f"samples={samples} needs about {_size(4 * maes)} of memory for the MAEs and their fit "
                f"({_size(maes)} for the MAEs alone), more than the {_size(avail)} available; use fewer samples"
            )
        if 4 * maes + chunks > avail:
            raise InvalidParameterError(
                f"chunks of {chunk} weight samples of {arch.label()} at look_back={win.look_back} need about "
                f"{_size(chunks)}, more than the {_size(avail - 4 * maes)} of memory available; lower "
                f"memory_budget (--memory-budget, now {_size(self.memory_budget)})"
            )

    def _weight_buffers(self, arch: Architecture, win: Windows, chunk: int, slot: int = 0) -> list[np.ndarray]:
        key = (arch.units, arch.cell, win.n_in, win.n_out, chunk, slot)
        bufs = self._buffers.get(key)
        if bufs is None:
            if len(self._buffers) > 16:
                self._buffers.clear()
            shapes = arch.weight_shapes(win.n_in, win.n_out)
            bufs = [np.empty((chunk,) + shape, dtype=np.float32) for _, shape in shapes]
            self._buffers[key] = bufs
        return bufs

    def fill_weights(self, arch: Architecture, bufs: list[np.ndarray], *, seed: int, first_sample: int,
                     init: Init, n_in: int, seeding: int = SEEDING, streams=None) -> None:
        """Fill the first ``len(bufs[0])`` samples' weights, starting at global sample ``first_sample``.

        ``streams`` (default: all of ``arch``'s, :func:`~mae_ort.sampling.weights.weight_streams`)
        name the arrays when ``bufs`` holds only some of them.
        """
        streams = weight_streams(arch, seeding) if streams is None else streams
        # the fill is a parallel region: keep it within this sampler's share of the cores
        fill_weights(bufs, init=init, seed=seed, first_sample=first_sample, threads=self.threads or default_threads(),
                     streams=streams)

    def weights(self, arch: Architecture, *, n_in: int, n_out: int, samples: int, seed: int = 0,
                init="normal", first_sample: int = 0, seeding: int = SEEDING) -> list[np.ndarray]:
        """The weights of ``samples`` samples, as the sampler draws them (Keras order, (S, *shape))."""
        init = Init.parse(init)
        bufs = [np.empty((samples,) + shape, dtype=np.float32) for _, shape in arch.weight_shapes(n_in, n_out)]
        self.fill_weights(arch, bufs, seed=seed, first_sample=first_sample, init=init, n_in=n_in, seeding=seeding)
        return bufs

    def maes(self, arch: Architecture, win: Windows, *, samples: int, seed: int = 0, init="normal",
             progress=None, seeding: int = SEEDING, first_sample: int = 0, readout: bool = False):
        """MAEs of the random weight samples ``first_sample .. first_sample + samples - 1`` of ``arch`` on ``win``,
        shape (samples,); with ``readout=True`` the pair ``(maes, readouts)``, ``readouts`` each sample's
        echo-state readout MAEs from the same pass by name (:func:`~mae_ort.sampling.readout.pass_readouts`:
        ``readout`` and ``readout_window``, arrays of shape (samples,)).

        Sample ``s`` is the same whatever ``first_sample`` and the chunking: drawing ``0..24`` then
        ``25..49`` gives the MAEs of one draw of 50.  Chunks run one after another, or
        ``runtime.parallel_runs`` at a time on threads (onnxruntime releases the GIL), each with its
        own weight buffers.  ``progress(done, samples)`` is called after every chunk.
        """
        init = Init.parse(init)
        rt = self.runtime_for(arch, win.look_back)
        chunk = self.chunk_for(arch, win, samples, rt)
        lanes = max(1, min(rt.parallel_runs, -(-samples // chunk)))
        self.check_memory(arch, win, samples, chunk, lanes)
        out = np.empty(samples, dtype=np.float64)
        out_r = {n: np.empty(samples, dtype=np.float64) for n in PASS_SCORES} if readout else None
        if readout:
            fit_windows(win.n)  # a ridge that cannot be fitted is refused before any work
        starts = range(0, samples, chunk)

        def run(start: int, slot: int) -> int:
            m = min(chunk, samples - start)
            views = [b[:m] for b in self._weight_buffers(arch, win, chunk, slot)]
            self.fill_weights(arch, views, seed=seed, first_sample=first_sample + start, init=init, n_in=win.n_in,
                              seeding=seeding)
            if readout:
                out[start:start + m], hidden = rt.maes_hidden(arch, win, views)
                for name, values in pass_readouts(hidden, win.X, win.y).items():
                    out_r[name][start:start + m] = values
            else:
                out[start:start + m] = rt.maes(arch, win, views)[0]
            return m

        if lanes == 1:
            for start in starts:
                run(start, 0)
                if progress is not None:
                    progress(start + min(chunk, samples - start), samples)
        else:
            import queue
            from concurrent.futures import ThreadPoolExecutor

            free: queue.SimpleQueue = queue.SimpleQueue()
            for slot in range(lanes):
                self._weight_buffers(arch, win, chunk, slot)
                free.put(slot)

            def task(start: int) -> int:
                slot = free.get()
                try:
                    return run(start, slot)
                finally:
                    free.put(slot)

            done = 0
            pool = ThreadPoolExecutor(lanes)
            try:
                for m in pool.map(task, starts):
                    done += m
                    if progress is not None:
                        progress(done, samples)
            finally:  # Ctrl-C, SIGTERM, an error: drop the queued chunks, wait only for those running
                pool.shutdown(wait=True, cancel_futures=True)
        return (out, out_r) if readout else out

    def readout_of(self, arch: Architecture, win: Windows, weights: list[np.ndarray]) -> np.ndarray:
        """Each sample's echo-state readout MAE (:func:`~mae_ort.sampling.readout.readout_maes`) of given
        weights (Keras order, (S, *shape) float32), in chunks that fit the memory budget."""
        fit_windows(win.n)
        rt = self.runtime_for(arch, win.look_back)
        rt.warmup()
        S = int(weights[0].shape[0])
        chunk = self.chunk_for(arch, win, max(S, 1), rt)
        starts = range(0, S, chunk)
        lanes = max(1, min(rt.parallel_runs, len(starts)))
        self.check_memory(arch, win, S, chunk, lanes)
        out = np.empty(S, dtype=np.float64)

        def run(start: int) -> None:
            part = [np.ascontiguousarray(w[start:start + chunk], dtype=np.float32) for w in weights]
            out[start:start + len(part[0])] = readout_maes(rt.maes_hidden(arch, win, part)[1], win.y)

        if lanes == 1:
            for start in starts:
                run(start)
        else:  # onnxruntime releases the GIL: its single-threaded runs go side by side, as in maes()
            from concurrent.futures import ThreadPoolExecutor

            with ThreadPoolExecutor(lanes) as pool:
                list(pool.map(run, starts))
        return out

    def windows_of(self, series: Series, look_back: int, target_form: str = "level") -> Windows:
        """Windows of a prepared series (cached per series, look-back and target form)."""
        key = (id(series), series.length, look_back, target_form)
        w = self._windows.get(key)
        if w is None or self._windows.get(("series", key)) is not series:
            w = windows(series, look_back, target_form=target_form, caller="sample")
            if len(self._windows) > 64:
                self._windows.clear()
            self._windows[key] = w
            self._windows[("series", key)] = series
        return w

    # -- the method -----------------------------------------------------------------
    def sample(self, series, arch, *, look_back: int, samples: int = 100, threshold: float = 0.01,
               lower: float = 0.0, upper: float = 2.0, fit: str = "moments", seed=0, init="normal",
               preset: str | None = None, cell: str | None = None, activation: str | None = None,
               recurrent_activation: str | None = None, head_activation: str | None = None,
               input=None, target=None, scale: str = "none", target_form: str = "level", progress=None,
               warn: bool = True) -> SamplingResult:
        """Sample ``arch`` on ``series`` (see :func:`sample` for the parameters).

        ``warn=False`` leaves the counts of non-finite MAEs and of MAEs outside the
        bounds to ``SamplingResult.n_nonfinite`` and ``n_outside`` (no warnings).
        """
        caller = "sample"
        target_form = check_target_form(target_form, caller)
        arch = resolve(arch, preset=preset, cell=cell, activation=activation, recurrent_activation=recurrent_activation,
                       head_activation=head_activation if isinstance(arch, Architecture)
                       else head_for(head_activation, target_form), caller=caller)
        check_head(arch.head_activation, target_form, caller)
        look_back = check_int(look_back, "look_back", caller, low=1)
        settings = SamplingSettings.checked(caller, samples=samples, threshold=threshold, lower=lower, upper=upper,
                                            fit=fit, init=Init.parse(init), seed=resolve_seed(seed, "seed", caller),
                                            target_form=target_form)
        series = prepare(series, input=input, target=target, scale=scale)
        return self.run(series, arch, look_back, settings, progress=progress, warn=warn)

    def run(self, series: Series, arch: Architecture, look_back: int, settings: SamplingSettings, *,
            progress=None, warn: bool = True, first_sample: int = 0) -> SamplingResult:
        """Sample a checked architecture on a prepared series with checked settings (no argument parsing).

        With ``samples="auto"`` (``settings.auto``) it draws rounds of samples until
        :func:`~mae_ort.sampling.auto.stop_status` says stop.  ``first_sample`` (fixed ``samples``
        only) draws samples ``first_sample ..`` instead of ``0 ..`` (a racing sweep's next round).

        Warns :class:`~mae_ort.errors.NonFiniteWarning` when some MAEs are not finite
        and :class:`OutsideBoundsWarning` when some fall outside ``[lower, upper]``;
        ``warn=False`` leaves both counts to ``SamplingResult.n_nonfinite`` and
        ``n_outside`` (the sweep's way).
        """
        t0 = time.perf_counter()
        setup0 = self.setup_seconds
        check_head(arch.head_activation, settings.target_form, "sample")
        self._warm_fill()
        self.runtime_for(arch, look_back).warmup()
        win = self.windows_of(series, look_back, settings.target_form)
        init = settings.weights
        auto = settings.auto_samples
        ro = self.readout
        readout = None
        if auto is None:
            maes = self.maes(arch, win, samples=settings.samples, seed=settings.seed, init=init, progress=progress,
                             seeding=settings.seeding, first_sample=first_sample, readout=ro)
            if ro:
                maes, readout = maes
            status = "fixed"
        else:  # rounds until the answer is known (mae_ort.sampling.auto)
            parts: list[np.ndarray] = []
            rparts: list[dict] = []
            for first, count in auto.rounds():
                part_progress = None if progress is None else (lambda d, _t, f=first: progress(f + d, auto.maximum))
                part = self.maes(arch, win, samples=count, seed=settings.seed, init=init, progress=part_progress,
                                 seeding=settings.seeding, first_sample=first, readout=ro)
                if ro:
                    part, rpart = part
                    rparts.append(rpart)
                    readout = {n: np.concatenate([rp[n] for rp in rparts]) for n in PASS_SCORES}
                parts.append(part)
                maes = np.concatenate(parts)
                status = stop_status(maes, auto, threshold=settings.threshold, lower=settings.lower,
                                     upper=settings.upper)
                if status is not None:
                    break
        r = self._result(series, arch, look_back, settings, win, maes, time.perf_counter() - t0, warn=warn,
                         status=status)
        if readout is not None:
            r.scores.update({n: median_score(v) for n, v in readout.items()})
        r.setup_seconds = self.setup_seconds - setup0
        return r

    def _result(self, series: Series, arch: Architecture, look_back: int, settings: SamplingSettings, win: Windows,
                maes: np.ndarray, seconds: float, *, warn: bool, status: str = "fixed") -> SamplingResult:
        t0 = time.perf_counter()
        bad = int((~np.isfinite(maes)).sum())
        if bad and warn:
            warnings.warn(
                f"{bad} of {maes.size} weight samples of {arch.label()} gave non-finite predictions; "
                "they count as MAE >= threshold and are left out of the fit",
                NonFiniteWarning, stacklevel=3,
            )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the floor is reported through log_p_exact
            f = fit_truncnorm(maes, threshold=settings.threshold, lower=settings.lower, upper=settings.upper,
                              fit=settings.fit)
        if f.n_outside and warn:
            warnings.warn(_outside_message(maes, f.n_outside, arch, settings), OutsideBoundsWarning, stacklevel=3)
        rt = self.runtime_for(arch, look_back)
        return SamplingResult(
            arch=arch, look_back=look_back, samples=int(maes.size), seed=settings.seed,
            threshold=settings.threshold, lower=settings.lower, upper=settings.upper, fit=settings.fit,
            init=settings.init, maes=maes, mean=f.mean, sd=f.sd, loc=f.loc, scale=f.scale,
            p=f.p, log_p=f.log_p, log_p_exact=f.log_p_exact, n_nonfinite=f.n_nonfinite, n_outside=f.n_outside,
            seconds=seconds + time.perf_counter() - t0, runtime=rt.name, device=rt.device,
            series=series.name, windows=win.n, seeding=settings.seeding, status=status, auto=settings.auto,
            target_form=settings.target_form,
        )

    def run_group(self, series: Series, archs: list[Architecture], look_back: int, settings: SamplingSettings, *,
                  warn: bool = True, first_sample: int = 0) -> list[SamplingResult]:
        """Sample architectures that differ only in their last layer's width, sharing the other layers' work.

        With seeding 2 the shared layers have the same weights in every architecture, so the
        Numba runtime runs them once per block of windows
        (:func:`mae_ort.kernels.forward.forward_maes_group`); each result equals :meth:`run` of
        that architecture alone, exactly.  Other cases (seeding 1, another runtime, architectures
        that do not share, a sampler with ``readout=True``) run each architecture alone.  With
        ``samples="auto"`` the group goes round by round and each architecture leaves it when it stops (as
        :meth:`run` would).
        ``first_sample`` (fixed ``samples`` only) draws samples ``first_sample ..`` instead of ``0 ..``.
        """
        if not archs:
            return []
        for a in archs:
            check_head(a.head_activation, settings.target_form, "sample")
        first = archs[0]
        shareable = (settings.seeding >= 2 and len(archs) > 1 and not self.readout
                     and all(a.family == first.family and a.units[:-1] == first.units[:-1] for a in archs)
                     and all(self.runtime_for(a, look_back).name == "numba" for a in archs))
        if not shareable:
            return [self.run(series, a, look_back, settings, warn=warn, first_sample=first_sample) for a in archs]
        warm = getattr(self.runtime_for(first, look_back), "warmup_group", None)
        if warm is not None:  # one-time costs (loading or compiling the kernels), not sampling time
            warm()
        self._warm_fill()
        t0 = time.perf_counter()
        win = self.windows_of(series, look_back, settings.target_form)
        auto = settings.auto_samples
        if auto is None:
            maes = self._group_maes(archs, win, settings, first_sample, settings.samples)
            share = (time.perf_counter() - t0) / len(archs)
            return [self._result(series, a, look_back, settings, win, maes[i], share, warn=warn)
                    for i, a in enumerate(archs)]
        parts: list[list[np.ndarray]] = [[] for _ in archs]
        done: dict[int, tuple[np.ndarray, str, float]] = {}
        seconds = [0.0] * len(archs)
        for start, count in auto.rounds():
            active = [i for i in range(len(archs)) if i not in done]
            if not active:
                break
            t1 = time.perf_counter()
            maes = self._group_maes([archs[i] for i in active], win, settings, start, count)
            share = (time.perf_counter() - t1) / len(active)
            for j, i in enumerate(active):
                parts[i].append(maes[j])
                seconds[i] += share
                so_far = np.concatenate(parts[i])
                status = stop_status(so_far, auto, threshold=settings.threshold, lower=settings.lower,
                                     upper=settings.upper)
                if status is not None:
                    done[i] = (so_far, status, seconds[i])
        return [self._result(series, a, look_back, settings, win, done[i][0], done[i][2], warn=warn,
                             status=done[i][1]) for i, a in enumerate(archs)]

    def _group_maes(self, archs: list[Architecture], win: Windows, settings: SamplingSettings, first_sample: int,
                    count: int) -> np.ndarray:
        """MAEs of samples ``first_sample .. first_sample + count - 1`` of architectures that share all layers but
        the last (seeding 2, Numba), shape (len(archs), count)."""
        from ..kernels import forward

        first = archs[0]
        rt = self.runtime_for(first, win.look_back)
        init = settings.weights
        S = count
        depth = first.depth
        chunk = max(1, min(S, min(self.chunk_for(a, win, S, rt) for a in archs)))  # every variant within budget
        for a in archs:
            self.check_memory(a, win, S, chunk, 1)
        maes = np.empty((len(archs), S), dtype=np.float64)
        n_shared = 3 * (depth - 1)
        shapes = first.weight_shapes(win.n_in, win.n_out)[:n_shared]
        shared_streams = weight_streams(first, settings.seeding)[:n_shared]
        for start in range(0, S, chunk):
            m = min(chunk, S - start)
            shared = [np.empty((m,) + sh, dtype=np.float32) for _, sh in shapes]
            if shared:
                self.fill_weights(first, shared, seed=settings.seed, first_sample=first_sample + start, init=init,
                                  n_in=win.n_in, streams=shared_streams)
            variants = []
            for a in archs:
                own = [np.empty((m,) + sh, dtype=np.float32)
                       for _, sh in a.weight_shapes(win.n_in, win.n_out)[n_shared:]]
                self.fill_weights(a, own, seed=settings.seed, first_sample=first_sample + start, init=init,
                                  n_in=win.n_in, streams=weight_streams(a, settings.seeding)[n_shared:])
                variants.append(own)
            limit_numba_threads(rt.threads)
            maes[:, start:start + m] = forward.forward_maes_group(
                win.X, win.y, shared, variants, cell=first.cell, activation=first.activation,
                recurrent_activation=first.recurrent_activation, head_activation=first.head_activation)
        return maes


def join_results(parts: list[SamplingResult], settings: SamplingSettings, status: str) -> SamplingResult:
    """One row's result from its consecutive pieces (samples ``0..a-1``, ``a..b-1``, ...; a race's rounds).

    The MAEs are concatenated and fitted again with ``settings``; ``seconds`` add up; the result
    carries ``status`` and ``settings.auto``.  Equal to sampling the row once with the pieces' total.
    """
    import dataclasses

    maes = np.concatenate([p.maes for p in parts])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the floor is reported through log_p_exact
        f = fit_truncnorm(maes, threshold=settings.threshold, lower=settings.lower, upper=settings.upper,
                          fit=settings.fit)
    return dataclasses.replace(
        parts[-1], maes=maes, samples=int(maes.size), mean=f.mean, sd=f.sd, loc=f.loc, scale=f.scale, p=f.p,
        log_p=f.log_p, log_p_exact=f.log_p_exact, n_nonfinite=f.n_nonfinite, n_outside=f.n_outside,
        seconds=sum(p.seconds for p in parts), setup_seconds=sum(p.setup_seconds for p in parts), status=status,
        auto=settings.auto)


def _outside_message(maes: np.ndarray, n_outside: int, arch: Architecture, settings: SamplingSettings) -> str:
    finite = maes[np.isfinite(maes)]
    above = int((finite > settings.upper).sum())
    how = ("kept in the moments fit, which the truncated normal does not describe" if settings.fit == "moments"
           else "left out of the mle fit and counted as not below the threshold")
    if above:
        top = float(finite.max())
        step = 1.0 if top < 1e5 else 10.0 ** (math.floor(math.log10(top)) - 1)  # 2 significant digits
        wider = math.ceil(top / step) * step
        fix = f"widen the bounds with a larger upper (upper={wider:g}, --upper {wider:g})"
    else:
        fix = "lower the lower bound (lower=, --lower)"
    return (f"{n_outside} of {maes.size} MAEs of {arch.label()} fall outside the truncation bounds "
            f"[{settings.lower:g}, {settings.upper:g}] ({how}); {fix}")


def sample(series, *, arch, look_back: int, samples: int = 100, threshold: float = 0.01, lower: float = 0.0,
           upper: float = 2.0, fit: str = "moments", seed=0, init="normal", preset: str | None = None,
           cell: str | None = None, activation: str | None = None, recurrent_activation: str | None = None,
           head_activation: str | None = None, input=None, target=None, scale: str = "none",
           target_form: str = "level", runtime: str = "auto", device: str = "cpu", threads: int | None = None,
           memory_budget: int = GiB) -> SamplingResult:
    """MAE random sampling of one architecture on one series.

    Parameters
    ----------
    series : array-like of shape (T,) or (T, k), DataFrame, :class:`~mae_ort.data.Series` or CSV path
    arch : Architecture, sequence of int or str
        The architecture, or the units of its hidden layers (``[31, 31]``, ``"31,31"``),
        completed by ``preset`` and the cell/activation overrides (default: Keras 3
        defaults, LSTM with ``sigmoid`` gates and a ``tanh`` head; ``preset='paper'``
        is the paper's Keras 2.1 model).
    look_back : int
        Window length LB >= 1.
    samples : int, 'auto', str or AutoSamples
        Number of random weight samples S >= 2 (the paper: 100), or ``"auto"``
        (``"auto:tol=0.3,max=200"``, an :class:`~mae_ort.sampling.auto.AutoSamples`): draw rounds
        until the 95 % intervals of ``log p`` and of the mean MAE are narrow enough
        (:mod:`mae_ort.sampling.auto`); ``SamplingResult.samples`` and ``status`` say how many
        were drawn and why it stopped.
    threshold, lower, upper : float
        ``p = P(MAE < threshold)`` under a normal truncated to ``[lower, upper]``;
        ``log_p`` is its natural logarithm.
    fit : {'moments', 'mle'}
        ``moments``: the reference implementation's fit; ``mle``: maximum likelihood.
    seed : int, None or numpy.random.Generator
        Every weight comes from this seed; the same seed gives the same MAEs whatever
        the runtime's threads and chunking.  ``None`` draws a fresh seed and a
        ``Generator`` gives one draw; either way ``SamplingResult.seed`` records it.
    init : str or Init
        Weight distribution (``"normal:0,1"``, the paper's, by default).
    input, target, scale
        Column choice and scaling, as :func:`mae_ort.data.prepare`.
    target_form : {'level', 'delta'}
        ``level`` (the paper's): the network forecasts the target's next value.  ``delta``: its
        output is added to the target's last observed value (a residual connection to persistence),
        also when the target is not among the inputs; the MAEs stay in the target's units.  With
        ``delta`` the head defaults to ``linear`` (a change goes both ways), and a head that cannot go
        below zero (``sigmoid``, ``hard_sigmoid``, ``relu``, ...) is refused.
    runtime, device, threads, memory_budget
        As :class:`Sampler`.

    Returns
    -------
    SamplingResult
        ``p``, ``log_p`` (natural logarithm), the MAEs and the fit.

    Raises
    ------
    MaeOrtError
        On any bad input, with a one-line message (also when the MAEs of ``samples``
        would not fit in the memory available).

    Warns
    -----
    NonFiniteWarning
        Some weight samples gave non-finite predictions.
    OutsideBoundsWarning
        Some MAEs fall outside ``[lower, upper]``.
    """
    s = Sampler(runtime=runtime, device=device, threads=threads, memory_budget=memory_budget)
    return s.sample(series, arch, look_back=look_back, samples=samples, threshold=threshold, lower=lower,
                    upper=upper, fit=fit, seed=seed, init=init, preset=preset, cell=cell, activation=activation,
                    recurrent_activation=recurrent_activation, head_activation=head_activation, input=input,
                    target=target, scale=scale, target_form=target_form)
