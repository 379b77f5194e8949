"""The peers of the benchmark: PyTorch, JAX and OpenVINO on mae-ort's own weights (issue 22).

============== =====================================================================
key            what runs
============== =====================================================================
torch_batched  PyTorch eager under ``torch.inference_mode()``: per chunk of samples,
               one ``baddbmm`` for the input projections of every time step of a
               layer, then per time step one ``baddbmm`` over the whole gate block
               (samples batched, windows as rows); MAE in torch
torch_compile  the same function with its LSTM step under ``torch.compile``
               (inductor, ``dynamic=True``: one compilation for every chunk size);
               compile time reported apart
torch_nn_lstm  ``torch.nn.LSTM`` layers (one per hidden layer, as widths differ),
               weights loaded per sample (Keras i,f,c,o = torch i,f,g,o; kernels
               transposed; the Keras bias in ``bias_ih``, zeros in ``bias_hh``)
jax_vmap       ``jax.jit(jax.vmap(one_sample))`` over chunks of samples (the last
               chunk padded to the same shape: one compilation per case), ``lax.scan``
               over time; compile time reported apart
openvino       mae-ort's own weights-as-inputs ONNX graph
               (:func:`mae_ort.runtimes.export.save_model`) compiled by
               ``openvino.Core().compile_model(..., "CPU")`` in float32
               (``INFERENCE_PRECISION_HINT=f32``: OpenVINO would pick bfloat16 on CPUs
               with AVX512-BF16), all samples in one ``infer`` call (the graph's sample
               axis is symbolic)
============== =====================================================================

Every peer gets the very weights mae-ort's sampler draws (``Sampler.weights``, once per case,
outside the timing) and runs with the same number of threads as mae-ort's default
(all cores this process may use): ``torch.set_num_threads``, OpenVINO's
``INFERENCE_NUM_THREADS``, and for JAX ``--xla_cpu_multi_thread_eigen=false
intra_op_parallelism_threads=1`` when that number is 1 (XLA's CPU client uses every core
otherwise).  A missing package makes the peer "not available" with the reason.
"""

from __future__ import annotations

import os
import tempfile
import time

import numpy as np

from bench import cases as C
from bench.base import TITLES, Contender, _Given, _threads

__all__ = ["PEERS", "GPU_PEERS", "PEER_TITLES", "make_peer", "torch_maes", "jax_maes_fn", "chunk_for", "peer_versions"]

PEERS = ("torch_batched", "torch_compile", "torch_nn_lstm", "jax_vmap", "openvino")
#: The same on a GPU (bench/gpu.sh).
GPU_PEERS = ("torch_batched_cuda", "torch_compile_cuda", "jax_vmap_gpu")
PEER_TITLES = {k: TITLES[k] for k in PEERS + GPU_PEERS}

#: Bytes of float32 intermediates one chunk of samples may hold (input projections and states).
CHUNK_BYTES = 96 * 2 ** 20

#: The package each peer needs, and how to get it.
_NEEDS = {"torch_batched": "torch", "torch_compile": "torch", "torch_nn_lstm": "torch", "jax_vmap": "jax",
          "openvino": "openvino", "torch_batched_cuda": "torch", "torch_compile_cuda": "torch",
          "jax_vmap_gpu": "jax"}
_HINT = "install the peers extra: pip install -e .[peers] (see bench/README.md)"


def peer_versions() -> dict:
    """Installed versions of the peers' packages (None where absent), without importing them."""
    from importlib import metadata

    out = {}
    for name in ("torch", "jax", "jaxlib", "openvino"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def chunk_for(arch, windows: int, look_back: int, samples: int) -> int:
    """Samples per chunk so that a layer's input projections and states fit :data:`CHUNK_BYTES`."""
    per = max(windows * look_back * (arch.gates + 1) * H * 4 for H in arch.units)
    return int(max(1, min(samples, CHUNK_BYTES // max(per, 1))))


def _subset(case, quick: bool) -> int:
    """Samples timed for a peer whose cost per sample is constant (as numpy's): a subset, scaled by the suite."""
    g = C.gflop(case)
    if quick and g > 1.0:
        return min(case.samples, 10)
    if g > 10.0:
        return min(case.samples, 20)
    return case.samples


def _lstm_only(arch) -> None:
    if arch.cell != "lstm":
        raise ValueError(f"the peers compute LSTM architectures only, not {arch.cell}")


# ---------------------------------------------------------------------------------
# PyTorch
# ---------------------------------------------------------------------------------
def _torch_act(name: str):
    import torch

    return {"tanh": torch.tanh, "sigmoid": torch.sigmoid, "relu": torch.relu, "linear": lambda x: x,
            "hard_sigmoid": lambda x: torch.clamp(x / 6.0 + 0.5, 0.0, 1.0),
            "hard_sigmoid_keras2": lambda x: torch.clamp(0.2 * x + 0.5, 0.0, 1.0)}[name]


def make_step(arch):
    """The LSTM step ``(xp_t, h, c, U) -> (h, c)`` of ``arch``'s activations (one ``baddbmm`` per step)."""
    import torch

    a, ra = _torch_act(arch.activation), _torch_act(arch.recurrent_activation)

    def step(xp_t, h, c, U):
        z = torch.baddbmm(xp_t, h, U)  # (s, N, 4H): the whole gate block, all samples and windows
        i, f, g, o = z.chunk(4, dim=-1)
        c = ra(f) * c + ra(i) * a(g)
        return ra(o) * a(c), c

    return step


def _torch_chunk(arch, X2, yt, W, step, LB: int):
    """MAEs (s,) of one chunk: ``X2`` (LB*N, d) time-major rows, ``W`` Keras-order tensors (s, ...)."""
    import torch

    N = X2.shape[0] // LB
    s = W[0].shape[0]
    dev = X2.device
    seq = None  # (s, LB*N, H) sample-major states of the layer below
    h = None
    for k, H in enumerate(arch.units):
        K, U, b = W[3 * k], W[3 * k + 1], W[3 * k + 2]
        G = 4 * H
        if k == 0:  # the windows are shared: one GEMM over every step and sample, (LB*N, d) @ (d, s*4H)
            xp = torch.addmm(b.reshape(1, s * G), X2, K.permute(1, 0, 2).reshape(X2.shape[1], s * G))
            xp = xp.view(LB, N, s, G).permute(0, 2, 1, 3).contiguous()  # (LB, s, N, 4H)
        else:  # one batched GEMM per layer: (s, LB*N, H_in) @ (s, H_in, 4H), then time-major
            xp = torch.baddbmm(b[:, None, :], seq, K).view(s, LB, N, G).transpose(0, 1).contiguous()
        h = torch.zeros(s, N, H, device=dev)
        c = torch.zeros(s, N, H, device=dev)
        last = k == arch.depth - 1
        out = None if last else torch.empty(s, LB, N, H, device=dev)
        for t in range(LB):
            h, c = step(xp[t], h, c, U)
            if out is not None:
                out[:, t] = h
        if out is not None:
            seq = out.view(s, LB * N, H)
    pred = _torch_act(arch.head_activation)(torch.baddbmm(W[-1][:, None, :], h, W[-2]))
    return (pred.double() - yt.double()).abs().mean(dim=(1, 2))


def torch_maes(arch, X, y, weights, *, chunk: int, step=None, device: str = "cpu") -> np.ndarray:
    """MAEs (S,) float64 of ``arch`` for Keras-order weights ``(S, *shape)``, in chunks of ``chunk`` samples
    (on ``device``: the windows go there once, each chunk's weights with the chunk)."""
    import torch

    _lstm_only(arch)
    step = step or make_step(arch)
    X = np.asarray(X, dtype=np.float32)
    N, LB, d = X.shape
    X2 = torch.from_numpy(np.ascontiguousarray(X.transpose(1, 0, 2)).reshape(LB * N, d)).to(device)
    yt = torch.from_numpy(np.asarray(y, dtype=np.float32)).to(device)
    W = [torch.from_numpy(np.asarray(w, dtype=np.float32)) for w in weights]
    S = W[0].shape[0]
    out = np.empty(S, dtype=np.float64)
    with torch.inference_mode():
        for a in range(0, S, chunk):
            b = min(S, a + chunk)
            out[a:b] = _torch_chunk(arch, X2, yt, [w[a:b].to(device) for w in W], step, LB).cpu().numpy()
    return out


class _Peer(_Given):
    """A peer: its package is imported (and its threads set) in :meth:`available`."""

    package = ""

    def __init__(self) -> None:
        super().__init__()
        self._steps: dict = {}
        self.import_s = None

    def available(self):
        try:
            t0 = time.perf_counter()
            self._import()
            self.import_s = time.perf_counter() - t0
        except Exception as e:
            return False, f"{self.package} is not importable ({type(e).__name__}: {e}); {_HINT}"
        return True, ""

    def _import(self) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def applicable(self, case):
        return case.arch().cell == "lstm"

    def _timed_setup(self, case, samples: int) -> dict:
        """Weights, then two untimed runs: the first pays the one-time costs (compilation), the second is warm."""
        self.weights(case)
        t0 = time.perf_counter()
        self.run(case, samples)
        t1 = time.perf_counter()
        self.run(case, samples)
        t2 = time.perf_counter()
        return {"first_call_s": t1 - t0, "warm_call_s": t2 - t1, "one_time_s": max(0.0, (t1 - t0) - (t2 - t1))}


class TorchBatched(_Peer):
    """PyTorch eager, batched over samples (``baddbmm``) and windows, in chunks."""

    key = "torch_batched"
    package = "torch"
    device = "cpu"

    def available(self):
        ok, why = super().available()
        if ok and self.device == "cuda" and not self._torch.cuda.is_available():
            t = self._torch
            return False, (f"torch {t.__version__} sees no CUDA device"
                           + (" (a CPU-only build)" if t.version.cuda is None else ""))
        return ok, why

    def _import(self):
        # OpenMP threads sleep when idle (as mae-ort's onnxruntime sessions do): spinning threads on a shared
        # machine made every torch op 5-10x slower in our measurements. One compile thread (no worker processes).
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
        os.environ.setdefault("TORCHINDUCTOR_COMPILE_THREADS", "1")
        import torch

        torch.set_num_threads(_threads())
        try:
            torch.set_num_interop_threads(1)
        except RuntimeError:  # already set in this process
            pass
        self._torch = torch

    def _step(self, arch):
        return make_step(arch)

    def samples_for(self, case, quick):
        return _subset(case, quick)

    def setup(self, case):
        return self._timed_setup(case, min(case.samples, 10))

    def run(self, case, samples):
        arch = case.arch()
        win = C.windows(case.series, case.look_back)
        step = self._steps.get(arch.family)
        if step is None:
            step = self._steps[arch.family] = self._step(arch)
        W = [w[:samples] for w in self.weights(case)]
        self._chunk = chunk_for(arch, win.n, case.look_back, samples) if self.device == "cpu" else samples
        return torch_maes(arch, win.X, win.y, W, chunk=self._chunk, step=step, device=self.device)

    def info(self):
        return {"threads": self._torch.get_num_threads() if hasattr(self, "_torch") else None,
                "chunk": getattr(self, "_chunk", None)}


class TorchCompile(TorchBatched):
    """:class:`TorchBatched` with its LSTM step under ``torch.compile`` (one compilation per shape)."""

    key = "torch_compile"

    def _import(self):
        super()._import()
        import torch._dynamo

        cfg = torch._dynamo.config
        for name in ("recompile_limit", "cache_size_limit"):  # many shapes per case: keep them all compiled
            if hasattr(cfg, name):
                setattr(cfg, name, 256)

    def _step(self, arch):
        # dynamic shapes: one compilation serves every chunk size and layer width
        return self._torch.compile(make_step(arch), dynamic=True, fullgraph=True)


class TorchBatchedCuda(TorchBatched):
    """:class:`TorchBatched` on the GPU (all samples in one chunk; the weights' copy timed)."""

    key = "torch_batched_cuda"
    device = "cuda"


class TorchCompileCuda(TorchCompile):
    """:class:`TorchCompile` on the GPU."""

    key = "torch_compile_cuda"
    device = "cuda"


class TorchNNLstm(_Peer):
    """``torch.nn.LSTM`` layers, the Keras weights copied in per sample."""

    key = "torch_nn_lstm"
    package = "torch"

    def _import(self):
        TorchBatched._import(self)

    def applicable(self, case):
        a = case.arch()
        return a.cell == "lstm" and a.activation == "tanh" and a.recurrent_activation == "sigmoid"

    def samples_for(self, case, quick):
        return _subset(case, quick)

    def _layers(self, case):
        key = (case.units, case.series)
        if getattr(self, "_key", None) != key:
            torch = self._torch
            win = C.windows(case.series, case.look_back)
            d, layers = win.n_in, []
            for H in case.units:
                m = torch.nn.LSTM(d, H, num_layers=1, batch_first=True)
                m.requires_grad_(False)
                m.eval()
                layers.append(m)
                d = H
            self._key, self._mods = key, layers
        return self._mods

    def setup(self, case):
        self.weights(case)
        self._layers(case)
        t0 = time.perf_counter()
        self.run(case, 1)
        return {"first_call_s": time.perf_counter() - t0}

    def run(self, case, samples):
        torch = self._torch
        arch = case.arch()
        mods = self._layers(case)
        W = self.weights(case)
        win = C.windows(case.series, case.look_back)
        X = torch.from_numpy(win.X)
        y = torch.from_numpy(win.y).double()
        head = _torch_act(arch.head_activation)
        out = np.empty(samples, dtype=np.float64)
        with torch.inference_mode():
            for s in range(samples):
                seq = X
                for k, m in enumerate(mods):
                    m.weight_ih_l0.copy_(torch.from_numpy(W[3 * k][s]).T)
                    m.weight_hh_l0.copy_(torch.from_numpy(W[3 * k + 1][s]).T)
                    m.bias_ih_l0.copy_(torch.from_numpy(W[3 * k + 2][s]))
                    m.bias_hh_l0.zero_()
                    seq, (h, _) = m(seq)
                pred = head(h[-1] @ torch.from_numpy(W[-2][s]) + torch.from_numpy(W[-1][s]))
                out[s] = float((pred.double() - y).abs().mean())
        return out

    def info(self):
        return {"threads": self._torch.get_num_threads() if hasattr(self, "_torch") else None}


# ---------------------------------------------------------------------------------
# JAX
# ---------------------------------------------------------------------------------
def jax_thread_flags(threads: int) -> str:
    """The ``XLA_FLAGS`` that hold XLA's CPU client to one thread ('' for more: it uses every core)."""
    return "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1" if threads <= 1 else ""


def _jax_act(name: str):
    import jax
    import jax.numpy as jnp

    return {"tanh": jnp.tanh, "sigmoid": jax.nn.sigmoid, "relu": jax.nn.relu, "linear": lambda x: x,
            "hard_sigmoid": lambda x: jnp.clip(x / 6.0 + 0.5, 0.0, 1.0),
            "hard_sigmoid_keras2": lambda x: jnp.clip(0.2 * x + 0.5, 0.0, 1.0)}[name]


def jax_maes_fn(arch):
    """``jit(vmap(one_sample))``: ``(weights (s, ...) list, X (LB, N, d), y (N, n_out)) -> MAEs (s,)``."""
    import jax
    import jax.numpy as jnp
    from jax import lax

    _lstm_only(arch)
    a, ra, head = _jax_act(arch.activation), _jax_act(arch.recurrent_activation), _jax_act(arch.head_activation)
    depth = arch.depth

    def one(ws, X, y):
        seq = X
        h = None
        for k in range(depth):
            K, U, b = ws[3 * k], ws[3 * k + 1], ws[3 * k + 2]
            H = U.shape[0]
            xp = seq @ K + b  # (LB, N, 4H)

            def body(carry, xt, U=U):
                h, c = carry
                z = xt + h @ U
                i, f, g, o = jnp.split(z, 4, axis=-1)
                c = ra(f) * c + ra(i) * a(g)
                h = ra(o) * a(c)
                return (h, c), h

            zero = jnp.zeros((X.shape[1], H), dtype=X.dtype)
            (h, _), seq = lax.scan(body, (zero, zero), xp)
        pred = head(h @ ws[-2] + ws[-1])
        return jnp.mean(jnp.abs(pred - y))

    return jax.jit(jax.vmap(one, in_axes=(0, None, None)))


class JaxVmap(_Peer):
    """``jax.jit(jax.vmap(...))`` over fixed-size chunks of samples, ``lax.scan`` over time."""

    key = "jax_vmap"
    package = "jax"
    platform = "cpu"

    def available(self):
        ok, why = super().available()
        if ok and self.platform != "cpu":
            try:
                self._jax.devices(self.platform)
            except RuntimeError as e:
                return False, f"jax {self._jax.__version__} has no {self.platform} device ({str(e)[:120]})"
        return ok, why

    def _import(self):
        flags = jax_thread_flags(_threads())
        if flags and flags not in os.environ.get("XLA_FLAGS", ""):
            os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " " + flags).strip()
        if self.platform == "cpu":
            os.environ.setdefault("JAX_PLATFORMS", "cpu")
        import jax

        jax.config.update("jax_enable_x64", False)
        self._jax = jax
        self._fns: dict = {}

    def setup(self, case):
        win = C.windows(case.series, case.look_back)
        return self._timed_setup(case, chunk_for(case.arch(), win.n, case.look_back, case.samples)
                                 if self.platform == "cpu" else case.samples)

    def run(self, case, samples):
        import jax.numpy as jnp

        arch = case.arch()
        win = C.windows(case.series, case.look_back)
        fn = self._fns.get(arch.family)
        if fn is None:
            fn = self._fns[arch.family] = jax_maes_fn(arch)
        chunk = chunk_for(arch, win.n, case.look_back, case.samples) if self.platform == "cpu" else case.samples
        self._chunk = chunk
        X = jnp.asarray(np.ascontiguousarray(win.X.transpose(1, 0, 2)))
        y = jnp.asarray(win.y)
        W = self.weights(case)
        out = np.empty(samples, dtype=np.float64)
        for lo in range(0, samples, chunk):
            hi = min(samples, lo + chunk)
            part = [w[lo:hi] for w in W]
            if hi - lo < chunk:  # pad to the chunk's shape: one compilation per case
                part = [np.concatenate([p, np.zeros((chunk - (hi - lo),) + p.shape[1:], p.dtype)]) for p in part]
            m = fn([jnp.asarray(p) for p in part], X, y)
            out[lo:hi] = np.asarray(m, dtype=np.float64)[:hi - lo]
        return out

    def info(self):
        return {"threads": _threads(), "xla_flags": os.environ.get("XLA_FLAGS", ""),
                "chunk": getattr(self, "_chunk", None)}


class JaxVmapGpu(JaxVmap):
    """:class:`JaxVmap` on the GPU (all samples in one call)."""

    key = "jax_vmap_gpu"
    platform = "gpu"


# ---------------------------------------------------------------------------------
# OpenVINO
# ---------------------------------------------------------------------------------
class OpenVino(_Peer):
    """mae-ort's ONNX graph (weights as inputs) compiled by OpenVINO for the CPU, float32."""

    key = "openvino"
    package = "openvino"

    def _import(self):
        import openvino as ov

        self._ov = ov
        self._core = ov.Core()
        self._compiled: dict = {}
        self._dir = tempfile.mkdtemp(prefix="mae-ort-bench-ov-")

    def config(self) -> dict:
        return {"INFERENCE_NUM_THREADS": _threads(), "NUM_STREAMS": 1, "PERFORMANCE_HINT": "LATENCY",
                "INFERENCE_PRECISION_HINT": "f32"}

    def compiled(self, case):
        from mae_ort.runtimes.export import graph_key, save_model

        arch = case.arch()
        key = graph_key(arch, case.look_back)
        c = self._compiled.get(key)
        if c is None:
            t0 = time.perf_counter()
            path = save_model(arch, case.look_back, os.path.join(self._dir, f"{key}.onnx"))
            model = self._core.read_model(str(path))
            t1 = time.perf_counter()
            comp = self._core.compile_model(model, "CPU", self.config())
            c = (comp, comp.create_infer_request())
            self._compiled = {key: c}
            self._times = {"read_s": t1 - t0, "compile_s": time.perf_counter() - t1}
        return c

    def setup(self, case):
        self.weights(case)
        self._times = {}
        self.compiled(case)
        t0 = time.perf_counter()
        self.run(case, case.samples)
        return dict(self._times, first_call_s=time.perf_counter() - t0)

    def run(self, case, samples):
        arch = case.arch()
        comp, req = self.compiled(case)
        win = C.windows(case.series, case.look_back)
        names = [n for n, _ in arch.weight_shapes(win.n_in, win.n_out)]
        feed = {"X": win.X, "y": win.y}
        feed.update({n: np.ascontiguousarray(w[:samples]) for n, w in zip(names, self.weights(case))})
        res = req.infer(feed)
        return np.asarray(res[comp.output("mae")], dtype=np.float64)

    def info(self):
        props = {}
        comp = next(iter(self._compiled.values()), (None,))[0] if getattr(self, "_compiled", None) else None
        if comp is not None:
            for p in ("INFERENCE_NUM_THREADS", "INFERENCE_PRECISION_HINT", "NUM_STREAMS"):
                try:
                    props[p] = str(comp.get_property(p))
                except Exception:  # pragma: no cover - property names differ across versions
                    pass
        return {"threads": _threads(), "properties": props}


_CLASSES = {"torch_batched": TorchBatched, "torch_compile": TorchCompile, "torch_nn_lstm": TorchNNLstm,
            "jax_vmap": JaxVmap, "openvino": OpenVino, "torch_batched_cuda": TorchBatchedCuda,
            "torch_compile_cuda": TorchCompileCuda, "jax_vmap_gpu": JaxVmapGpu}


def make_peer(key: str) -> Contender:
    """A peer contender by key."""
    return _CLASSES[key]()
