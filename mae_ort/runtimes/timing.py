"""The machine's measured runtime choice: which of the fused Numba kernel and onnxruntime is faster here.

Which runtime wins on the CPU depends on the machine, not only on the shape: on a 2-core AVX2 EPYC onnxruntime ran
``[31,31,31]`` at look-back 30 in 3.21 s against the fused kernel's 3.80 s, while on an AVX-512 machine the kernel
won (issue 30).  So ``choose_runtime``'s ``auto`` rule asks :func:`machine_choice`: a short timing of both runtimes
on that case (:data:`CASE`, the same seeded Normal(0, 1) weights for both, the best of :data:`REPEATS` runs after
a warm-up), made once per machine and cached as JSON beside the compiled kernels (Numba's cache folder of
``mae_ort.kernels``, :func:`choice_path`).  Later choices read the file: the rule is deterministic for a given
cache.  :func:`clear_choice` (``mae-ort runtime --clear``) removes it; the next ``auto`` choice measures again.
The environment variable :data:`ENV` names another file (the tests give a fixed one and time nothing).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np

from .._files import write_atomic
from ..data import prepare, sine, windows
from ..model.architecture import Architecture

__all__ = ["CASE", "ENV", "FILE", "REPEATS", "choice_path", "cached_choice", "machine_choice", "measure_choice",
           "clear_choice"]

#: The timed case: a three-layer LSTM of 31 units at look-back 30 on a 200-point sine, this many weight samples.
CASE = {"units": [31, 31, 31], "look_back": 30, "points": 200, "samples": 32}
#: Timed runs of each runtime (the best counts), after one warm-up run.
REPEATS = 3
#: The cache's file name, beside the compiled kernels.
FILE = "mae-ort-runtime-choice.json"
#: An environment variable naming the cache file instead (a test's fixed cache).
ENV = "MAE_ORT_RUNTIME_CHOICE"
_RUNTIMES = ("numba", "onnxruntime")


def choice_path() -> Path:
    """Where the measured choice is cached: ``$MAE_ORT_RUNTIME_CHOICE``, else :data:`FILE` in Numba's cache
    folder of the kernels (``kernels/__pycache__`` or ``NUMBA_CACHE_DIR``'s)."""
    if os.environ.get(ENV):
        return Path(os.environ[ENV])
    from ..kernels import forward

    for value in vars(forward).values():
        cache = getattr(value, "_cache", None)
        folder = getattr(cache, "_cache_path", None)
        if folder:
            return Path(folder) / FILE
    return Path(forward.__file__).parent / "__pycache__" / FILE  # pragma: no cover - another Numba's internals


def cached_choice() -> dict | None:
    """The cached measurement (``choice``, ``seconds`` per runtime, ``case``), or None when there is none (or
    the file is not a choice of this version)."""
    try:
        got = json.loads(choice_path().read_text())
    except (OSError, ValueError):
        return None
    return got if isinstance(got, dict) and got.get("choice") in _RUNTIMES and got.get("case") == CASE else None


def measure_choice(*, save: bool = True) -> dict:
    """Time both runtimes on :data:`CASE` (a few seconds once the kernels are compiled) and, with ``save``, cache
    the result.  Returns ``{"choice", "seconds": {runtime: best seconds}, "case"}``; the faster one is chosen."""
    from .choose import make_runtime

    arch = Architecture(units=tuple(CASE["units"]))
    win = windows(prepare(sine(CASE["points"]), name="sine"), CASE["look_back"])
    rng = np.random.default_rng(0)
    weights = [rng.standard_normal((CASE["samples"],) + shape).astype(np.float32)
               for _, shape in arch.weight_shapes(win.n_in, win.n_out)]
    seconds = {}
    for name in _RUNTIMES:
        rt = make_runtime(name)
        rt.maes(arch, win, weights)  # warm-up: sessions, kernels loaded
        best = float("inf")
        for _ in range(REPEATS):
            t0 = time.perf_counter()
            rt.maes(arch, win, weights)
            best = min(best, time.perf_counter() - t0)
        seconds[name] = best
    out = {"choice": min(_RUNTIMES, key=lambda n: seconds[n]), "seconds": seconds, "case": CASE}
    if save:
        path = choice_path()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            write_atomic(path, json.dumps(out, indent=1) + "\n")
        except OSError:  # a read-only install: measured again next time
            pass
    return out


def machine_choice() -> str:
    """The faster CPU runtime on this machine, ``"numba"`` or ``"onnxruntime"``: the cached choice, measured
    first when there is none."""
    got = cached_choice()
    if got is None:
        import fcntl

        path = choice_path()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            lock = open(f"{path}.lock", "w")
        except OSError:  # a read-only install: measured here, not cached
            return measure_choice(save=False)["choice"]
        with lock:  # one process measures; the others wait and read its result
            fcntl.flock(lock, fcntl.LOCK_EX)
            got = cached_choice() or measure_choice()
    return got["choice"]


def clear_choice() -> bool:
    """Remove the cached choice (the next ``auto`` choice measures again); True when there was one."""
    try:
        choice_path().unlink()
    except FileNotFoundError:
        return False
    return True
