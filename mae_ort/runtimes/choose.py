"""The one place that decides which runtime evaluates a shape, and builds it.

``auto`` means: onnxruntime on CUDA; on the CPU onnxruntime above :data:`NUMBA_MAX_UNITS` units
(the fused pass's per-window BLAS products lose efficiency on wide layers, which must shrink to
stay single-threaded: ``bench/RESULTS.md``) and, up to it, whichever of the fused Numba pass and
onnxruntime was faster on this machine: a short timing made once per machine and cached beside
the compiled kernels (:func:`mae_ort.runtimes.timing.machine_choice`; cleared by
:func:`mae_ort.runtimes.timing.clear_choice`), so the rule is deterministic for a given cache.

``first_call=True`` (the one-shot ``mae-ort sample``) adds one rule: when the Numba
kernels are not compiled yet (a fresh install: compiling them takes 15-20 s) the job
runs on onnxruntime, which needs no compilation; the caller then compiles the kernels
for the next run in the background (:func:`mae_ort.runtimes.fused.compile_in_background`).
"""

from __future__ import annotations

from .._checks import check_option
from ..errors import RuntimeUnavailableError
from ..model.architecture import Architecture
from .base import DEVICES, RUNTIMES, Runtime

__all__ = ["NUMBA_MAX_UNITS", "choose_runtime", "make_runtime", "numba_compiled"]

#: The widest layer that ``auto`` sends to the Numba runtime on the CPU.
NUMBA_MAX_UNITS = 128


def choose_runtime(arch: Architecture, look_back: int, *, runtime: str = "auto", device: str = "cpu",
                   first_call: bool = False) -> str:
    """The runtime name that evaluates ``arch`` at ``look_back``: ``"numba"`` or ``"onnxruntime"``.

    ``first_call=True``: ``auto`` picks onnxruntime instead of a Numba runtime whose kernels
    are not compiled yet (:func:`numba_compiled`), for one call that should not wait for the
    compiler.

    Raises
    ------
    RuntimeUnavailableError
        ``runtime='numba'`` with ``device='cuda'``.
    """
    runtime = check_option(runtime, "runtime", "Sampler", RUNTIMES)
    device = check_option(device, "device", "Sampler", DEVICES)
    if runtime == "numba" and device == "cuda":
        raise RuntimeUnavailableError("runtime='numba' runs on the CPU only; use runtime='onnxruntime' with "
                                      "device='cuda'")
    if runtime != "auto":
        return runtime
    if device == "cuda":
        return "onnxruntime"
    if max(arch.units) > NUMBA_MAX_UNITS:
        return "onnxruntime"
    if first_call and not numba_compiled():
        return "onnxruntime"
    from .timing import machine_choice

    return machine_choice()


def numba_compiled() -> bool:
    """Whether the Numba kernels load without compiling (from this process or Numba's disk cache)."""
    from .. import kernels

    return kernels.compiled()


def make_runtime(name: str, *, device: str = "cpu", threads: int | None = None) -> Runtime:
    """A new runtime object of a resolved name (``"numba"`` or ``"onnxruntime"``)."""
    name = check_option(name, "runtime", "Sampler", RUNTIMES[1:])
    if name == "numba":
        if device == "cuda":
            raise RuntimeUnavailableError("runtime='numba' runs on the CPU only; use runtime='onnxruntime' with "
                                          "device='cuda'")
        from .fused import NumbaRuntime

        return NumbaRuntime(threads=threads)
    from .ort import OrtRuntime

    return OrtRuntime(device=device, threads=threads)
