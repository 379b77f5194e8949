"""The one place that decides which runtime evaluates a shape, and builds it.

``auto`` means: onnxruntime on CUDA; on the CPU the fused Numba pass for layers up to
:data:`NUMBA_MAX_UNITS` units and onnxruntime above.  The measurements behind the
choice are in ``bench/RESULTS.md`` (every benchmark case was faster on Numba; its
per-window BLAS products lose efficiency on wide layers, which must shrink to stay
single-threaded).
"""

from __future__ import annotations

from .._checks import check_option
from ..errors import RuntimeUnavailableError
from ..model.architecture import Architecture
from .base import DEVICES, RUNTIMES, Runtime

__all__ = ["NUMBA_MAX_UNITS", "choose_runtime", "make_runtime"]

#: The widest layer that ``auto`` sends to the Numba runtime on the CPU.
NUMBA_MAX_UNITS = 128


def choose_runtime(arch: Architecture, look_back: int, *, runtime: str = "auto", device: str = "cpu") -> str:
    """The runtime name that evaluates ``arch`` at ``look_back``: ``"numba"`` or ``"onnxruntime"``.

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
    return "numba" if max(arch.units) <= NUMBA_MAX_UNITS else "onnxruntime"


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
