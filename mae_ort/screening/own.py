"""Screening own ONNX models: every file of a folder or glob sampled into the results store (resumable).

:func:`screen_own` reads and checks every model first (a bad file is refused before anything
is sampled or stored), then samples each model the store does not hold yet for these
settings, in this process, and stores its row as soon as it is done: rows are keyed by the
file's content hash and the options (:class:`~mae_ort.model.onnx_model.OwnModelKey`) under the
usual :class:`~mae_ort.results.store.Settings`, so ``mae-ort rank`` and ``plot`` read them beside
built-in rows and a rerun resumes.  The file's name, its number of weights and its weight
tensors go to the store's ``own_models`` table.
"""

from __future__ import annotations

import glob
import time
from pathlib import Path

from .._checks import resolve_seed
from .._progress import as_progress
from ..data import prepare, sine, windows
from ..errors import OnnxModelError
from ..model.keys import row_key
from ..model.onnx_model import OnnxModel
from ..results.store import Settings, open_store
from ..sampling.own import OwnSampler, look_back_of, own_model
from ..sampling.sampler import GiB, Init
from ..sampling.settings import SamplingSettings

__all__ = ["screen_own", "model_paths"]


def model_paths(where) -> list[Path]:
    """The ONNX files that ``where`` names: a file, a folder (its ``*.onnx``), a glob, or a list of these.

    Raises
    ------
    OnnxModelError
        Nothing found.
    """
    items = [where] if isinstance(where, (str, Path)) else list(where)
    out: list[Path] = []
    for item in items:
        p = Path(item).expanduser()
        if p.is_dir():
            found = sorted(p.glob("*.onnx"))
            if not found:
                raise OnnxModelError(f"the folder {str(p)!r} holds no .onnx files")
        elif p.exists():
            found = [p]
        else:
            found = sorted(Path(f) for f in glob.glob(str(p)))
            if not found:
                raise OnnxModelError(f"no ONNX file at {str(p)!r} (nor any file matching it)")
        out += [f for f in found if f not in out]
    return out


def screen_own(models, series=None, *, store=None, look_back=None, samples=100,
               threshold: float = 0.01, lower: float = 0.0, upper: float = 2.0, fit: str = "moments", init="normal",
               seed: int = 0, scale: str = "fixed", frozen=(), input=None, layout: str = "NTF", output=None,
               feature=None, device: str = "cpu", threads: int | None = None, memory_budget: int = GiB,
               progress=False, target_form: str = "level"):
    """Sample every own model that the store does not hold yet; return their rows.

    Parameters
    ----------
    models : OnnxModel, path, folder, glob, or a list of these
        The forecasters (files are read with ``input``, ``layout``, ``output`` and ``feature``,
        see :func:`mae_ort.own_model`).
    series
        The data (default: the paper's sine).
    store : None, str, Path or Store
        Where rows live (default: a new in-memory store).
    look_back : int or list of int, optional
        Window length(s) (default: each model's fixed time axis); a list samples each model at each.
    samples, threshold, lower, upper, fit, init, seed, scale, frozen
        As :func:`mae_ort.sample_own`; ``frozen`` names that a model lacks are ignored for it (a name no model has
        is refused).
    device, threads, memory_budget
        As :class:`~mae_ort.sampling.own.OwnSampler`.
    progress : bool or callable
        ``progress(done, total)`` after each model.
    target_form : {'level', 'delta'}
        As :func:`mae_ort.sample_own` (part of the stored settings).

    Returns
    -------
    pandas.DataFrame
        The rows of these models (the store's :meth:`~mae_ort.results.store.SQLiteStore.frame` columns, with
        ``model_file`` and ``n_weights``); ``attrs`` ``settings_id``, ``new_rows`` and ``seconds``.
    """
    caller = "screen_own"
    t0 = time.perf_counter()
    if isinstance(models, OnnxModel):
        models = [models]
    if isinstance(models, (list, tuple)) and models and all(isinstance(m, OnnxModel) for m in models):
        ms = list(models)
    else:
        ms = [own_model(p, input=input, layout=layout, output=output, feature=feature) for p in model_paths(models)]
    lbs = look_back if isinstance(look_back, (list, tuple, range)) else [look_back]
    loaded = [(m, look_back_of(m, lb, caller)) for m in ms for lb in lbs]
    settings = SamplingSettings.checked(caller, samples=samples, threshold=threshold, lower=lower, upper=upper,
                                        fit=fit, init=Init.parse(init), seed=resolve_seed(seed, "seed", caller),
                                        target_form=target_form)
    series = prepare(sine() if series is None else series, name="sine" if series is None else None)
    frozen = [frozen] if isinstance(frozen, str) else list(frozen or ())
    frozen = [f.strip() for item in frozen for f in str(item).split(",") if f.strip()]
    unknown = [f for f in frozen if not any(f in m.weight_names for m, _ in loaded)]
    if unknown:
        raise OnnxModelError(f"no model has a weight tensor {unknown[0]!r} to freeze (of {len(ms)} model(s); "
                             f"{ms[0].name}'s are {', '.join(ms[0].weight_names[:8])})")
    sampler = OwnSampler(device=device, threads=threads, memory_budget=memory_budget)
    for m, lb in loaded:  # every model runs on these windows before anything is stored
        sampler.check(m, windows(series, lb, target_form=settings.target_form, caller=caller))
    st = open_store(store)
    report = as_progress(progress, description="screen onnx", unit="models", caller=caller)
    sid = st.add_settings(Settings.of(series, settings))
    done = st.done_keys(sid)
    keys, new = [], 0
    for i, (m, lb) in enumerate(loaded):
        mine = [f for f in frozen if f in m.weight_names]
        key = m.key(scale=scale, frozen=mine)
        keys.append(row_key(key, lb))
        st.add_own_models([{"digest": m.digest, "options": key.options, "file": m.name, "n_weights": m.n_weights,
                            "tensors": [[w.name, list(w.shape)] for w in m.weights],
                            "settings": m.options_text(scale=scale, frozen=mine)}])
        if keys[-1] not in done:
            r = sampler.run(m, series, lb, settings, scale=scale, frozen=mine)
            new += st.add_results(sid, [r])
            done.add(keys[-1])
        if report is not None:
            report(i + 1, len(loaded))
    df = st.frame(sid)
    want = set(keys)
    cols = ["cell", "activation", "recurrent_activation", "head_activation", "units", "look_back"]
    df = df[[tuple(r) in want for r in df[cols].itertuples(index=False)]].reset_index(drop=True)
    df.attrs.update(settings_id=sid, new_rows=new, seconds=time.perf_counter() - t0)
    return df
