"""The contenders' common base (imported by :mod:`bench.contenders` and :mod:`bench.peers`, which import nothing
of each other at import time): the display titles of every contender, the :class:`Contender` protocol, the
contender fed with weights drawn outside the timing, and the thread count the contenders use."""

from __future__ import annotations

import numpy as np

from bench import cases as C

__all__ = ["TITLES", "Contender"]

#: Display titles, in report order.
TITLES = {
    "maeort_auto": "mae-ort default (`Sampler()`, runtime='auto')",
    "maeort_ort": "mae-ort onnxruntime CPU (`runtime='onnxruntime'`)",
    "maeort_numba": "mae-ort fused Numba (`runtime='numba'`)",
    "maeort_cuda": "mae-ort onnxruntime CUDA (`device='cuda'`)",
    "keras_loop": "Keras loop: `set_weights` + `predict_on_batch`",
    "keras_evaluate": "Keras reference style: `set_weights` + `evaluate(PyDataset, batch 5)`",
    "ort_native": "onnxruntime native `LSTM` op, one `run` per sample",
    "numpy_batched": "plain numpy float32, batched over samples",
    # the peers (bench/peers.py)
    "torch_batched": "PyTorch eager, batched `baddbmm` (`inference_mode`)",
    "torch_compile": "PyTorch, the same under `torch.compile`",
    "torch_nn_lstm": "PyTorch `nn.LSTM`, weights loaded per sample",
    "jax_vmap": "JAX `jit(vmap)` + `lax.scan`",
    "openvino": "OpenVINO CPU on mae-ort's ONNX graph",
    "torch_batched_cuda": "PyTorch eager, batched, on CUDA",
    "torch_compile_cuda": "PyTorch `torch.compile`, on CUDA",
    "jax_vmap_gpu": "JAX `jit(vmap)` + `lax.scan`, on the GPU",
}


def _threads() -> int:
    from mae_ort.runtimes.ort import default_threads

    return default_threads()


# ---------------------------------------------------------------------------------
# contenders
# ---------------------------------------------------------------------------------
class Contender:
    """Base: ``setup(case)`` once per case (untimed), then ``run(case, samples)`` -> MAEs."""

    key = ""
    mae_ort = False

    def available(self) -> tuple[bool, str]:
        return True, ""

    def preload(self) -> None:
        """Import what the contender needs and load its kernels (at start-up, untimed, all workers at once)."""
        from mae_ort.sampling.sampler import Sampler

        Sampler().weights(C.Case("preload", (2,), 1).arch(), n_in=1, n_out=1, samples=1)

    def applicable(self, case: C.Case) -> bool:
        return True

    def samples_for(self, case: C.Case, quick: bool) -> int:
        return case.samples

    def setup(self, case: C.Case) -> dict:
        return {}

    def run(self, case: C.Case, samples: int) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def info(self) -> dict:
        return {}


class _Given(Contender):
    """A contender fed with the sampler's weights, drawn once per case outside the timing."""

    def __init__(self) -> None:
        self._w: dict = {}

    def weights(self, case: C.Case) -> list[np.ndarray]:
        key = (case.key, case.samples, case.seed)
        w = self._w.get(key)
        if w is None:
            self._w.clear()
            w = C.weights(case)
            self._w[key] = w
        return w
