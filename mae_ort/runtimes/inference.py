"""A plain ONNX inference graph of one trained network: its weights as initializers, windows in, predictions out.

Built from the same graph the sampler runs (:mod:`mae_ort.runtimes.export`): the weight
inputs become initializers holding one weight set (sample axis of size 1), the ``y`` input
and the ``mae`` output are cut away, and the predictions lose the sample axis.  The file
runs on onnxruntime alone: ``InferenceSession(path).run(["y_pred"], {"X": X})`` with ``X`` of
shape (N, LB, n_in), float32, gives ``y_pred`` of shape (N, n_out).

With ``target_form="delta"`` the graph forecasts the level: it adds the target's last value to the
network's output, read from the window's last step when the target is an input (``target_inputs``),
else from a second input ``last`` of shape (N, n_out).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import helper, numpy_helper

from .._checks import check_int
from .._files import write_atomic
from ..data import check_target_form
from ..errors import InvalidParameterError
from ..model.architecture import Architecture
from .export import build_model

__all__ = ["inference_model", "save_inference_model"]


def inference_model(arch: Architecture, look_back: int, weights: list[np.ndarray], *, n_in: int,
                    n_out: int, target_form: str = "level", target_inputs=None) -> onnx.ModelProto:
    """The inference graph of ``arch`` at ``look_back`` with one set of weights (Keras order, per-sample shapes).

    ``target_form="delta"``: ``y_pred`` is the network's output plus the target's last value (the
    input column ``target_inputs[j]`` of the window's last step for target ``j``, or with
    ``target_inputs=None`` a second graph input ``last`` (N, n_out)).

    Raises
    ------
    InvalidParameterError
        Weights of the wrong number or shapes.
    """
    look_back = check_int(look_back, "look_back", "inference_model", low=1)
    target_form = check_target_form(target_form, "inference_model")
    shapes = arch.weight_shapes(n_in, n_out)
    if len(weights) != len(shapes):
        raise InvalidParameterError(f"{arch.label()} has {len(shapes)} weight arrays; got {len(weights)}")
    model = build_model(arch, look_back)
    graph = model.graph
    inits = []
    for (name, shape), w in zip(shapes, weights):
        w = np.asarray(w, dtype=np.float32)
        if tuple(w.shape) != tuple(shape):
            raise InvalidParameterError(f"weight {name!r} of {arch.label()} must have shape {shape}; got {w.shape}")
        inits.append(numpy_helper.from_array(w[None], name))
    weight_names = {n for n, _ in shapes}
    keep_inputs = [vi for vi in graph.input if vi.name == "X"]
    del graph.input[:]
    graph.input.extend(keep_inputs)
    graph.initializer.extend(inits)
    squeeze_axes = helper.make_tensor("axis0", onnx.TensorProto.INT64, [1], [0])
    graph.initializer.append(squeeze_axes)
    if target_form == "level":
        graph.node.append(helper.make_node("Squeeze", ["pred", "axis0"], ["y_pred"], name="y_pred"))
    else:
        graph.node.append(helper.make_node("Squeeze", ["pred", "axis0"], ["y_change"], name="y_change"))
        if target_inputs is not None:
            if len(target_inputs) != n_out:
                raise InvalidParameterError(f"{len(target_inputs)} target input column(s) for n_out={n_out}")
            graph.initializer.append(helper.make_tensor("last_step", onnx.TensorProto.INT64, [], [look_back - 1]))
            graph.initializer.append(helper.make_tensor("last_columns", onnx.TensorProto.INT64, [n_out],
                                                        [int(i) for i in target_inputs]))
            graph.node.append(helper.make_node("Gather", ["X", "last_step"], ["last_row"], axis=1, name="last_row"))
            graph.node.append(helper.make_node("Gather", ["last_row", "last_columns"], ["last"], axis=1,
                                               name="last"))
        graph.node.append(helper.make_node("Add", ["y_change", "last"], ["y_pred"], name="y_pred"))
    del graph.output[:]
    graph.output.append(helper.make_tensor_value_info("y_pred", onnx.TensorProto.FLOAT, ["N", n_out]))
    # Drop what only the MAE needed (nodes that do not lead to y_pred).
    needed = {"y_pred"}
    kept = []
    for node in reversed(list(graph.node)):
        if any(o in needed for o in node.output):
            kept.append(node)
            needed.update(node.input)
    del graph.node[:]
    graph.node.extend(reversed(kept))
    used = [t for t in graph.initializer if t.name in needed or t.name in weight_names]
    if target_form == "delta" and target_inputs is None:
        graph.input.append(helper.make_tensor_value_info("last", onnx.TensorProto.FLOAT, ["N", n_out]))
    del graph.initializer[:]
    graph.initializer.extend(used)
    extra = "" if target_form == "level" else (
        f" + last value (input 'last' (N, {n_out}))" if target_inputs is None else " + last value (from X)")
    graph.doc_string = (f"mae-ort trained {arch.describe()}, look_back={look_back}: X (N, {look_back}, {n_in}) -> "
                        f"y_pred (N, {n_out}){extra}")
    onnx.checker.check_model(model)
    return model


def save_inference_model(arch: Architecture, look_back: int, weights: list[np.ndarray], path, *, n_in: int,
                         n_out: int, target_form: str = "level", target_inputs=None) -> Path:
    """Write :func:`inference_model` to ``path`` and return it."""
    return write_atomic(path, inference_model(arch, look_back, weights, n_in=n_in, n_out=n_out,
                                              target_form=target_form, target_inputs=target_inputs).SerializeToString())
