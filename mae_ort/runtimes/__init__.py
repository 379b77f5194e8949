"""Runtimes: the ONNX exporter, onnxruntime and the fused Numba pass behind one protocol.

Holds the :class:`~.base.Runtime` protocol, :func:`~.choose.choose_runtime` (the whole
``auto`` policy, in one place), the ONNX graph builder and its cache
(:mod:`.export`), onnxruntime sessions on the CPU or CUDA (:mod:`.ort`) and the
Numba runtime (:mod:`.fused`) that calls :mod:`mae_ort.kernels`, and the sessions of own ONNX models (:mod:`.own`).

Must not import: sampling, results, screening, study, cli.
"""

from .base import DEVICES, RUNTIMES, Runtime
from .choose import choose_runtime, make_runtime

__all__ = ["DEVICES", "RUNTIMES", "Runtime", "choose_runtime", "make_runtime"]
