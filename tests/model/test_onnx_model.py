"""Reading own ONNX models: the lift of float initializers, the kept integer ones, the weight list, the content
hash, the feature output, layouts, and one clear error for every input that does not fit."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from mae_ort.errors import InvalidParameterError, OnnxModelError
from mae_ort.model.onnx_model import read_model
from mae_ort.sampling.own import own_model
from tests.sampling.test_own import linear_model


def _graph(nodes, inputs, outputs, inits, opset=17):  # 17: ReduceMean takes its axes as an attribute
    m = helper.make_model(helper.make_graph(nodes, "g", inputs, outputs, inits),
                          opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 8
    return m


def test_float_initializers_become_inputs_and_integers_stay():
    proto = linear_model(look_back=4, b=0.25)
    m = read_model(proto)
    g = onnx.load_from_string(m.graph_bytes).graph
    assert [t.name for t in g.initializer] == ["shape"]                 # the int64 shape stays
    assert [i.name for i in g.input] == ["x", "W", "b"]
    assert [(w.name, w.shape, w.dtype) for w in m.weights] == [("W", (4, 1), "float32"), ("b", (1,), "float32")]
    assert m.n_weights == 5 and m.look_back == 4 and m.n_features == 1
    W = numpy_helper.to_array(proto.graph.initializer[0])
    assert m.weights[0].std == pytest.approx(float(np.std(W.astype(np.float64))))
    np.testing.assert_array_equal(m.values["W"], W)
    # the lifted graph with the file's values computes what the file computes
    x = np.random.default_rng(1).normal(size=(6, 4, 1)).astype(np.float32)
    want = ort.InferenceSession(proto.SerializeToString()).run(["y"], {"x": x})[0]
    got = ort.InferenceSession(m.graph_bytes).run(["y"], {"x": x, "W": W, "b": np.float32([0.25])})[0]
    np.testing.assert_allclose(got, want, rtol=1e-5)  # the file may be fused differently (a Gemm)
    assert len(proto.graph.initializer) == 3                             # the caller's model is left alone


def test_digest_is_the_files_content():
    a, b = read_model(linear_model()), read_model(linear_model())
    c = read_model(linear_model(b=1.0))
    assert a.digest == b.digest != c.digest and len(a.digest) == 16
    ka, kc = a.key(), a.key(scale="file")
    assert ka.cell == "onnx" and ka.activation == a.digest and ka.units == (a.n_weights,)
    assert ka.recurrent_activation != kc.recurrent_activation            # options are part of the key


def test_file_name_and_bytes(tmp_path):
    p = tmp_path / "my forecaster.onnx"
    onnx.save(linear_model(), p)
    m = read_model(p)
    assert m.name == "my forecaster.onnx" and m.digest == read_model(p.read_bytes()).digest
    assert read_model(p, name="renamed").name == "renamed"


def test_feature_tensor_becomes_an_output():
    m = read_model(linear_model(), feature="flat")
    outs = [o.name for o in onnx.load_from_string(m.graph_bytes).graph.output]
    assert outs == ["y", "flat"]


def test_time_major_and_channels_first_layouts():
    W = numpy_helper.from_array(np.ones((1, 1), np.float32), "W")
    for layout, dims in (("TNF", [7, "N", 1]), ("NFT", ["N", 1, 7])):
        x = helper.make_tensor_value_info("x", TensorProto.FLOAT, dims)
        nodes = [helper.make_node("ReduceMean", ["x"], ["m"], keepdims=0, axes=[0 if layout == "TNF" else 2]),
                 helper.make_node("MatMul", ["m", "W"], ["y"])]
        m = read_model(_graph(nodes, [x], [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 1])], [W]),
                       layout=layout)
        assert m.look_back == 7 and m.n_features == 1 and m.layout == layout


def _bad(model, match, **kw):
    with pytest.raises(OnnxModelError, match=match) as e:
        own_model(model, **kw)
    assert "\n" not in str(e.value)


def test_no_float_initializers():
    shape = numpy_helper.from_array(np.array([-1, 5], np.int64), "shape")
    nodes = [helper.make_node("Reshape", ["x", "shape"], ["flat"]),
             helper.make_node("ReduceMean", ["flat"], ["y"], axes=[1], keepdims=1)]
    m = _graph(nodes, [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 5, 1])],
               [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 1])], [shape], opset=17)
    _bad(m, "no float initializers")


def test_output_that_is_not_one_value_per_window():
    W = numpy_helper.from_array(np.ones((5, 3), np.float32), "W")
    shape = numpy_helper.from_array(np.array([-1, 5], np.int64), "shape")
    nodes = [helper.make_node("Reshape", ["x", "shape"], ["flat"]), helper.make_node("MatMul", ["flat", "W"], ["y"])]
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 5, 1])
    _bad(_graph(nodes, [x], [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 3])], [W, shape]),
         r"shape \[N, 3\]; expected one value per window")
    _bad(_graph(nodes, [x], [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", "k"])], [W, shape]),
         r"shape \[N, k\]; expected one value per window")


def test_output_of_unknown_shape_is_checked_on_the_first_run():
    W = numpy_helper.from_array(np.ones((5, 3), np.float32), "W")
    consts = [numpy_helper.from_array(np.array([-1, 5], np.int64), "shape"),
              numpy_helper.from_array(np.array([-1], np.int64), "k")]
    nodes = [helper.make_node("Reshape", ["x", "shape"], ["flat"]), helper.make_node("MatMul", ["flat", "W"], ["z"]),
             helper.make_node("Shape", ["x"], ["sx"], end=1), helper.make_node("Concat", ["sx", "k"], ["s2"], axis=0),
             helper.make_node("Reshape", ["z", "s2"], ["y"])]
    m = own_model(_graph(nodes, [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 5, 1])],
                         [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", None])], [W] + consts, opset=18))
    from mae_ort import sine
    from mae_ort.sampling.own import sample_own

    with pytest.raises(OnnxModelError, match=r"has shape \[995, 3\] for 995 windows; expected one value per window"):
        sample_own(m, sine(), samples=4)


def test_data_input_of_the_wrong_rank_and_inputs_it_cannot_feed():
    W = numpy_helper.from_array(np.ones((5, 1), np.float32), "W")
    nodes = [helper.make_node("MatMul", ["x", "W"], ["y"])]
    out = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 1])
    _bad(_graph(nodes, [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 5])], [out], [W]),
         r"has rank 2 \(shape \[N, 5\]\); expected rank 3, \[windows, look_back, features\]")
    two = [helper.make_node("Add", ["x", "x2"], ["s"]), helper.make_node("ReduceMean", ["s"], ["m"], axes=[2],
                                                                         keepdims=0),
           helper.make_node("MatMul", ["m", "W"], ["y"])]
    xs = [helper.make_tensor_value_info(n, TensorProto.FLOAT, ["N", 5, 1]) for n in ("x", "x2")]
    _bad(_graph(two, xs, [out], [W]), r"2 data inputs \(x, x2\)")
    _bad(_graph(two, xs, [out], [W]), "cannot feed: x2", input="x")
    _bad(_graph(two, xs, [out], [W]), "no data input 'z'", input="z")


def test_fixed_windows_axis_is_refused_with_the_fix():
    m = linear_model()
    m.graph.input[0].type.tensor_type.shape.dim[0].dim_value = 2
    _bad(m, "fixed windows axis .* dynamic_axes")


def test_unknown_feature_tensor():
    _bad(linear_model(), "no tensor 'hidden'", feature="hidden")


def test_not_onnx_and_truncated(tmp_path):
    data = linear_model().SerializeToString()
    _bad(b"hello, not a model", "not an ONNX model, or is truncated")
    _bad(data[: len(data) // 2], "not an ONNX model, or is truncated")
    p = tmp_path / "cut.onnx"
    p.write_bytes(data[:-5])
    _bad(p, "cut.onnx.* is not an ONNX model, or is truncated")
    (tmp_path / "empty.onnx").write_bytes(b"")
    _bad(tmp_path / "empty.onnx", "is empty")
    _bad(tmp_path / "missing.onnx", "no ONNX file at")
    with pytest.raises(InvalidParameterError, match="path, bytes or an onnx.ModelProto"):
        own_model(42)


def test_opset_and_operators_onnxruntime_cannot_run():
    m = linear_model()
    del m.opset_import[:]
    m.opset_import.append(helper.make_opsetid("", 30))
    _bad(m, r"cannot run model.onnx \(opset 30\): its opset is newer")
    m = linear_model()
    m.graph.node[1].domain = "com.example"
    m.opset_import.append(helper.make_opsetid("com.example", 1))
    _bad(m, "cannot run model.onnx .*com.example:MatMul")


def test_bad_layout():
    with pytest.raises(InvalidParameterError, match="layout"):
        read_model(linear_model(), layout="NTX")
