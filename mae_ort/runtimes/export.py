"""ONNX graphs of recurrent architectures with the weights as graph inputs.

One graph serves a whole *family* at one look-back: cell, depth, activations and
head are fixed, while the number of weight samples ``S``, windows ``N``, input and
output widths and every layer's width are symbolic.  So a sweep over thousands of
architectures of one depth builds one graph per look-back.  The time loop is
unrolled (``look_back`` steps): measured faster than an ONNX ``Loop`` and simpler.

Graph inputs (all float32)::

    X                       (N, LB, n_in)     windows, shared by every sample
    y                       (N, n_out)        targets
    l{k}.kernel             (S, d_k, g*H_k)   Keras kernel of layer k (d_0 = n_in, d_k = H_{k-1})
    l{k}.recurrent_kernel   (S, H_k, g*H_k)
    l{k}.bias               (S, g*H_k)        GRU: (S, 2, 3*H_k), rows input / recurrent bias
    head.kernel             (S, H_last, n_out)
    head.bias               (S, n_out)

with ``g`` = 4 (LSTM, gates i f c o), 3 (GRU, z r h) or 1 (SimpleRNN), exactly the
Keras layouts.  Outputs: ``mae`` (S,) the mean absolute error of each sample over
all windows and target columns, and ``pred`` (S, N, n_out).  Any onnxruntime user
can feed them with numpy arrays; see :func:`save_model`.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper

from .._checks import check_int
from .._files import write_atomic
from ..errors import DataError
from ..model.architecture import Architecture

__all__ = ["EXPORTER_VERSION", "OPSET", "build_model", "graph_key", "model_bytes", "save_model", "writable_path",
           "cache_dir"]

#: Bump whenever the graph a spec produces changes: it is part of the cache key.
EXPORTER_VERSION = "4"  # 3: no unused initializer; 4: the last hidden states are an output (h_last)
OPSET = 18
_FLOAT = TensorProto.FLOAT


class _Graph:
    """A thin builder: ``g.op('MatMul', a, b)`` appends a node and returns its output name."""

    def __init__(self) -> None:
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []
        self._count = 0

    def op(self, op_type: str, *inputs: str, name: str | None = None, **attrs) -> str:
        self._count += 1
        out = name or f"{op_type.lower()}_{self._count}"
        self.nodes.append(helper.make_node(op_type, list(inputs), [out], name=f"n{self._count}_{op_type}", **attrs))
        return out

    def ops(self, op_type: str, *inputs: str, outputs: list[str], **attrs) -> list[str]:
        self._count += 1
        self.nodes.append(helper.make_node(op_type, list(inputs), outputs, name=f"n{self._count}_{op_type}", **attrs))
        return outputs

    def const(self, name: str, values, dtype=np.int64) -> str:
        if any(t.name == name for t in self.initializers):
            return name
        self.initializers.append(onnx.numpy_helper.from_array(np.asarray(values, dtype=dtype), name))
        return name


def _act(g: _Graph, name: str, x: str, out: str | None = None) -> str:
    """Append the activation ``name`` applied to ``x``."""
    if name == "linear":
        return g.op("Identity", x, name=out)
    if name == "tanh":
        return g.op("Tanh", x, name=out)
    if name == "sigmoid":
        return g.op("Sigmoid", x, name=out)
    if name == "relu":
        return g.op("Relu", x, name=out)
    if name == "hard_sigmoid_keras2":  # clip(0.2 x + 0.5, 0, 1): ONNX HardSigmoid's defaults
        return g.op("HardSigmoid", x, name=out, alpha=0.2, beta=0.5)
    if name == "hard_sigmoid":  # Keras 3: relu6(x + 3) / 6
        return g.op("HardSigmoid", x, name=out, alpha=1.0 / 6.0, beta=0.5)
    raise ValueError(f"unknown activation {name!r}")  # spec.Architecture validates names first


def _gates(g: _Graph, inp: str, parts: list[str]) -> list[str]:
    """``inp @ W`` for each gate block of ``W``: one batched product per gate.

    ``inp`` is (S, 1, N, R) and each part (S, 1, R, H), so every gate's
    pre-activation comes out contiguous, (S, 1, N, H), with no split of the
    activations (measured ~10% faster than one product followed by a split).
    """
    return [g.op("MatMul", inp, p) for p in parts]


def _gate_major(g: _Graph, W: str, n: int) -> list[str]:
    """(S, R, n*H) in Keras layout -> its ``n`` gate blocks, each (S, 1, R, H)."""
    W4 = g.op("Unsqueeze", W, "axis1")
    if n == 1:
        return [W4]
    return g.ops("Split", W4, outputs=[f"{W}.g{q}" for q in range(n)], axis=-1, num_outputs=n)


def _layer(g: _Graph, arch: Architecture, k: int, seq: list[str], ones: str) -> list[str]:
    """Append layer k over all steps; ``seq`` are its inputs (S, 1, N, d); returns its h's."""
    n = arch.gates
    K, U, bias = f"l{k}.kernel", f"l{k}.recurrent_kernel", f"l{k}.bias"
    ra = lambda x: _act(g, arch.recurrent_activation, x)  # noqa: E731
    a = lambda x, out=None: _act(g, arch.activation, x, out)  # noqa: E731
    if arch.cell == "gru":
        b_in, b_rec = g.ops("Split", bias, outputs=[f"l{k}.b_in", f"l{k}.b_rec"], axis=1, num_outputs=2)
        Wx = _gate_major(g, g.op("Concat", K, b_in, axis=1), n)           # rows: x, 1
        Wh = _gate_major(g, g.op("Concat", U, b_rec, axis=1), n)          # rows: h, 1
        rz, rr, rh = _gate_major(g, b_rec, n)                             # (S, 1, 1, H) each
    else:
        b = g.op("Unsqueeze", bias, "axis1")
        W0 = _gate_major(g, g.op("Concat", K, b, axis=1), n)              # rows: x, 1
        W = _gate_major(g, g.op("Concat", K, b, U, axis=1), n)            # rows: x, 1, h
    h = c = None
    out = []
    for t in range(len(seq)):
        name_h, name_c = f"l{k}.h.t{t}", f"l{k}.c.t{t}"
        x1 = g.op("Concat", seq[t], ones, axis=-1)
        if arch.cell == "lstm":
            if h is None:
                zi, zf, zc, zo = _gates(g, x1, W0)
                c = g.op("Mul", ra(zi), a(zc), name=name_c)
            else:
                zi, zf, zc, zo = _gates(g, g.op("Concat", x1, h, axis=-1), W)
                c = g.op("Add", g.op("Mul", ra(zf), c), g.op("Mul", ra(zi), a(zc)), name=name_c)
            h = g.op("Mul", ra(zo), a(c), name=name_h)
        elif arch.cell == "gru":
            xz, xr, xh = _gates(g, x1, Wx)
            if h is None:
                hz, hr, hh = rz, rr, rh
            else:
                hz, hr, hh = _gates(g, g.op("Concat", h, ones, axis=-1), Wh)
            z = ra(g.op("Add", xz, hz))
            cand = a(g.op("Add", xh, g.op("Mul", ra(g.op("Add", xr, hr)), hh)))
            if h is None:  # h = (1 - z) * cand
                h = g.op("Mul", g.op("Sub", g.const("one", 1.0, np.float32), z), cand, name=name_h)
            else:  # h = z * h + (1 - z) * cand  ==  cand + z * (h - cand)
                h = g.op("Add", cand, g.op("Mul", z, g.op("Sub", h, cand)), name=name_h)
        else:
            zin = x1 if h is None else g.op("Concat", x1, h, axis=-1)
            h = a(_gates(g, zin, W0 if h is None else W)[0], name_h)
        out.append(h)
    return out


def build_model(arch: Architecture, look_back: int) -> onnx.ModelProto:
    """The ONNX model of ``arch``'s family at ``look_back`` (see the module docstring)."""
    look_back = check_int(look_back, "look_back", "build_model", low=1)
    g = _Graph()
    inputs = [
        helper.make_tensor_value_info("X", _FLOAT, ["N", look_back, "n_in"]),
        helper.make_tensor_value_info("y", _FLOAT, ["N", "n_out"]),
    ]
    g.const("axis1", [1])
    # Shapes: S from the first kernel, N and n_in from X; ones (S, 1, N, 1) carries the biases.
    s_ = g.op("Shape", "l0.kernel", end=1)
    n_ = g.op("Shape", "X", end=1)
    size_x = g.op("Concat", s_, g.const("c1", [1]), n_, g.op("Shape", "X", start=2), axis=0)
    ones = g.op("Expand", g.const("one4", np.ones((1, 1, 1, 1)), np.float32),
                g.op("Concat", s_, "c1", n_, "c1", axis=0), name="ones")
    # Layer 0's input at step t: X[:, t, :] broadcast to (S, 1, N, n_in)
    seq = [g.op("Expand", g.op("Gather", "X", g.const(f"t{t}", t), axis=1), size_x, name=f"x.t{t}")
           for t in range(look_back)]
    d = "n_in"
    for k in range(arch.depth):
        G, H = f"G{k}", f"H{k}"
        inputs.append(helper.make_tensor_value_info(f"l{k}.kernel", _FLOAT, ["S", d, G]))
        inputs.append(helper.make_tensor_value_info(f"l{k}.recurrent_kernel", _FLOAT, ["S", H, G]))
        bias_shape = ["S", 2, G] if arch.cell == "gru" else ["S", G]
        inputs.append(helper.make_tensor_value_info(f"l{k}.bias", _FLOAT, bias_shape))
        seq = _layer(g, arch, k, seq, ones)
        d = H
    inputs.append(helper.make_tensor_value_info("head.kernel", _FLOAT, ["S", d, "n_out"]))
    inputs.append(helper.make_tensor_value_info("head.bias", _FLOAT, ["S", "n_out"]))
    last = g.ops("Squeeze", seq[-1], "axis1", outputs=["h_last"])[0]  # (S, N, H): also an output (the readout)
    logits = g.op("Add", g.op("MatMul", last, "head.kernel"), g.op("Unsqueeze", "head.bias", "axis1"))
    _act(g, arch.head_activation, logits, out="pred")
    err = g.op("Abs", g.op("Sub", "pred", "y"))
    g.op("ReduceMean", err, g.const("axes12", [1, 2]), keepdims=0, name="mae")
    outputs = [
        helper.make_tensor_value_info("mae", _FLOAT, ["S"]),
        helper.make_tensor_value_info("pred", _FLOAT, ["S", "N", "n_out"]),
        helper.make_tensor_value_info("h_last", _FLOAT, ["S", "N", arch.units[-1]]),
    ]
    docs = {
        "X": "windows (N, LB, n_in): X[i] = inputs[i:i+LB]",
        "y": "targets (N, n_out): y[i] = targets[i+LB]",
        "head.kernel": "Dense kernel (S, H_last, n_out)",
        "head.bias": "Dense bias (S, n_out)",
    }
    for vi in inputs:
        vi.doc_string = docs.get(vi.name, "Keras weight of one layer, leading axis = weight sample")
    graph = helper.make_graph(
        g.nodes, f"mae_ort_{arch.cell}_{arch.depth}l_lb{look_back}", inputs, outputs,
        initializer=_used_constants(g, {vi.name for vi in inputs}),
        doc_string=_describe(arch, look_back),
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="mae-ort",
                              producer_version=EXPORTER_VERSION)
    model.ir_version = 8
    helper.set_model_props(model, {"family": repr(arch.family), "look_back": str(look_back)})
    return model


def _used_constants(g: _Graph, input_names: set[str]) -> list[onnx.TensorProto]:
    """The graph's constants that some node reads; none may share a name with a graph input.

    onnxruntime removes an unused initializer with a warning on every session, and
    an initializer named like an input would silently become the input's default.
    """
    read = {name for node in g.nodes for name in node.input}
    shadowing = [t.name for t in g.initializers if t.name in input_names]
    if shadowing:  # pragma: no cover - a bug in this module
        raise AssertionError(f"constants shadow graph inputs: {shadowing}")
    return [t for t in g.initializers if t.name in read]


def _describe(arch: Architecture, look_back: int) -> str:
    return (
        f"mae-ort {arch.depth}-layer {arch.cell} (activation={arch.activation}, "
        f"recurrent_activation={arch.recurrent_activation}, head={arch.head_activation}), look_back={look_back}; "
        "weights are inputs with a leading sample axis S; outputs mae (S,), pred (S, N, n_out) "
        "and h_last (S, N, H_last), the last layer's final hidden states."
    )


def graph_key(arch: Architecture, look_back: int) -> str:
    """Cache key: a hash of the family, the look-back, the opset and the exporter version."""
    text = repr((arch.family, int(look_back), OPSET, EXPORTER_VERSION, onnx.__version__.split(".")[0]))
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def cache_dir() -> Path:
    """Where exported graphs are cached: ``$MAE_ORT_CACHE`` or ``~/.cache/mae-ort``."""
    root = os.environ.get("MAE_ORT_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "mae-ort")
    return Path(root) / "graphs"


def _digest(key: str, data: bytes) -> str:
    """The content hash recorded beside a cached graph: the graph's bytes and the key it is filed under."""
    return hashlib.sha256(key.encode() + b"\0" + data).hexdigest()


def model_bytes(arch: Architecture, look_back: int, *, use_cache: bool = True) -> bytes:
    """The serialized model, from the on-disk cache when present and intact (written atomically).

    Each cached ``<key>.onnx`` has a ``<key>.onnx.sha256`` beside it: the hash of its bytes and
    its key.  A file whose hash does not match (changed, truncated, or another graph copied over
    it) is rebuilt with a one-line :class:`~mae_ort.errors.MaeOrtWarning` naming it; a file
    without one (an older cache) is rebuilt quietly.
    """
    key = graph_key(arch, look_back)
    path = cache_dir() / f"{key}.onnx"
    sums = path.with_name(path.name + ".sha256")
    if use_cache and path.exists():
        try:
            data, recorded = path.read_bytes(), (sums.read_text().strip() if sums.exists() else None)
        except OSError:
            data = recorded = None
        if data is not None and recorded == _digest(key, data):
            return data
        if recorded is not None:
            import warnings

            from ..errors import MaeOrtWarning

            warnings.warn(f"the cached graph {str(path)!r} does not match the architecture it is filed under "
                          f"(the {arch.depth}-layer {arch.cell} family at look-back {look_back}; its content hash "
                          f"differs from {sums.name}); rebuilt it", MaeOrtWarning, stacklevel=2)
    data = build_model(arch, look_back).SerializeToString()
    if use_cache:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            if sums.exists():
                sums.unlink()  # a graph is trusted only once its hash is written after it
            write_atomic(path, data)
            write_atomic(sums, _digest(key, data) + "\n")
        except OSError:  # a read-only home: serve from memory
            pass
    return data


def save_model(arch: Architecture, look_back: int, path: str | Path) -> Path:
    """Write ``arch``'s family graph at ``look_back`` to ``path`` for use outside mae-ort.

    Examples
    --------
    >>> import onnxruntime as ort                                     # doctest: +SKIP
    >>> sess = ort.InferenceSession("lstm2.onnx")                      # doctest: +SKIP
    >>> mae, = sess.run(["mae"], {"X": X, "y": y, "l0.kernel": K0, ...})  # doctest: +SKIP
    """
    p = writable_path(path)
    data = model_bytes(arch, look_back)
    try:
        write_atomic(p, data)
    except OSError as e:
        raise DataError(f"cannot write the model to {str(p)!r}: {e.strerror or type(e).__name__}") from e
    return p


def writable_path(path: str | Path) -> Path:
    """``path``, after checking that a file can be written there (nothing is created or changed).

    Call it before long work whose result goes to ``path`` (``mae-ort sample
    --save-model``), so that a typo costs nothing.

    Raises
    ------
    DataError
        ``path`` is a folder, its folder does not exist, or the file cannot be opened for writing.
    """
    p = Path(path).expanduser()
    where = repr(str(p))
    if p.is_dir():
        raise DataError(f"cannot write the model to {where}: it is a folder; give a file name such as "
                        f"{str(p / 'model.onnx')!r}")
    parent = p.parent
    if not parent.exists():
        raise DataError(f"cannot write the model to {where}: the folder {str(parent)!r} does not exist; create it "
                        "first")
    if not parent.is_dir():
        raise DataError(f"cannot write the model to {where}: {str(parent)!r} is a file, not a folder")
    existed = p.exists()
    try:
        with open(p, "ab"):
            pass
    except OSError as e:
        raise DataError(f"cannot write the model to {where}: {e.strerror or type(e).__name__}") from e
    if not existed:
        try:
            p.unlink()
        except OSError:  # pragma: no cover - created a moment ago
            pass
    return p
