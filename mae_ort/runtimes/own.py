"""onnxruntime for own models (:mod:`mae_ort.model.onnx_model`): one weight set per run, all windows at once.

An own graph has no sample axis, so each weight sample is one run over every window;
on the CPU several single-threaded runs go side by side on threads (onnxruntime releases
the GIL), as :class:`~mae_ort.runtimes.ort.OrtRuntime` does with its chunks.
"""

from __future__ import annotations

import threading
import time
import warnings

import numpy as np

from .._checks import check_int, check_option
from .._system import default_threads
from ..errors import FallbackWarning, OnnxModelError
from ..model.onnx_model import OnnxModel
from .base import DEVICES

__all__ = ["OwnRuntime", "arrange_windows"]

_OPENING = threading.Lock()


def arrange_windows(model: OnnxModel, X: np.ndarray) -> np.ndarray:
    """Windows (N, LB, n_in) in the model's axis order and input dtype, contiguous."""
    order = {"NTF": (0, 1, 2), "TNF": (1, 0, 2), "NFT": (0, 2, 1)}[model.layout]
    return np.ascontiguousarray(np.transpose(X, order), dtype=model.input_dtype)


def _ort_message(e: BaseException) -> str:
    """onnxruntime's error text without its source location and C++ signature, on one line, at most 300 characters."""
    import re

    text = " ".join(str(e).split())
    text = re.sub(r"^\[ONNXRuntimeError\] : \d+ : \w+ : ", "", text)
    text = re.sub(r"/\S+\.(?:h|cc|cpp):\d+ .*?\) ", "", text)  # "/onnxruntime_src/...h:46 void f(...) "
    m = re.search(r"Opset \d+ is under development.*?(Current official support for domain \S+ is till opset \d+)",
                  text)
    if m:
        text = f"its opset is newer than this onnxruntime supports ({m.group(1)})"
    return text[:300]


class OwnRuntime:
    """onnxruntime sessions of own models, on the CPU (default) or with CUDA.

    Parameters
    ----------
    device : {'cpu', 'cuda'}
        ``'cuda'`` uses onnxruntime's CUDA provider where present; without one it warns
        (:class:`~mae_ort.errors.FallbackWarning`) and runs on the CPU.
    threads : int, optional
        Runs side by side on the CPU (each single-threaded); default all cores.
    """

    name = "onnxruntime"

    def __init__(self, *, device: str = "cpu", threads: int | None = None) -> None:
        self.device = check_option(device, "device", "OwnRuntime", DEVICES)
        self.threads = default_threads() if threads is None else check_int(threads, "threads", "OwnRuntime", low=1)
        self._sessions: dict[tuple, object] = {}
        self.setup_seconds = 0.0
        if self.device == "cuda":
            import onnxruntime as ort

            if "CUDAExecutionProvider" not in ort.get_available_providers():
                warnings.warn("device='cuda' was requested but this onnxruntime has no CUDA provider (install "
                              "onnxruntime-gpu in place of onnxruntime); running on the CPU", FallbackWarning,
                              stacklevel=3)
                self.device = "cpu"

    def __getstate__(self):
        state = self.__dict__.copy()
        state["_sessions"] = {}
        return state

    @property
    def parallel_runs(self) -> int:
        """Runs in flight at once (CPU: one single-threaded run per thread; CUDA: one)."""
        return self.threads if self.device == "cpu" else 1

    def session(self, model: OnnxModel):
        """The open session of ``model`` (opened once).

        Raises
        ------
        OnnxModelError
            onnxruntime cannot run the model (an opset or operator it does not know, a broken graph).
        """
        key = (model.digest, hash(model.graph_bytes))
        sess = self._sessions.get(key)
        if sess is not None:
            return sess
        with _OPENING:
            sess = self._sessions.get(key)
            if sess is None:
                sess = self._sessions[key] = self._open(model)
        return sess

    def _open(self, model: OnnxModel):
        import onnxruntime as ort

        t0 = time.perf_counter()
        so = ort.SessionOptions()
        so.intra_op_num_threads = 1 if self.parallel_runs > 1 else self.threads
        so.inter_op_num_threads = 1
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        so.log_severity_level = 3
        if so.intra_op_num_threads == 1:
            so.add_session_config_entry("session.intra_op.allow_spinning", "0")
        providers = ["CUDAExecutionProvider", "CPUExecutionProvider"] if self.device == "cuda" else \
            ["CPUExecutionProvider"]
        try:
            sess = ort.InferenceSession(model.graph_bytes, so, providers=providers)
        except Exception as e:  # onnxruntime raises its own Fail / InvalidGraph / NotImplemented types
            raise OnnxModelError(f"onnxruntime {ort.__version__} cannot run {model.name} (opset {model.opset}): "
                                 f"{_ort_message(e)}") from None
        if self.device == "cuda" and "CUDAExecutionProvider" not in sess.get_providers():
            warnings.warn("device='cuda' was requested but onnxruntime could not start its CUDA provider; running on "
                          "the CPU", FallbackWarning, stacklevel=3)
            self.device = "cpu"
        self.setup_seconds += time.perf_counter() - t0
        return sess

    def run(self, model: OnnxModel, X: np.ndarray, weights: list[np.ndarray], *, feature: bool = False):
        """Predictions (S, N) float64 of weight samples ``weights`` (one array (S, *shape) per weight tensor, file
        order; a tensor without a sample axis is shared by every sample), and the feature tensor's values
        (S, N, F) float32 when ``feature`` (else None).  ``X`` is already in the model's layout.

        Raises
        ------
        OnnxModelError
            The output is not one value per window, or the feature tensor has no windows axis.
        """
        sess = self.session(model)
        names = model.weight_names
        S = max((int(w.shape[0]) for w, t in zip(weights, model.weights) if w.ndim == len(t.shape) + 1), default=1)
        N = int(X.shape[model.layout.index("N")])
        wanted = [model.output] + ([model.feature] if feature else [])
        pred = np.empty((S, N), dtype=np.float64)
        feats: list = [None] * S

        def one(s: int) -> None:
            feed = {model.data_input: X}
            for n, w, t in zip(names, weights, model.weights):
                feed[n] = w[s] if w.ndim == len(t.shape) + 1 else w
            try:
                res = sess.run(wanted, feed)
            except Exception as e:  # noqa: BLE001 - onnxruntime's own error types
                raise OnnxModelError(f"onnxruntime failed to run {model.name}: {_ort_message(e)}") from None
            out = np.asarray(res[0])
            if not (out.shape == (N,) or out.shape == (N, 1)):
                raise OnnxModelError(f"the output {model.output!r} of {model.name} has shape {list(out.shape)} for "
                                     f"{N} windows; expected one value per window, [{N}, 1] or [{N}]")
            pred[s] = out.reshape(N)
            if feature:
                f = np.asarray(res[1])
                if f.ndim == 0 or f.shape[0] != N:
                    raise OnnxModelError(f"the feature tensor {model.feature!r} of {model.name} has shape "
                                         f"{list(f.shape)}; expected the {N} windows on its first axis")
                feats[s] = f.reshape(N, -1).astype(np.float32, copy=False)

        lanes = min(self.parallel_runs, S)
        if lanes <= 1:
            for s in range(S):
                one(s)
        else:
            from concurrent.futures import ThreadPoolExecutor

            with ThreadPoolExecutor(lanes) as pool:
                list(pool.map(one, range(S)))
        return pred, (np.stack(feats) if feature else None)
