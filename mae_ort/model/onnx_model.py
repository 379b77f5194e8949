"""Your own forecaster as an ONNX file: read it, check it, and lift its weights to graph inputs.

A model in (a path, bytes or an ``onnx.ModelProto``) must have one data input of windows,
``[windows, look_back, features]`` by default (``layout`` names another axis order, e.g.
``"TNF"`` time-major or ``"NFT"`` channels-first), and one output of one value per window,
``[windows, 1]`` or ``[windows]``.  :func:`read_model` then

* lifts every float initializer of the main graph (float32, float64, float16, bfloat16) to a
  graph input of the same name, shape and type (the weights-as-inputs contract of
  :mod:`mae_ort.runtimes.export`, without the sample axis: one weight set per run), keeping
  integer and boolean initializers (shapes, indices) where they are;
* lists the weight tensors (:class:`WeightTensor`: name, shape, the file's standard deviation);
* adds the named ``feature`` tensor (any intermediate value) as an extra output, for the
  readout score;
* hashes the file's bytes (:attr:`OnnxModel.digest`): stored rows are keyed by it.

Every misfit is an :class:`~mae_ort.errors.OnnxModelError` naming what was found and what
was expected.  Pure graph surgery with the ``onnx`` package: opening an onnxruntime session
(which refuses opsets it cannot run) is :mod:`mae_ort.runtimes.own`'s.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import InvalidParameterError, OnnxModelError

__all__ = ["LAYOUTS", "OnnxModel", "OwnModelKey", "WeightTensor", "read_model", "FLOAT_TYPES"]

#: Axis orders of the data input: ``N`` windows, ``T`` time steps (the look-back), ``F`` features.
LAYOUTS = ("NTF", "TNF", "NFT", "NCT")  # NCT: an alias of NFT (channels-first, as torch.nn.Conv1d)


def _float_types():
    from onnx import TensorProto

    return {TensorProto.FLOAT: np.float32, TensorProto.DOUBLE: np.float64, TensorProto.FLOAT16: np.float16,
            TensorProto.BFLOAT16: np.float32}


FLOAT_TYPES = ("float", "double", "float16", "bfloat16")


@dataclass(frozen=True)
class WeightTensor:
    """One weight tensor of an own model (a lifted float initializer).

    Attributes
    ----------
    name : str
        Its name in the graph (now a graph input).
    shape : tuple of int
        Its shape (no sample axis).
    dtype : str
        numpy dtype name of the values fed to it (``float32``, ``float64``, ``float16``).
    std : float
        The population standard deviation of the file's values (the per-tensor scale of
        ``scale="file"``).
    """

    name: str
    shape: tuple
    dtype: str
    std: float

    @property
    def size(self) -> int:
        """Number of values."""
        return int(np.prod(self.shape, dtype=np.int64))


@dataclass(frozen=True)
class OwnModelKey:
    """The fields that key an own model's stored rows (duck-typed like an :class:`Architecture`).

    A row of an own model is stored like a built-in one with ``cell="onnx"``, ``activation`` =
    the file's content hash, ``recurrent_activation`` = the hash of the options that change its
    MAEs or scores (data input and layout, output, feature tensor, per-tensor scale, frozen
    tensors), ``head_activation="onnx"`` and ``units`` = its number of weights.
    """

    digest: str
    options: str
    n_weights: int
    file: str = "model.onnx"

    cell = "onnx"
    head_activation = "onnx"
    depth = 1

    @property
    def activation(self) -> str:
        return self.digest

    @property
    def recurrent_activation(self) -> str:
        return self.options

    @property
    def units(self) -> tuple:
        return (int(self.n_weights),)

    @property
    def family(self) -> tuple:
        return ("onnx", self.digest, self.options)

    def label(self) -> str:
        """``onnx[forecaster.onnx]``."""
        return f"onnx[{self.file}]"

    def describe(self) -> str:
        """``forecaster.onnx (1234 weights, onnx 0123abcd)``."""
        return f"{self.file} ({self.n_weights} weights, onnx {self.digest[:8]})"

    def to_dict(self) -> dict:
        """Plain fields, JSON-ready (the stored key's columns and the file's name)."""
        return {"units": [int(self.n_weights)], "cell": self.cell, "activation": self.digest,
                "recurrent_activation": self.options, "head_activation": self.head_activation, "file": self.file}


@dataclass(frozen=True, eq=False)
class OnnxModel:
    """An own forecaster read by :func:`read_model`: its graph with the weights as inputs.

    Attributes
    ----------
    name : str
        The file's name (or ``model.onnx`` for a model given in memory).
    digest : str
        The first 16 hex digits of the SHA-256 of the file's bytes.
    data_input : str
        The graph input that takes the windows.
    layout : str
        Its axis order (:data:`LAYOUTS`).
    output : str
        The output of one value per window.
    feature : str or None
        The tensor added as an output for the readout score.
    weights : tuple of WeightTensor
        The lifted weights, in the file's initializer order.
    look_back : int or None
        The input's fixed time axis, or None where it is dynamic.
    n_features : int or None
        The input's fixed feature axis, or None where it is dynamic.
    input_dtype : str
        numpy dtype name of the data input.
    opset : int
        The default-domain opset the file imports.
    """

    name: str
    digest: str
    data_input: str
    layout: str
    output: str
    feature: str | None
    weights: tuple
    look_back: int | None
    n_features: int | None
    input_dtype: str
    opset: int
    graph_bytes: bytes = field(repr=False)
    values: dict = field(repr=False)

    @property
    def n_weights(self) -> int:
        """Total number of weight values."""
        return int(sum(w.size for w in self.weights))

    @property
    def weight_names(self) -> list[str]:
        return [w.name for w in self.weights]

    def weight_shapes(self) -> list[tuple[str, tuple]]:
        """``(name, shape)`` of every weight tensor, in file order."""
        return [(w.name, w.shape) for w in self.weights]

    def options_text(self, *, scale: str = "fixed", frozen=()) -> str:
        """The options that change this model's MAEs or scores, as canonical JSON."""
        return json.dumps({"input": self.data_input, "layout": self.layout, "output": self.output,
                           "feature": self.feature, "scale": scale, "frozen": sorted(frozen)},
                          sort_keys=True, separators=(",", ":"))

    def key(self, *, scale: str = "fixed", frozen=()) -> OwnModelKey:
        """The key of this model's rows sampled with ``scale`` and ``frozen`` (see :class:`OwnModelKey`)."""
        opts = hashlib.sha256(self.options_text(scale=scale, frozen=frozen).encode()).hexdigest()[:12]
        return OwnModelKey(self.digest, opts, self.n_weights, self.name)

    def __repr__(self) -> str:
        return (f"OnnxModel({self.name!r}, {len(self.weights)} weight tensors, {self.n_weights} weights, "
                f"input {self.data_input!r} {self.layout}, output {self.output!r})")


def _dims(vi) -> list | None:
    """A value info's dims: ints, symbolic names (str) or None; None for an unknown rank."""
    t = vi.type.tensor_type
    if not t.HasField("shape"):
        return None
    out = []
    for d in t.shape.dim:
        if d.HasField("dim_value"):
            out.append(int(d.dim_value))
        elif d.HasField("dim_param"):
            out.append(d.dim_param)
        else:
            out.append(None)
    return out


def _shape_text(dims) -> str:
    if dims is None:
        return "unknown"
    return "[" + ", ".join("?" if d is None else str(d) for d in dims) + "]"


def _load(source, name: str | None):
    """``(ModelProto, bytes, name)`` of a path, bytes or ModelProto; not-ONNX and truncated files refused."""
    import onnx
    from google.protobuf.message import DecodeError

    if isinstance(source, onnx.ModelProto):
        data = source.SerializeToString()
        return source, data, name or "model.onnx"
    if isinstance(source, (bytes, bytearray)):
        data, label = bytes(source), name or "model.onnx"
        where = "the bytes given"
    elif isinstance(source, (str, Path)):
        p = Path(source).expanduser()
        where = repr(str(p))
        if p.is_dir():
            raise OnnxModelError(f"{where} is a folder, not an ONNX file")
        try:
            data = p.read_bytes()
        except FileNotFoundError:
            raise OnnxModelError(f"no ONNX file at {where}") from None
        except OSError as e:
            raise OnnxModelError(f"cannot read {where}: {e.strerror or e}") from None
        label = name or p.name
    else:
        raise InvalidParameterError(f"The 'model' parameter of own_model must be a path, bytes or an onnx.ModelProto. "
                                    f"Got {type(source).__name__} instead.")
    if not data:
        raise OnnxModelError(f"{where} is empty, not an ONNX model")
    try:
        model = onnx.load_from_string(data)
    except (DecodeError, ValueError, RuntimeError) as e:
        raise OnnxModelError(f"{where} is not an ONNX model, or is truncated ({len(data)} bytes): "
                             f"{' '.join(str(e).split()) or type(e).__name__}") from None
    if not model.HasField("graph") or not len(model.graph.node):
        raise OnnxModelError(f"{where} is not an ONNX model, or is truncated ({len(data)} bytes): it has no graph "
                             "nodes")
    if isinstance(source, (str, Path)) and any(t.data_location == 1 for t in model.graph.initializer):
        from onnx.checker import ValidationError
        from onnx.external_data_helper import load_external_data_for_model

        try:
            load_external_data_for_model(model, str(Path(source).expanduser().parent))
        except (OSError, ValueError, ValidationError) as e:  # ValidationError: a file outside the model's folder
            text = " ".join(str(e).split()) or type(e).__name__
            raise OnnxModelError(f"cannot read the external weights of {where}: {text}") from None
    return model, data, label


def _check(model, label: str) -> None:
    import onnx

    try:
        onnx.checker.check_model(model)
    except (onnx.checker.ValidationError, ValueError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise OnnxModelError(f"{label} is not a valid ONNX model (truncated or broken): {first}") from None


def _opset(model) -> int:
    for o in model.opset_import:
        if o.domain in ("", "ai.onnx"):
            return int(o.version)
    return 0


def read_model(source, *, input: str | None = None, layout: str = "NTF", output: str | None = None,
               feature: str | None = None, name: str | None = None) -> OnnxModel:
    """Read an ONNX forecaster and lift its float initializers to graph inputs (see the module docstring).

    Parameters
    ----------
    source : str, Path, bytes or onnx.ModelProto
        The model.
    input : str, optional
        The data input's name (default: the one graph input that is not an initializer).
    layout : str
        The data input's axis order: ``NTF`` (windows, look_back, features; default), ``TNF``
        (time-major) or ``NFT`` (channels-first).
    output : str, optional
        The output of one value per window (default: the graph's only output).
    feature : str, optional
        A tensor of the graph (any intermediate value) whose values per window feed the
        readout score; it becomes an extra output.
    name : str, optional
        The model's name in results (default: the file's name).

    Raises
    ------
    OnnxModelError
        Not ONNX or truncated; no float initializers; no, several or unknown data inputs, or one of
        the wrong rank; an output that is not one value per window; an unknown feature tensor.
    """
    import onnx
    from onnx import helper, numpy_helper

    if not isinstance(layout, str) or layout.upper() not in LAYOUTS:
        raise InvalidParameterError(f"The 'layout' parameter of own_model must be one of {', '.join(LAYOUTS[:3])} "
                                    f"(N windows, T time steps, F features). Got {layout!r} instead.")
    layout = "NFT" if layout.upper() == "NCT" else layout.upper()
    model, data, label = _load(source, name)
    _check(model, label)
    digest = hashlib.sha256(data).hexdigest()[:16]
    model = onnx.ModelProto.FromString(model.SerializeToString())  # a copy: the caller's stays as it was
    g = model.graph
    floats = _float_types()
    init_names = {t.name for t in g.initializer}

    # -- the data input ------------------------------------------------------------------
    free = [vi for vi in g.input if vi.name not in init_names]
    names = [vi.name for vi in free]
    if input is not None:
        match = [vi for vi in free if vi.name == input]
        if not match:
            raise OnnxModelError(f"{label} has no data input {input!r}; its inputs are {', '.join(names) or 'none'}")
        data_vi = match[0]
    elif len(free) == 1:
        data_vi = free[0]
    else:
        raise OnnxModelError(f"{label} has {len(free)} data inputs ({', '.join(names) or 'none'}); expected one, "
                             "[windows, look_back, features]: name it with input=")
    others = [n for n in names if n != data_vi.name]
    if others:
        raise OnnxModelError(f"{label} has inputs besides the windows {data_vi.name!r} that mae-ort cannot feed: "
                             f"{', '.join(others)}")
    dims = _dims(data_vi)
    if dims is not None and len(dims) != 3:
        raise OnnxModelError(f"the data input {data_vi.name!r} of {label} has rank {len(dims)} "
                             f"(shape {_shape_text(dims)}); expected rank 3, {layout_text(layout)}")
    elem = data_vi.type.tensor_type.elem_type
    if elem not in floats:
        raise OnnxModelError(f"the data input {data_vi.name!r} of {label} is of type "
                             f"{onnx.TensorProto.DataType.Name(elem)}; expected a float tensor of windows")
    look_back = n_features = None
    if dims is not None:
        ax = {c: dims[i] for i, c in enumerate(layout)}
        look_back = ax["T"] if isinstance(ax["T"], int) and ax["T"] > 0 else None
        n_features = ax["F"] if isinstance(ax["F"], int) and ax["F"] > 0 else None
        if isinstance(ax["N"], int) and ax["N"] > 0:
            raise OnnxModelError(f"the data input {data_vi.name!r} of {label} has a fixed windows axis "
                                 f"(shape {_shape_text(dims)}, layout {layout}); mae-ort runs all windows at once: "
                                 "export it with a dynamic first axis (torch.onnx.export(..., dynamic_axes={"
                                 f"'{data_vi.name}': {{{layout.index('N')}: 'windows'}}}}))")

    # -- the output ------------------------------------------------------------------------
    outs = [o.name for o in g.output]
    if output is not None:
        if output not in outs:
            raise OnnxModelError(f"{label} has no output {output!r}; its outputs are {', '.join(outs)}")
        out_name = output
    elif len(outs) == 1:
        out_name = outs[0]
    else:
        raise OnnxModelError(f"{label} has {len(outs)} outputs ({', '.join(outs)}); name the one of one value per "
                             "window with output=")
    try:
        inferred = onnx.shape_inference.infer_shapes(model)
    except Exception:  # noqa: BLE001 - shape inference is a help here, not a check
        inferred = model
    declared = _dims(next(o for o in g.output if o.name == out_name))
    found = _dims(next(o for o in inferred.graph.output if o.name == out_name))
    not_one = lambda d: not (len(d) == 1 or (len(d) == 2 and d[1] in (1, None)))  # noqa: E731  None: unknown
    # a declared shape is the exporter's word; an inferred one counts where its sizes are known (else: checked on
    # the first run, :mod:`mae_ort.runtimes.own`)
    odims = declared if declared is not None and not_one(declared) else (
        found if found is not None and not_one(found) and all(isinstance(d, int) for d in found[1:]) else None)
    if odims is not None:
        raise OnnxModelError(f"the output {out_name!r} of {label} has shape {_shape_text(odims)}; expected one value "
                             "per window, [windows, 1] or [windows]")

    # -- the weights -------------------------------------------------------------------------
    lifted = [t for t in g.initializer if t.data_type in floats]
    if not lifted:
        raise OnnxModelError(f"{label} has no float initializers: no weights to sample (weights stored as Constant "
                             "nodes or fed as inputs are not seen; export the parameters as initializers)")
    weights, values = [], {}
    for t in lifted:
        arr = numpy_helper.to_array(t)
        if t.data_type == onnx.TensorProto.BFLOAT16:
            arr = arr.astype(np.float32)
        v64 = np.asarray(arr, dtype=np.float64)
        std = float(v64.std()) if v64.size else 0.0
        dtype = np.dtype(floats[t.data_type]).name
        weights.append(WeightTensor(t.name, tuple(int(d) for d in arr.shape), dtype, std))
        values[t.name] = np.array(arr, dtype=dtype, order="C")  # 0-d stays 0-d
    lifted_names = {t.name for t in lifted}
    keep = [t for t in g.initializer if t.name not in lifted_names]
    del g.initializer[:]
    g.initializer.extend(keep)
    kept_inputs = [vi for vi in g.input if vi.name not in lifted_names]
    del g.input[:]
    g.input.extend(kept_inputs)
    for t in lifted:
        g.input.append(helper.make_tensor_value_info(t.name, t.data_type, list(t.dims)))

    # -- the feature tensor ------------------------------------------------------------------
    if feature is not None:
        known = {o for n in g.node for o in n.output} | {vi.name for vi in g.input}
        if feature not in known:
            raise OnnxModelError(f"{label} has no tensor {feature!r} to read features from; name an output of one of "
                                 f"its nodes (e.g. {', '.join(_some_values(g))})")
        if feature not in outs:
            types = {vi.name: vi for vi in list(inferred.graph.value_info) + list(inferred.graph.input)}
            vi = types.get(feature)
            elem_f = vi.type.tensor_type.elem_type if vi is not None else onnx.TensorProto.FLOAT
            g.output.append(helper.make_tensor_value_info(feature, elem_f, None))
    return OnnxModel(name=label, digest=digest, data_input=data_vi.name, layout=layout, output=out_name,
                     feature=feature, weights=tuple(weights), look_back=look_back, n_features=n_features,
                     input_dtype=np.dtype(floats[elem]).name, opset=_opset(model),
                     graph_bytes=model.SerializeToString(), values=values)


def layout_text(layout: str) -> str:
    """``NTF`` -> ``[windows, look_back, features]``."""
    words = {"N": "windows", "T": "look_back", "F": "features"}
    return "[" + ", ".join(words[c] for c in layout) + "]"


def _some_values(g, k: int = 4) -> list[str]:
    names = [o for n in g.node for o in n.output if o]
    return [repr(n) for n in names[-k - 1:-1]] or ["none"]
