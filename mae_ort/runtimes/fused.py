"""The fused Numba CPU forward pass (:func:`mae_ort.kernels.forward.forward_maes`) as a runtime."""

from __future__ import annotations

import numpy as np

from .._checks import check_int
from .._system import default_threads, limit_numba_threads, once_per_process
from ..data import Windows
from ..model.architecture import Architecture

__all__ = ["NumbaRuntime", "compile_in_background"]


class NumbaRuntime:
    """The fused Numba CPU forward pass (:func:`mae_ort.kernels.forward.forward_maes`)."""

    name = "numba"
    device = "cpu"

    def __init__(self, *, threads: int | None = None) -> None:
        self.threads = default_threads() if threads is None else check_int(threads, "threads", "NumbaRuntime", low=1)
        self.setup_seconds = 0.0
        self.sessions_created = 0

    def warmup(self) -> None:
        """Load the compiled kernels (from Numba's disk cache, or compile them on a first run) once per
        process; the seconds count as this runtime's one-time cost (``setup_seconds``), not as sampling."""
        from ..kernels import forward

        self.setup_seconds += once_per_process("numba-forward", forward.warmup)

    def warmup_group(self) -> None:
        """Load (or compile) the shared-prefix kernel of a sweep (:func:`mae_ort.kernels.forward.forward_maes_group`)
        once per process, as a one-time cost (``setup_seconds``)."""
        from ..kernels import forward

        self.warmup()
        self.setup_seconds += once_per_process("numba-forward-group", forward.warmup_group)

    @property
    def preferred_chunk(self) -> int:
        """Samples per call (the kernel splits them over its threads)."""
        return 64

    @property
    def parallel_runs(self) -> int:
        """One call at a time: the kernel itself is parallel."""
        return 1

    def maes(self, arch: Architecture, win: Windows, weights: list[np.ndarray], *, predictions: bool = False):
        """MAEs (S,) float64, and predictions (S, N, n_out) float32 when asked (else None)."""
        from ..kernels import forward

        self.warmup()
        limit_numba_threads(self.threads)
        out = forward.forward_maes(
            win.X, win.y, weights, cell=arch.cell, activation=arch.activation,
            recurrent_activation=arch.recurrent_activation, head_activation=arch.head_activation,
            predictions=predictions,
        )
        if predictions:
            return np.asarray(out[0], dtype=np.float64), out[1]
        return np.asarray(out, dtype=np.float64), None


    def maes_hidden(self, arch: Architecture, win: Windows, weights: list[np.ndarray]):
        """MAEs (S,) float64 and the last layer's final hidden states (S, N, H_last) float32, from one pass."""
        from ..kernels import forward

        self.warmup()
        limit_numba_threads(self.threads)
        maes, h = forward.forward_maes(
            win.X, win.y, weights, cell=arch.cell, activation=arch.activation,
            recurrent_activation=arch.recurrent_activation, head_activation=arch.head_activation, hidden=True,
        )
        return np.asarray(maes, dtype=np.float64), h


def compile_in_background() -> int | None:
    """Start a detached, low-priority process that compiles the Numba kernels into Numba's disk cache
    (``NUMBA_CACHE_DIR`` and the source tree as this process sees them); return its pid.

    It outlives the caller and does nothing when another one is already compiling (a lock
    file in the temporary directory).  None when no process could be started.
    """
    import os
    import subprocess
    import sys

    try:
        proc = subprocess.Popen([sys.executable, "-c", "from mae_ort.runtimes.fused import _compile_main; "
                                 "_compile_main()"], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, start_new_session=True, cwd=os.getcwd())
    except OSError:  # pragma: no cover - no process could be started (or no working directory)
        return None
    return proc.pid


def _compile_main() -> None:
    """The body of :func:`compile_in_background`'s process: one compiler at a time, at low priority."""
    import fcntl
    import os
    import tempfile

    try:
        os.nice(10)
    except OSError:  # pragma: no cover
        pass
    uid = os.getuid() if hasattr(os, "getuid") else 0
    with open(os.path.join(tempfile.gettempdir(), f"mae-ort-numba-compile-{uid}.lock"), "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return  # another process compiles them
        from .. import kernels

        kernels.warmup()
