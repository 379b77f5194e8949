"""MAE random sampling of your own forecaster, an ONNX file (PyTorch, Keras, JAX exports).

:func:`own_model` reads and checks the file (:mod:`mae_ort.model.onnx_model`: one data input
of windows, one value per window out, every float initializer lifted to a graph input) and
opens it once on onnxruntime, so a model onnxruntime cannot run is refused at once.
:func:`sample_own` (or :class:`OwnSampler`) then samples it like a built-in architecture:
the same :class:`~mae_ort.sampling.settings.SamplingSettings`, the same statistics
(:func:`~mae_ort.sampling.stats.fit_truncnorm`) in a :class:`~mae_ort.sampling.sampler.SamplingResult`,
and with a feature tensor the readout scores ``readout`` and ``readout_window`` (:mod:`mae_ort.sampling.readout`).

How a seed becomes weights: weight tensor ``t`` (by its name) of sample ``s`` is filled by
the counter-based generator of :mod:`mae_ort.kernels.random` keyed by ``(seed, s,
hash64("mae-ort-own|" + name))``, in float32 (cast to the tensor's type); so the same seed
gives the same weights whatever the chunking or threads, and two files whose tensors share
a name and shape share those weights.  The distribution is ``init`` (``normal:0,1`` by default,
the paper's; ``uniform:a,b``); ``scale="file"`` multiplies its spread by each tensor's own
standard deviation in the file (Normal(loc, scale * std_t), Uniform(a * std_t, b * std_t)),
keeping each tensor's init scale; tensors named in ``frozen`` keep the file's values.
"""

from __future__ import annotations

import time
import warnings

import numpy as np

from .._checks import check_int, check_option, resolve_seed
from .._system import limit_numba_threads
from ..data import Series, Windows, prepare, windows
from ..errors import DataError, InvalidParameterError, NonFiniteWarning, OnnxModelError
from ..model.keys import hash64
from ..model.onnx_model import OnnxModel, read_model
from ..runtimes.own import OwnRuntime, arrange_windows
from .auto import stop_status
from .readout import PASS_SCORES, fit_windows, median_score, pass_readouts
from .sampler import GiB, OutsideBoundsWarning, SamplingResult, _outside_message
from .settings import Init, SamplingSettings
from .stats import fit_truncnorm

__all__ = ["SCALES", "OwnSampler", "own_model", "sample_own", "own_streams"]

#: Per-tensor scales: ``fixed`` (every tensor from ``init`` as it is) or ``file`` (its spread times the tensor's
#: standard deviation in the file).
SCALES = ("fixed", "file")


def own_streams(model: OnnxModel) -> list[int]:
    """The random stream of each weight tensor (file order): ``hash64("mae-ort-own|" + name)``."""
    return [hash64(f"mae-ort-own|{w.name}") for w in model.weights]


def own_model(model, *, input: str | None = None, layout: str = "NTF", output: str | None = None,
              feature: str | None = None, name: str | None = None) -> OnnxModel:
    """Read an ONNX forecaster for sampling, and check that onnxruntime runs it.

    Parameters
    ----------
    model : str, Path, bytes or onnx.ModelProto
        The forecaster: one data input of windows and one output of one value per window.
    input, layout, output, feature, name
        As :func:`mae_ort.model.onnx_model.read_model`: the data input's name and axis order
        (``NTF`` = [windows, look_back, features], ``TNF`` time-major, ``NFT`` channels-first), the
        output's name, a tensor whose values per window give the readout score, the name in results.

    Returns
    -------
    OnnxModel
        With ``weights`` (every lifted tensor's name, shape and file std) and ``n_weights``.

    Raises
    ------
    OnnxModelError
        The file does not fit (see :func:`~mae_ort.model.onnx_model.read_model`) or onnxruntime cannot run it.

    Examples
    --------
    >>> m = mae_ort.own_model("forecaster.onnx")                              # doctest: +SKIP
    >>> r = mae_ort.sample_own(m, mae_ort.sine(), look_back=10, seed=0)       # doctest: +SKIP
    """
    m = read_model(model, input=input, layout=layout, output=output, feature=feature, name=name)
    OwnRuntime(threads=1).session(m)  # an opset or operator onnxruntime cannot run: refused here
    return m


def _frozen(model: OnnxModel, frozen) -> tuple[str, ...]:
    if frozen is None:
        return ()
    if isinstance(frozen, str):
        frozen = [f.strip() for f in frozen.split(",") if f.strip()]
    names = model.weight_names
    out = []
    for f in frozen:
        if f not in names:
            raise OnnxModelError(f"{model.name} has no weight tensor {f!r} to freeze; its weight tensors are "
                                 f"{', '.join(names[:12])}{' ...' if len(names) > 12 else ''}")
        out.append(str(f))
    return tuple(sorted(set(out)))


class OwnSampler:
    """MAE random sampling of own models; keeps sessions across calls.

    Parameters
    ----------
    device : {'cpu', 'cuda'}
    threads : int, optional
        Runs side by side (default: all cores).
    memory_budget : int
        Bytes that one chunk of weight samples (and their features) may use.
    """

    def __init__(self, *, device: str = "cpu", threads: int | None = None, memory_budget: int = GiB) -> None:
        self.runtime = OwnRuntime(device=device, threads=threads)
        self.memory_budget = check_int(memory_budget, "memory_budget", "OwnSampler", low=1)

    @property
    def setup_seconds(self) -> float:
        """Seconds spent opening sessions so far."""
        return self.runtime.setup_seconds

    def weights(self, model: OnnxModel, *, samples: int, seed: int = 0, init="normal", scale: str = "fixed",
                frozen=(), first_sample: int = 0) -> list[np.ndarray]:
        """The weights of samples ``first_sample ..`` as drawn (file order; (samples, *shape), a frozen tensor
        its file values without a sample axis); see the module docstring."""
        init = Init.parse(init)
        if init.kind == "glorot":
            raise InvalidParameterError("init='glorot' needs Keras layer shapes; own models take 'normal:LOC,SCALE' "
                                        "or 'uniform:LOW,HIGH' (with scale='file' for each tensor's own scale)")
        scale = check_option(scale, "scale", "sample_own", SCALES)
        frozen = set(_frozen(model, frozen))
        from ..kernels import random as krandom

        limit_numba_threads(self.runtime.threads)
        out = []
        for w, stream in zip(model.weights, own_streams(model)):
            if w.name in frozen:
                out.append(model.values[w.name])
                continue
            buf = np.empty((samples,) + w.shape, dtype=np.float32)
            k = w.std if scale == "file" else 1.0
            if init.kind == "normal":
                a, b = init.a, init.b * k
            else:
                a, b = init.a * k, init.b * k
            krandom.fill(buf, seed=seed, first_sample=first_sample, stream=stream, dist=init.kind, a=a, b=b)
            out.append(buf if w.dtype == "float32" else buf.astype(w.dtype))
        return out

    def maes(self, model: OnnxModel, win: Windows, weights: list[np.ndarray], *, readout: bool = False):
        """MAEs (S,) float64 of given weight samples (as :meth:`weights` returns them), and with ``readout`` each
        sample's readout MAEs on the feature tensor by name (:func:`~mae_ort.sampling.readout.pass_readouts`;
        else None)."""
        _fits(model, win)
        X = arrange_windows(model, win.X)
        pred, feats = self.runtime.run(model, X, weights, feature=readout)
        with np.errstate(all="ignore"):
            maes = np.abs(pred - win.y[:, 0].astype(np.float64)[None, :]).mean(axis=1)
        maes[~np.isfinite(maes)] = np.inf
        return maes, (pass_readouts(feats, win.X, win.y) if readout else None)

    def check(self, model: OnnxModel, win: Windows) -> None:
        """Run ``model`` once with the file's weights on ``win``: a model whose output (or feature tensor) does not
        fit the windows is refused before any sampling (:class:`~mae_ort.errors.OnnxModelError`)."""
        self.maes(model, win, [model.values[n] for n in model.weight_names], readout=False)
        if model.feature is not None:
            X = arrange_windows(model, win.X)
            self.runtime.run(model, X, [model.values[n] for n in model.weight_names], feature=True)

    def chunk(self, model: OnnxModel, win: Windows, samples: int) -> int:
        """Samples per chunk: their weights (and features) within the memory budget."""
        per = 4 * model.n_weights + 8 * win.n * (64 + win.X[0].size)
        return max(1, min(samples, self.memory_budget // max(1, per), 4096))

    def draw_maes(self, model: OnnxModel, win: Windows, settings: SamplingSettings, *, count: int, first: int,
                  scale: str, frozen, readout: bool, progress=None, offset: int = 0, total: int | None = None):
        """MAEs (and readout MAEs) of samples ``first .. first + count - 1``, in chunks."""
        maes = np.empty(count, dtype=np.float64)
        ro = {n: np.empty(count, dtype=np.float64) for n in PASS_SCORES} if readout else None
        step = self.chunk(model, win, count)
        for start in range(0, count, step):
            m = min(step, count - start)
            w = self.weights(model, samples=m, seed=settings.seed, init=settings.init, scale=scale, frozen=frozen,
                             first_sample=first + start)
            part, rpart = self.maes(model, win, w, readout=readout)
            maes[start:start + m] = part
            if readout:
                for n in PASS_SCORES:
                    ro[n][start:start + m] = rpart[n]
            if progress is not None:
                progress(offset + start + m, total or count)
        return maes, ro

    def run(self, model: OnnxModel, series: Series, look_back: int, settings: SamplingSettings, *,
            scale: str = "fixed", frozen=(), progress=None, warn: bool = True) -> SamplingResult:
        """Sample ``model`` on a prepared series with checked settings (``samples="auto"`` in rounds)."""
        t0 = time.perf_counter()
        setup0 = self.setup_seconds
        frozen = _frozen(model, frozen)
        scale = check_option(scale, "scale", "sample_own", SCALES)
        win = windows(series, look_back, target_form=settings.target_form, caller="sample_own")
        readout = model.feature is not None
        if readout:
            fit_windows(win.n)
        self.check(model, win)
        auto = settings.auto_samples
        if auto is None:
            maes, ro = self.draw_maes(model, win, settings, count=settings.samples, first=0, scale=scale,
                                      frozen=frozen, readout=readout, progress=progress)
            status = "fixed"
        else:
            parts, rparts = [], []
            for first, count in auto.rounds():
                part, rpart = self.draw_maes(model, win, settings, count=count, first=first, scale=scale,
                                             frozen=frozen, readout=readout, progress=progress, offset=first,
                                             total=auto.maximum)
                parts.append(part)
                rparts.append(rpart)
                maes = np.concatenate(parts)
                status = stop_status(maes, auto, threshold=settings.threshold, lower=settings.lower,
                                     upper=settings.upper)
                if status is not None:
                    break
            ro = {n: np.concatenate([rp[n] for rp in rparts]) for n in PASS_SCORES} if readout else None
        key = model.key(scale=scale, frozen=frozen)
        bad = int((~np.isfinite(maes)).sum())
        if bad and warn:
            warnings.warn(f"{bad} of {maes.size} weight samples of {model.name} gave non-finite predictions; they "
                          "count as MAE >= threshold and are left out of the fit", NonFiniteWarning, stacklevel=3)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            f = fit_truncnorm(maes, threshold=settings.threshold, lower=settings.lower, upper=settings.upper,
                              fit=settings.fit)
        if f.n_outside and warn:
            warnings.warn(_outside_message(maes, f.n_outside, key, settings), OutsideBoundsWarning, stacklevel=3)
        r = SamplingResult(
            arch=key, look_back=int(look_back), samples=int(maes.size), seed=settings.seed,
            threshold=settings.threshold, lower=settings.lower, upper=settings.upper, fit=settings.fit,
            init=settings.init, maes=maes, mean=f.mean, sd=f.sd, loc=f.loc, scale=f.scale, p=f.p, log_p=f.log_p,
            log_p_exact=f.log_p_exact, n_nonfinite=f.n_nonfinite, n_outside=f.n_outside,
            seconds=time.perf_counter() - t0, runtime=self.runtime.name, device=self.runtime.device,
            series=series.name, windows=win.n, seeding=settings.seeding, status=status, auto=settings.auto,
            target_form=settings.target_form,
            extra={"model_file": model.name, "n_weights": model.n_weights, "digest": model.digest,
                   "options": model.options_text(scale=scale, frozen=frozen)},
        )
        if readout:
            r.scores.update({n: median_score(v) for n, v in ro.items()})
        r.setup_seconds = self.setup_seconds - setup0
        return r


def look_back_of(model: OnnxModel, look_back, caller: str) -> int:
    """The look-back to sample at: the model's fixed time axis, or ``look_back`` (which must agree with it)."""
    if look_back is None:
        if model.look_back is None:
            raise InvalidParameterError(f"{model.name} has a dynamic time axis: give look_back (--look-back)")
        return model.look_back
    look_back = check_int(look_back, "look_back", caller, low=1)
    if model.look_back is not None and look_back != model.look_back:
        raise OnnxModelError(f"{model.name} takes windows of {model.look_back} time steps; got look_back={look_back}")
    return look_back


def _fits(model: OnnxModel, win: Windows) -> None:
    if win.n_out != 1:
        raise DataError(f"{model.name} predicts one value per window; the series has {win.n_out} target columns: "
                        "choose one with target=")
    if model.n_features is not None and model.n_features != win.n_in:
        raise OnnxModelError(f"{model.name} takes {model.n_features} feature(s) per time step; the series has "
                             f"{win.n_in} input column(s)")


def sample_own(model, series, *, look_back: int | None = None, samples=100, threshold: float = 0.01,
               lower: float = 0.0, upper: float = 2.0, fit: str = "moments", seed=0, init="normal",
               scale: str = "fixed", frozen=(), input=None, target=None, scale_series: str = "none",
               device: str = "cpu", threads: int | None = None, memory_budget: int = GiB,
               progress=None, target_form: str = "level") -> SamplingResult:
    """MAE random sampling of an own ONNX forecaster on one series.

    Parameters
    ----------
    model : OnnxModel, str, Path, bytes or onnx.ModelProto
        From :func:`own_model`, or a file read with its defaults.
    series
        As :func:`mae_ort.sample` (array, DataFrame, Series or CSV path); one target column.
    look_back : int, optional
        Window length (default: the model's fixed time axis).
    samples, threshold, lower, upper, fit, seed, init
        As :func:`mae_ort.sample` (``init`` ``normal:LOC,SCALE`` or ``uniform:LOW,HIGH``).
    scale : {'fixed', 'file'}
        ``file``: each tensor's spread times its standard deviation in the file.
    frozen : sequence of str or str
        Weight tensors kept at the file's values (e.g. a normalisation layer's).
    input, target, scale_series
        Column choice and scaling of the series (:func:`mae_ort.data.prepare`'s ``scale``).
    device, threads, memory_budget
        As :class:`OwnSampler`.
    progress : callable, optional
        ``progress(done, total)`` after each chunk of samples.
    target_form : {'level', 'delta'}
        As :func:`mae_ort.sample`: with ``delta`` the model's output is added to the target's last
        value (so its output should be able to go below zero).

    Returns
    -------
    SamplingResult
        Its ``arch`` is the model's :class:`~mae_ort.model.onnx_model.OwnModelKey`; with a feature tensor,
        ``scores["readout"]`` and ``scores["readout_window"]`` (the feature tensor beside the window).
    """
    caller = "sample_own"
    if not isinstance(model, OnnxModel):
        model = own_model(model)
    look_back = look_back_of(model, look_back, caller)
    settings = SamplingSettings.checked(caller, samples=samples, threshold=threshold, lower=lower, upper=upper,
                                        fit=fit, init=Init.parse(init), seed=resolve_seed(seed, "seed", caller),
                                        target_form=target_form)
    series = prepare(series, input=input, target=target, scale=scale_series)
    s = OwnSampler(device=device, threads=threads, memory_budget=memory_budget)
    return s.run(model, series, look_back, settings, scale=scale, frozen=frozen, progress=progress)
