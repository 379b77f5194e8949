"""The contenders of the benchmark, the native-``LSTM`` ONNX graph, and the worker processes.

Every contender turns a :class:`bench.cases.Case` into one MAE per weight sample:

============== =====================================================================
key            what runs
============== =====================================================================
maeort_auto    ``Sampler()`` as a user gets it (``runtime="auto"``): weights drawn by
               mae-ort from the seed, evaluated, fitted (a full ``Sampler.sample``)
maeort_ort     the same with ``runtime="onnxruntime"`` (the anchor of the MAE check)
maeort_numba   the same with ``runtime="numba"`` (the fused Numba forward pass)
maeort_cuda    the same with ``runtime="onnxruntime", device="cuda"`` (needs the CUDA
               provider of onnxruntime-gpu)
keras_loop     one Keras model; per sample ``set_weights`` then ``predict_on_batch`` on
               all windows; MAE in numpy
keras_evaluate the reference implementation's style: per sample ``set_weights`` then
               ``model.evaluate`` over a ``keras.utils.PyDataset`` of batches of 5
               (compiled with ``loss="mae"``); small cases only, on a subset of samples
ort_native     onnxruntime's own ``LSTM`` operator, one node per layer (as Keras' ONNX
               export builds it), one ``sess.run`` per sample with that sample's
               weights fed as inputs (reordered i,f,c,o -> i,o,f,c, transposed, bias in
               the first half of ``B``); MAE in numpy
numpy_batched  :func:`mae_ort.model.reference.maes` in float32, batched over samples in chunks
============== =====================================================================

Only the mae-ort contenders draw their own weights (inside the timed call, as a user
runs them); all others get the same weights, drawn once per case outside the timing
by :meth:`mae_ort.Sampler.weights`.

Each contender lives in its own worker process (:func:`worker_main`): a user runs one
tool per process, TensorFlow's threads and allocator do not share a process with
onnxruntime's, and a crash costs one contender, not the suite.  ``python -m
bench.contenders memory ...`` runs one contender once in a fresh process and reports
its peak memory.
"""

from __future__ import annotations

import gc
import json
import os
import signal
import sys
import threading
import time
import traceback
import warnings

import numpy as np

from bench import cases as C
from bench.base import TITLES, Contender, _Given, _threads

__all__ = ["CONTENDERS", "TITLES", "make", "native_lstm_model", "keras_lstm_to_onnx", "worker_main",
           "Worker", "compare", "kill_all"]

CONTENDERS = tuple(TITLES)
ANCHOR = "maeort_ort"
NUMPY_CHUNK = 10


def _quiet() -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    warnings.filterwarnings("ignore")


def compare(got, want) -> float:
    """max |got - want| over samples (inf when finiteness differs; nan-equal where both are non-finite)."""
    got = np.asarray(got, dtype=np.float64)
    want = np.asarray(want, dtype=np.float64)
    if got.shape != want.shape:
        return float("inf")
    fin_g, fin_w = np.isfinite(got), np.isfinite(want)
    if np.any(fin_g != fin_w):
        return float("inf")
    if not fin_g.any():
        return 0.0
    return float(np.max(np.abs(got[fin_g] - want[fin_w])))


# ---------------------------------------------------------------------------------
# contenders
# ---------------------------------------------------------------------------------
class MaeOrt(Contender):
    """``Sampler(runtime=..., device=...).sample(...)``, the whole user-facing call."""

    mae_ort = True

    def __init__(self, key: str, runtime: str, device: str = "cpu") -> None:
        self.key, self.runtime, self.device = key, runtime, device
        self._sampler = None
        self._last = {}

    def available(self):
        if self.device == "cuda":
            import onnxruntime as ort

            prov = ort.get_available_providers()
            if "CUDAExecutionProvider" not in prov:
                return False, (f"onnxruntime {ort.__version__} has no CUDAExecutionProvider "
                               f"(providers: {', '.join(prov)})")
        if self.runtime == "numba":
            try:
                import mae_ort.kernels.forward  # noqa: F401
            except Exception as e:  # pragma: no cover - depends on the checkout
                return False, f"mae_ort.kernels.forward does not import: {e}"
        return True, ""

    def sampler(self):
        if self._sampler is None:
            from mae_ort.sampling.sampler import Sampler

            self._sampler = Sampler(runtime=self.runtime, device=self.device)
        return self._sampler

    def setup(self, case):
        # Open the session / load the kernel for this shape: a 2-sample call.
        t0 = time.perf_counter()
        self.run(case, 2)
        return {"warmup_call_s": time.perf_counter() - t0}

    def run(self, case, samples):
        arch = case.arch()
        s = self.sampler()
        r = s.sample(C.series(case.series), arch, look_back=case.look_back, samples=samples, seed=case.seed)
        rt = s.runtime_for(arch, case.look_back)
        self._last = {"runtime": r.runtime, "device": r.device,
                      "chunk": s.chunk_for(arch, s.windows_of(C.series(case.series), case.look_back), samples, rt)}
        if self.device == "cuda" and r.device != "cuda":
            raise RuntimeError("onnxruntime fell back to the CPU: the CUDA provider could not start")
        return np.asarray(r.maes, dtype=np.float64)

    def info(self):
        return dict(self._last)


class KerasLoop(_Given):
    """The best plain Keras loop: one model, per sample ``set_weights`` + ``predict_on_batch``."""

    key = "keras_loop"

    def __init__(self) -> None:
        super().__init__()
        self._models: dict = {}

    def available(self):
        try:
            import keras  # noqa: F401

            import mae_ort.model.keras_interop  # noqa: F401
        except Exception as e:
            return False, f"Keras is not importable ({type(e).__name__}: {e}); install the keras extra"
        return True, ""

    def model(self, case):
        key = (case.units, case.look_back, case.series)
        m = self._models.get(key)
        if m is None:
            from mae_ort.model.keras_interop import to_keras

            self._models.clear()
            win = C.windows(case.series, case.look_back)
            m = to_keras(case.arch(), look_back=case.look_back, n_in=win.n_in, n_out=win.n_out)
            self._models[key] = m
        return m

    def setup(self, case):
        self.weights(case)
        t0 = time.perf_counter()
        self.model(case)
        t1 = time.perf_counter()
        self.run(case, 1)  # traces the predict function
        return {"build_s": t1 - t0, "first_call_s": time.perf_counter() - t1}

    def run(self, case, samples):
        m = self.model(case)
        W = self.weights(case)
        win = C.windows(case.series, case.look_back)
        y = win.y.astype(np.float64)
        out = np.empty(samples, dtype=np.float64)
        for s in range(samples):
            m.set_weights([w[s] for w in W])
            p = np.asarray(m.predict_on_batch(win.X), dtype=np.float64)
            out[s] = np.abs(p - y).mean()
        return out


def _window_dataset(X, y, batch_size):
    import keras

    class Windows(keras.utils.PyDataset):
        """Batches of windows, as the reference implementation's sine loader serves them."""

        def __init__(self):
            super().__init__(workers=1, use_multiprocessing=False)

        def __len__(self):
            return -(-len(X) // batch_size)

        def __getitem__(self, i):
            sl = slice(i * batch_size, (i + 1) * batch_size)
            return X[sl], y[sl]

    return Windows()


class KerasEvaluate(KerasLoop):
    """The reference implementation's style: ``set_weights`` + ``evaluate`` over a batched Sequence."""

    key = "keras_evaluate"
    batch_size = 5

    def applicable(self, case):
        return case.small

    def samples_for(self, case, quick):
        return min(case.samples, 2 if quick else 10)

    def model(self, case):
        key = (case.units, case.look_back, case.series)
        m = self._models.get(key)
        if m is None:
            m = super().model(case)
            m.compile(loss="mae")
            win = C.windows(case.series, case.look_back)
            self._ds = _window_dataset(win.X, win.y, self.batch_size)
        return m

    def run(self, case, samples):
        m = self.model(case)
        W = self.weights(case)
        out = np.empty(samples, dtype=np.float64)
        for s in range(samples):
            m.set_weights([w[s] for w in W])
            v = m.evaluate(self._ds, verbose=0)
            out[s] = float(v[0] if isinstance(v, (list, tuple)) else v)
        return out


# -- onnxruntime's native LSTM operator ---------------------------------------------
_KERAS_TO_ONNX_GATES = [0, 3, 1, 2]  # Keras i,f,c,o  ->  ONNX i,o,f,c


def keras_lstm_to_onnx(kernel, recurrent_kernel, bias):
    """One sample's Keras LSTM weights as ONNX ``LSTM`` inputs ``W [1,4H,d]``, ``R [1,4H,H]``, ``B [1,8H]``.

    Gate blocks reordered from i,f,c,o to i,o,f,c, kernels transposed, the Keras bias
    in the first half of ``B`` (``Wb``) and zeros in the second (``Rb``)
    (the ONNX ``LSTM`` operator's layout).
    """
    d, g4 = kernel.shape
    H = g4 // 4
    W = kernel.reshape(d, 4, H)[:, _KERAS_TO_ONNX_GATES, :].reshape(d, g4).T
    R = recurrent_kernel.reshape(H, 4, H)[:, _KERAS_TO_ONNX_GATES, :].reshape(H, g4).T
    B = np.zeros((1, 2 * g4), dtype=np.float32)
    B[0, :g4] = bias.reshape(4, H)[_KERAS_TO_ONNX_GATES].reshape(g4)
    return np.ascontiguousarray(W[None], dtype=np.float32), np.ascontiguousarray(R[None], dtype=np.float32), B


_ONNX_ACT = {"tanh": "Tanh", "sigmoid": "Sigmoid", "relu": "Relu"}


def native_lstm_model(arch, *, look_back: int, n_in: int, n_out: int, opset: int = 18):
    """An ONNX model of ``arch`` built like Keras' own ONNX export: one ``LSTM`` node per layer.

    Inputs: ``X (N, LB, n_in)`` (batch-major, transposed to time-major in the graph as
    the exporter does), per layer ``W{k} (1, 4H, d)``, ``R{k} (1, 4H, H)``,
    ``B{k} (1, 8H)``, then ``head_kernel (H, n_out)`` and ``head_bias (n_out,)``.
    Output: ``pred (N, n_out)``.  LSTM only, with activations onnxruntime's ``LSTM``
    supports (the benchmark uses Keras 3 defaults: sigmoid gates, tanh cell).
    """
    import onnx
    from onnx import TensorProto, helper

    if arch.cell != "lstm":
        raise ValueError("the native-LSTM contender covers LSTM architectures only")
    f, gact, hact = (_ONNX_ACT.get(arch.recurrent_activation), _ONNX_ACT.get(arch.activation),
                     _ONNX_ACT.get(arch.head_activation))
    if f is None or gact is None or (hact is None and arch.head_activation != "linear"):
        raise ValueError(f"activations of {arch} are not all native to ONNX LSTM in this contender")
    F = TensorProto.FLOAT
    nodes, inputs = [], [helper.make_tensor_value_info("X", F, ["N", look_back, n_in])]
    nodes.append(helper.make_node("Transpose", ["X"], ["x_tm"], perm=[1, 0, 2]))
    inits = [onnx.numpy_helper.from_array(np.array([1], dtype=np.int64), "ax1"),
             onnx.numpy_helper.from_array(np.array([0], dtype=np.int64), "ax0")]
    seq, d = "x_tm", n_in
    for k, H in enumerate(arch.units):
        last = k == arch.depth - 1
        inputs += [helper.make_tensor_value_info(f"W{k}", F, [1, 4 * H, d]),
                   helper.make_tensor_value_info(f"R{k}", F, [1, 4 * H, H]),
                   helper.make_tensor_value_info(f"B{k}", F, [1, 8 * H])]
        outs = ["", f"h{k}"] if last else [f"y{k}"]
        nodes.append(helper.make_node("LSTM", [seq, f"W{k}", f"R{k}", f"B{k}"], outs, hidden_size=H,
                                      activations=[f, gact, gact], name=f"lstm{k}"))
        if last:
            nodes.append(helper.make_node("Squeeze", [f"h{k}", "ax0"], ["h_last"]))
        else:  # Y (LB, 1, N, H) -> (LB, N, H)
            nodes.append(helper.make_node("Squeeze", [f"y{k}", "ax1"], [f"seq{k}"]))
            seq = f"seq{k}"
        d = H
    inputs += [helper.make_tensor_value_info("head_kernel", F, [d, n_out]),
               helper.make_tensor_value_info("head_bias", F, [n_out])]
    nodes.append(helper.make_node("MatMul", ["h_last", "head_kernel"], ["head_mm"]))
    nodes.append(helper.make_node("Add", ["head_mm", "head_bias"], ["head_z"]))
    if arch.head_activation == "linear":
        nodes.append(helper.make_node("Identity", ["head_z"], ["pred"]))
    else:
        nodes.append(helper.make_node(hact, ["head_z"], ["pred"]))
    graph = helper.make_graph(nodes, "keras_style_native_lstm", inputs,
                              [helper.make_tensor_value_info("pred", F, ["N", n_out])], initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], producer_name="mae-ort-bench")
    onnx.checker.check_model(model)
    return model


def native_feed(arch, weights, s: int) -> dict:
    """The feed of sample ``s`` for :func:`native_lstm_model` (without ``X``)."""
    feed = {}
    for k in range(arch.depth):
        W, R, B = keras_lstm_to_onnx(weights[3 * k][s], weights[3 * k + 1][s], weights[3 * k + 2][s])
        feed[f"W{k}"], feed[f"R{k}"], feed[f"B{k}"] = W, R, B
    feed["head_kernel"], feed["head_bias"] = weights[-2][s], weights[-1][s]
    return feed


class OrtNative(_Given):
    """onnxruntime's ``LSTM`` operator, one ``sess.run`` per weight sample (weights as inputs)."""

    key = "ort_native"

    def __init__(self) -> None:
        super().__init__()
        self._sess: dict = {}

    def session(self, case):
        key = (case.units, case.look_back, case.series)
        sess = self._sess.get(key)
        if sess is None:
            import onnxruntime as ort

            self._sess.clear()
            win = C.windows(case.series, case.look_back)
            t0 = time.perf_counter()
            model = native_lstm_model(case.arch(), look_back=case.look_back, n_in=win.n_in, n_out=win.n_out)
            blob = model.SerializeToString()
            t1 = time.perf_counter()
            so = ort.SessionOptions()
            so.intra_op_num_threads = _threads()
            so.inter_op_num_threads = 1
            so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
            so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
            so.log_severity_level = 3
            sess = ort.InferenceSession(blob, so, providers=["CPUExecutionProvider"])
            self._times = {"graph_build_s": t1 - t0, "session_s": time.perf_counter() - t1}
            self._sess[key] = sess
        return sess

    def setup(self, case):
        self.weights(case)
        self._times = {}
        self.session(case)
        t0 = time.perf_counter()
        self.run(case, 1)
        return dict(self._times, first_run_s=time.perf_counter() - t0)

    def run(self, case, samples):
        sess = self.session(case)
        arch = case.arch()
        W = self.weights(case)
        win = C.windows(case.series, case.look_back)
        y = win.y.astype(np.float64)
        out = np.empty(samples, dtype=np.float64)
        for s in range(samples):
            feed = native_feed(arch, W, s)
            feed["X"] = win.X
            p = sess.run(["pred"], feed)[0]
            out[s] = np.abs(p.astype(np.float64) - y).mean()
        return out


class NumpyBatched(_Given):
    """:func:`mae_ort.model.reference.maes` in float32, over chunks of ``NUMPY_CHUNK`` samples."""

    key = "numpy_batched"

    def samples_for(self, case, quick):
        # Its cost per sample is constant (chunks of 10), so a subset scales exactly: --quick times
        # 10 samples of the cases above 1 GFLOP, the full run 20 samples of those above 10 GFLOP.
        g = C.gflop(case)
        if quick and g > 1.0:
            return min(case.samples, 10)
        if g > 10.0:
            return min(case.samples, 20)
        return case.samples

    def setup(self, case):
        self.weights(case)
        t0 = time.perf_counter()
        self.run(case, 1)
        return {"first_run_s": time.perf_counter() - t0}

    def run(self, case, samples):
        from mae_ort.model.reference import maes

        arch = case.arch()
        W = self.weights(case)
        win = C.windows(case.series, case.look_back)
        out = np.empty(samples, dtype=np.float64)
        for a in range(0, samples, NUMPY_CHUNK):
            b = min(samples, a + NUMPY_CHUNK)
            out[a:b] = maes(arch, win.X, win.y, [w[a:b] for w in W], dtype=np.float32)
        return out


def make(key: str) -> Contender:
    """A contender by key."""
    if key == "maeort_auto":
        return MaeOrt(key, "auto")
    if key == "maeort_ort":
        return MaeOrt(key, "onnxruntime")
    if key == "maeort_numba":
        return MaeOrt(key, "numba")
    if key == "maeort_cuda":
        return MaeOrt(key, "onnxruntime", "cuda")
    if key == "keras_loop":
        return KerasLoop()
    if key == "keras_evaluate":
        return KerasEvaluate()
    if key == "ort_native":
        return OrtNative()
    if key == "numpy_batched":
        return NumpyBatched()
    from bench.peers import GPU_PEERS, PEERS, make_peer

    if key in PEERS + GPU_PEERS:
        return make_peer(key)
    raise KeyError(key)


# ---------------------------------------------------------------------------------
# worker processes
# ---------------------------------------------------------------------------------
def _settle(seconds: float = 0.05) -> None:
    """Let other processes' spinning threads park before a timed run."""
    gc.collect()
    time.sleep(seconds)


def handle(con: Contender, msg: tuple):
    """Execute one command; the reply is a plain dict (picklable, JSON-ready)."""
    cmd = msg[0]
    if cmd == "available":
        t0 = time.perf_counter()
        ok, why = con.available()
        t1 = time.perf_counter()
        if ok:
            con.preload()
        return {"ok": ok, "why": why, "import_s": getattr(con, "import_s", None) or (t1 - t0),
                "preload_s": time.perf_counter() - t1}
    if cmd == "setup":
        case = msg[1]
        return {"setup": con.setup(case), "info": con.info()}
    if cmd == "run":
        case, samples = msg[1], msg[2]
        _settle()
        t0 = time.perf_counter()
        maes = con.run(case, samples)
        dt = time.perf_counter() - t0
        return {"seconds": dt, "maes": [float(v) for v in maes], "info": con.info()}
    if cmd == "sweep":
        cases = msg[1]
        _settle()
        per, allm = [], []
        t0 = time.perf_counter()
        for case in cases:
            t = time.perf_counter()
            m = con.run(case, case.samples)
            per.append(time.perf_counter() - t)
            allm.append([float(v) for v in m])
        return {"seconds": time.perf_counter() - t0, "per_case": per, "maes": allm, "info": con.info()}
    raise ValueError(f"unknown command {cmd!r}")


def pin_threads() -> None:
    """With ``BENCH_THREADS=N`` set, hold this process to its first N cores (before any library starts its
    threads): every contender then sizes its pools by :func:`_threads`, so all run on N threads."""
    n = os.environ.get("BENCH_THREADS")
    if n and hasattr(os, "sched_setaffinity"):
        cpus = sorted(os.sched_getaffinity(0))
        os.sched_setaffinity(0, cpus[:max(1, int(n))])


def worker_main(conn, key: str, env: dict, log_path: str | None) -> None:
    """Body of a worker process: serve commands on ``conn`` until ``('quit',)``."""
    os.environ.update(env)
    pin_threads()
    if log_path:
        fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        os.dup2(fd, 2)
        os.dup2(fd, 1)
    _quiet()
    try:
        con = make(key)
    except Exception as e:  # pragma: no cover
        conn.send({"error": f"{type(e).__name__}: {e}"})
        return
    conn.send({"ready": True, "pid": os.getpid()})
    while True:
        try:
            msg = conn.recv()
        except EOFError:
            return
        if msg[0] == "quit":
            return
        try:
            reply = handle(con, msg)
        except Exception as e:
            reply = {"error": f"{type(e).__name__}: {e}", "trace": traceback.format_exc(limit=8)}
        conn.send(reply)


#: Every worker started and not yet closed (:func:`kill_all` ends them on an interrupt).
_LIVE: list = []


def kill_all() -> None:
    """Kill every worker still running (an interrupted suite leaves none behind)."""
    while _LIVE:
        _LIVE.pop().kill()


class Worker:
    """A contender in its own (spawned) process.

    The process starts with SIGINT ignored: a Ctrl-C reaches the whole process group, and the
    suite alone answers it (it kills its workers and says so in one line).
    """

    def __init__(self, key: str, *, env: dict | None = None, log_dir: str | None = None) -> None:
        import multiprocessing as mp

        ctx = mp.get_context("spawn")
        self.key = key
        self.conn, child = ctx.Pipe()
        log = os.path.join(log_dir, f"{key}.log") if log_dir else None
        self.proc = ctx.Process(target=worker_main, args=(child, key, dict(env or {}), log), daemon=True)
        main = threading.current_thread() is threading.main_thread()
        old = signal.signal(signal.SIGINT, signal.SIG_IGN) if main else None
        try:
            self.proc.start()  # the child inherits the ignored SIGINT (kept across exec)
        finally:
            if main:
                signal.signal(signal.SIGINT, old)
        _LIVE.append(self)
        child.close()
        self.ready = None

    def wait_ready(self, timeout: float = 300.0) -> dict:
        if self.ready is None:
            self.ready = self._recv(timeout)
        return self.ready

    def _recv(self, timeout: float) -> dict:
        if not self.conn.poll(timeout):
            self.kill()
            return {"error": f"no answer within {timeout:.0f} s (worker killed)"}
        try:
            return self.conn.recv()
        except EOFError:
            return {"error": f"worker died (exit code {self.proc.exitcode})"}

    def send(self, *msg) -> dict | None:
        """Send a command; None when sent, else the error (answer with :meth:`recv`)."""
        r = self.wait_ready()
        if "error" in r:
            return r
        if not self.proc.is_alive():
            return {"error": f"worker died (exit code {self.proc.exitcode})"}
        self.conn.send(msg)
        return None

    def recv(self, timeout: float = 1800.0) -> dict:
        return self._recv(timeout)

    def call(self, *msg, timeout: float = 1800.0) -> dict:
        err = self.send(*msg)
        return err if err is not None else self._recv(timeout)

    def kill(self) -> None:
        if self.proc.is_alive():
            self.proc.kill()
        self.proc.join(5)
        if self in _LIVE:
            _LIVE.remove(self)

    def request_quit(self) -> None:
        try:
            if self.proc.is_alive() and not getattr(self, "_quit_sent", False):
                self.conn.send(("quit",))
                self._quit_sent = True
        except (BrokenPipeError, OSError):
            pass

    def close(self) -> None:
        self.request_quit()
        self.proc.join(20)
        self.kill()


# ---------------------------------------------------------------------------------
# one run in a fresh process: peak memory
# ---------------------------------------------------------------------------------
def memory_main(key: str, case: C.Case, samples: int) -> dict:
    """Import, set up (incl. a warm-up call), then measure one run of ``samples`` samples.

    ``peak_rss`` is the process' peak resident set (VmHWM) during the measured run,
    libraries included; ``run_delta`` is that peak minus the resident set just before
    the run: the memory the run itself needed (buffers, intermediates, arena growth).
    """
    from bench import machine as M

    _quiet()
    rss0 = M.rss_bytes()
    con = make(key)
    ok, why = con.available()
    if not ok:
        return {"error": why}
    con.setup(case)
    gc.collect()
    before = M.rss_bytes()
    reset = M.reset_peak_rss()
    con.run(case, samples)
    peak = M.peak_rss_bytes()
    return {"peak_rss": peak, "rss_before_run": before, "rss_at_start": rss0,
            "run_delta": None if (peak is None or before is None) else max(0, peak - before),
            "hwm_reset": reset, "samples": samples}


if __name__ == "__main__":  # python -m bench.contenders memory KEY CASE_JSON SAMPLES
    pin_threads()
    if len(sys.argv) == 5 and sys.argv[1] == "memory":
        case = C.Case.from_dict(json.loads(sys.argv[3]))
        try:
            res = memory_main(sys.argv[2], case, int(sys.argv[4]))
        except Exception as e:
            res = {"error": f"{type(e).__name__}: {e}"}
        sys.stdout.flush()
        print("BENCH-RESULT " + json.dumps(res), flush=True)
    else:
        print(__doc__)
        sys.exit(2)
