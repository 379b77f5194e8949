"""What a runtime is: the :class:`Runtime` protocol that the sampler calls.

A runtime turns a batch of weight samples into MAEs: it takes the windows and the
weights as a list of float32 arrays of shape ``(S, *shape)`` in the order of
:meth:`mae_ort.model.Architecture.weight_shapes` and returns the MAEs as a float64
array of shape ``(S,)`` (and the predictions when asked).
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np

from ..data import Windows
from ..model.architecture import Architecture

__all__ = ["RUNTIMES", "DEVICES", "Runtime"]

#: Runtime names a user may ask for (``auto`` is resolved by :func:`mae_ort.runtimes.choose.choose_runtime`).
RUNTIMES = ("auto", "onnxruntime", "numba")

#: Devices.
DEVICES = ("cpu", "cuda")


@runtime_checkable
class Runtime(Protocol):
    """The interface of a runtime (``OrtRuntime``, ``NumbaRuntime``).

    Attributes
    ----------
    name : str
        ``"onnxruntime"`` or ``"numba"``.
    device : str
        Where it runs now (``"cpu"`` after a CUDA fallback).
    threads : int
        Threads it may use.
    setup_seconds : float
        One-time costs paid so far (graph export, session creation).
    sessions_created : int
        Sessions (graphs) opened so far.
    preferred_chunk : int
        Weight samples per :meth:`maes` call that suit it.
    parallel_runs : int
        How many :meth:`maes` calls the sampler may run at once on threads.
    """

    name: str
    device: str
    threads: int
    setup_seconds: float
    sessions_created: int

    @property
    def preferred_chunk(self) -> int: ...

    @property
    def parallel_runs(self) -> int: ...

    def warmup(self) -> None:
        """Pay the one-time costs that do not depend on a shape now (timed in ``setup_seconds``)."""
        ...

    def maes(self, arch: Architecture, win: Windows, weights: list[np.ndarray], *,
             predictions: bool = False) -> tuple[np.ndarray, np.ndarray | None]:
        """MAEs of shape (S,) float64, and predictions (S, N, n_out) float32 when asked (else None)."""
        ...

    def maes_hidden(self, arch: Architecture, win: Windows,
                    weights: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """MAEs (S,) float64 and the last layer's hidden state at the last step of every window
        (S, N, H_last) float32, from the same pass (the echo-state readout's features)."""
        ...
