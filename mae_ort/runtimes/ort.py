"""onnxruntime on the CPU or with CUDA: one open session per exported graph.

The graphs come from :mod:`mae_ort.runtimes.export` (the weights are graph inputs);
a runtime keeps one session per graph open for as long as it lives.
"""

from __future__ import annotations

import threading
import time
import warnings

import numpy as np

from .._checks import check_int, check_option
from .._system import default_threads
from ..data import Windows
from ..errors import FallbackWarning, RuntimeUnavailableError
from ..model.architecture import Architecture
from .base import DEVICES

#: Held while a session is opened, so that runs in parallel threads open each graph once.
_OPENING = threading.Lock()

__all__ = ["OrtRuntime"]


class OrtRuntime:
    """onnxruntime on the CPU (default) or with CUDA; one open session per graph.

    Parameters
    ----------
    device : {'cpu', 'cuda'}
        ``'cuda'`` uses onnxruntime's CUDA provider (package ``onnxruntime-gpu``);
        without one it warns (:class:`~mae_ort.errors.FallbackWarning`) and runs on
        the CPU.
    threads : int, optional
        Intra-op threads (default: all cores this process may use).
    """

    name = "onnxruntime"

    def __init__(self, *, device: str = "cpu", threads: int | None = None, mode: str = "runs") -> None:
        self.requested_device = check_option(device, "device", "OrtRuntime", DEVICES)
        self.threads = default_threads() if threads is None else check_int(threads, "threads", "OrtRuntime", low=1)
        self.mode = check_option(mode, "mode", "OrtRuntime", ("runs", "intra"))
        self.device = self.requested_device
        self._sessions: dict[str, object] = {}
        self._bound: dict[str, tuple] = {}
        self.setup_seconds = 0.0
        self.sessions_created = 0
        if self.requested_device == "cuda":
            import onnxruntime as ort

            if "CUDAExecutionProvider" not in ort.get_available_providers():
                warnings.warn(
                    "device='cuda' was requested but this onnxruntime has no CUDA provider "
                    "(install onnxruntime-gpu in place of onnxruntime); running on the CPU",
                    FallbackWarning, stacklevel=3,
                )
                self.device = "cpu"

    # Sessions do not pickle: a copy in another process reopens its own lazily.
    def __getstate__(self):
        state = self.__dict__.copy()
        state["_sessions"], state["_bound"] = {}, {}
        return state

    @property
    def preferred_chunk(self) -> int:
        """Samples per run that suit the device (CPU: small, cache-sized batches)."""
        return 256 if self.device == "cuda" else 4

    @property
    def parallel_runs(self) -> int:
        """Runs in flight at once: on the CPU in ``runs`` mode, one single-threaded
        run per thread (measured faster than splitting each operator over threads)."""
        return self.threads if (self.device == "cpu" and self.mode == "runs") else 1

    @property
    def intra_threads(self) -> int:
        """Threads inside one run (1 when runs go in parallel)."""
        return 1 if self.parallel_runs > 1 else self.threads

    def warmup(self) -> None:
        """Nothing to do before a shape is known: each graph is exported and opened by :meth:`session`
        (timed in ``setup_seconds``)."""

    def session(self, arch: Architecture, look_back: int):
        """The open session of ``arch``'s family at ``look_back`` (exported and opened once)."""
        from .export import graph_key, model_bytes

        key = graph_key(arch, look_back)
        sess = self._sessions.get(key)
        if sess is not None:
            return sess
        with _OPENING:  # parallel runs ask at once: open (and time) each graph once
            sess = self._sessions.get(key)
            if sess is None:
                import onnxruntime as ort

                t0 = time.perf_counter()
                so = ort.SessionOptions()
                so.intra_op_num_threads = self.intra_threads
                so.inter_op_num_threads = 1
                so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
                so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
                so.log_severity_level = 3
                if self.intra_threads == 1:
                    so.add_session_config_entry("session.intra_op.allow_spinning", "0")
                providers = ["CPUExecutionProvider"]
                if self.device == "cuda":
                    providers = ["CUDAExecutionProvider", "CPUExecutionProvider"]
                try:
                    sess = ort.InferenceSession(model_bytes(arch, look_back), so, providers=providers)
                except Exception as e:  # onnxruntime raises its own Fail/RuntimeException types
                    raise RuntimeUnavailableError(f"onnxruntime could not open the {arch.label()} graph: {e}") from e
                if self.device == "cuda" and "CUDAExecutionProvider" not in sess.get_providers():
                    warnings.warn(
                        "device='cuda' was requested but onnxruntime could not start its CUDA provider "
                        "(no GPU, or CUDA/cuDNN libraries missing); running on the CPU",
                        FallbackWarning, stacklevel=3,
                    )
                    self.device = "cpu"
                self._sessions[key] = sess
                self.sessions_created += 1
                self.setup_seconds += time.perf_counter() - t0
        return sess

    def maes(self, arch: Architecture, win: Windows, weights: list[np.ndarray], *, predictions: bool = False):
        """MAEs (S,) float64, and predictions (S, N, n_out) float32 when asked (else None)."""
        sess = self.session(arch, win.look_back)
        names = [n for n, _ in arch.weight_shapes(win.n_in, win.n_out)]
        outputs = ["mae", "pred"] if predictions else ["mae"]
        if self.device == "cuda":
            return self._run_cuda(sess, win, names, weights, outputs)
        feed = {"X": win.X, "y": win.y}
        feed.update(zip(names, weights))
        res = sess.run(outputs, feed)
        return res[0].astype(np.float64), (res[1] if predictions else None)

    def maes_hidden(self, arch: Architecture, win: Windows, weights: list[np.ndarray]):
        """MAEs (S,) float64 and the last layer's final hidden states (S, N, H_last) float32, from one run."""
        sess = self.session(arch, win.look_back)
        names = [n for n, _ in arch.weight_shapes(win.n_in, win.n_out)]
        if self.device == "cuda":
            return self._run_cuda(sess, win, names, weights, ["mae", "h_last"])
        feed = {"X": win.X, "y": win.y}
        feed.update(zip(names, weights))
        mae, h = sess.run(["mae", "h_last"], feed)
        return mae.astype(np.float64), h

    def _run_cuda(self, sess, win, names, weights, outputs):  # pragma: no cover - needs a GPU
        import onnxruntime as ort

        key = id(sess)
        cached = self._bound.get(key)
        if cached is None or cached[0] is not win:
            # The windows go to the GPU once and stay there across chunks.
            xv = ort.OrtValue.ortvalue_from_numpy(win.X, "cuda", 0)
            yv = ort.OrtValue.ortvalue_from_numpy(win.y, "cuda", 0)
            cached = (win, xv, yv)
            self._bound[key] = cached
        binding = sess.io_binding()
        binding.bind_ortvalue_input("X", cached[1])
        binding.bind_ortvalue_input("y", cached[2])
        for n, w in zip(names, weights):
            binding.bind_cpu_input(n, w)
        for o in outputs:
            binding.bind_output(o, "cpu")
        sess.run_with_iobinding(binding)
        res = binding.copy_outputs_to_cpu()
        return res[0].astype(np.float64), (res[1] if len(outputs) > 1 else None)
