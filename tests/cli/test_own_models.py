"""``mae-ort sample --onnx`` and ``screen --onnx``: own models sampled, stored, ranked, resumed; every bad input one
line, exit code 2, nothing stored."""

from __future__ import annotations

import json

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from mae_ort.results.store import open_store
from mae_ort.sampling.own import sample_own
from tests.conftest import one_line_error, run_cli
from tests.sampling.test_own import linear_model


@pytest.fixture
def models(tmp_path):
    d = tmp_path / "models"
    d.mkdir()
    for lb in (3, 5, 8):
        onnx.save(linear_model(look_back=lb), d / f"lin{lb}.onnx")
    return d


def test_sample_onnx_prints_and_json_matches_python(capsys, models):
    code, out, _ = run_cli(capsys, "sample", "--onnx", models / "lin5.onnx", "--samples", "12", "--seed", "3")
    assert code == 0 and "lin5.onnx" in out and "6 weights in 2 tensors" in out and "log p" in out
    code, out, _ = run_cli(capsys, "sample", "--onnx", models / "lin5.onnx", "--samples", "12", "--seed", "3",
                           "--json", "--feature", "z")
    d = json.loads(out)
    r = sample_own(str(models / "lin5.onnx"), __import__("mae_ort").sine(), samples=12, seed=3)
    np.testing.assert_allclose(d["maes"], r.maes)
    assert d["model_file"] == "lin5.onnx" and d["n_weights"] == 6 and d["scores"]["readout"] > 0


def test_screen_onnx_stores_ranks_and_resumes(capsys, models, tmp_path):
    db = tmp_path / "r.db"
    code, out, _ = run_cli(capsys, "screen", "--onnx", models, "--db", db, "--samples", "10", "--quiet")
    assert code == 0 and "3 new, 0 already done" in out and "lin8.onnx (9 weights)" in out
    code, out, _ = run_cli(capsys, "screen", "--onnx", models / "lin*.onnx", "--db", db, "--samples", "10", "--quiet")
    assert code == 0 and "0 new, 3 already done" in out
    code, out, _ = run_cli(capsys, "rank", "--db", db)
    assert code == 0 and all(f"lin{lb}.onnx" in out for lb in (3, 5, 8))
    with open_store(db, readonly=True) as st:
        df = st.frame()
    assert sorted(df["model_file"]) == ["lin3.onnx", "lin5.onnx", "lin8.onnx"]
    assert sorted(df["n_weights"]) == [4, 6, 9] and set(df["cell"]) == {"onnx"}
    # a row is the same as sampling the file alone
    r = sample_own(str(models / "lin5.onnx"), __import__("mae_ort").sine(), samples=10)
    np.testing.assert_allclose(st.frame(maes=True).set_index("model_file").loc["lin5.onnx", "maes"], r.maes)


def _no_float_model(path):
    shape = numpy_helper.from_array(np.array([-1, 5], np.int64), "shape")
    nodes = [helper.make_node("Reshape", ["x", "shape"], ["flat"]),
             helper.make_node("ReduceMean", ["flat"], ["y"], axes=[1], keepdims=1)]
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 5, 1])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 1])], [shape])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    onnx.save(m, path)


def _outside_model(path):
    """A model whose external weights file lies in the folder above its own (onnx refuses to read it)."""
    from onnx.external_data_helper import convert_model_to_external_data

    m = linear_model()
    convert_model_to_external_data(m, all_tensors_to_one_file=True, location="w.bin", size_threshold=0)
    onnx.save(m, path)  # the weights in w.bin beside it, then moved one folder up and the model pointed there
    (path.parent / "w.bin").rename(path.parent.parent / "w.bin")
    m = onnx.load(path, load_external_data=False)
    for t in m.graph.initializer:
        for e in t.external_data:
            if e.key == "location":
                e.value = "../w.bin"
    onnx.save(m, path)


@pytest.mark.parametrize("case", ["not_onnx", "truncated", "no_floats", "feature", "missing", "freeze",
                                  "look_back", "units", "outside"])
def test_bad_input_is_one_line_and_stores_nothing(capsys, models, tmp_path, case):
    bad = tmp_path / "bad"
    bad.mkdir()
    extra = []
    target = bad
    if case == "not_onnx":
        (bad / "a.onnx").write_text("date,value\n")
    elif case == "truncated":
        data = (models / "lin5.onnx").read_bytes()
        (bad / "a.onnx").write_bytes(data[: len(data) - 7])
    elif case == "no_floats":
        _no_float_model(bad / "a.onnx")
    elif case == "outside":
        _outside_model(bad / "a.onnx")
    else:
        onnx.save(linear_model(), bad / "a.onnx")
        extra = {"feature": ["--feature", "hidden"], "missing": [], "freeze": ["--freeze", "W,nope"],
                 "look_back": ["--look-back", "7"], "units": ["--units", "3"]}[case]
        if case == "missing":
            target = bad / "nothing*.onnx"
    db = tmp_path / "r.db"
    for command in (["screen", "--db", db, "--quiet"], ["sample"]):
        if case == "units" and command[0] == "sample":
            extra = ["--arch", "3"]
        code, _, err = run_cli(capsys, *command, "--onnx", target if command[0] == "screen" else
                               (target / "a.onnx" if target.is_dir() else target), "--samples", "5", *extra)
        line = one_line_error(code, err)
        assert {"not_onnx": "not an ONNX model", "truncated": "is truncated", "no_floats": "no float initializers",
                "feature": "no tensor 'hidden'", "missing": "no ONNX file", "freeze": "weight tensor 'nope'",
                "look_back": "takes windows of 5 time steps", "units": "leave out --",
                "outside": "points outside the directory"}[case] in line, line
    assert not db.exists()


def _mlp(path, hidden, look_back=6):
    """y = tanh(tanh(flatten(x) @ W1) @ W2): one-hidden-layer forecasters of different widths at one look-back."""
    rng = np.random.default_rng(hidden)
    inits = [numpy_helper.from_array(rng.normal(size=(look_back, hidden)).astype(np.float32), "W1"),
             numpy_helper.from_array(rng.normal(size=(hidden, 1)).astype(np.float32), "W2"),
             numpy_helper.from_array(np.array([-1, look_back], np.int64), "shape")]
    nodes = [helper.make_node("Reshape", ["x", "shape"], ["flat"]), helper.make_node("MatMul", ["flat", "W1"], ["a"]),
             helper.make_node("Tanh", ["a"], ["h"]), helper.make_node("MatMul", ["h", "W2"], ["z"]),
             helper.make_node("Tanh", ["z"], ["y"])]
    g = helper.make_graph(nodes, "mlp", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", look_back, 1])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 1])], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 18)])
    m.ir_version = 8
    onnx.save(m, path)


def test_plot_own_models_against_their_number_of_weights(capsys, tmp_path):
    d = tmp_path / "mlps"
    d.mkdir()
    for hidden in (2, 5, 9):
        _mlp(d / f"mlp{hidden}.onnx", hidden)
    db, png = tmp_path / "r.db", tmp_path / "p.png"
    code, out, _ = run_cli(capsys, "screen", "--onnx", d, "--db", db, "--samples", "10", "--quiet", "--feature", "h")
    assert code == 0 and "score_readout" in out
    code, out, err = run_cli(capsys, "plot", "--db", db, "--figure", "p-vs-units", "--y", "log_p", "--out", png)
    assert code == 0, err
    assert png.stat().st_size > 0
    with open_store(db, readonly=True) as st:
        frame = st.frame()
    assert sorted(frame["u1"]) == [12 + 2, 30 + 5, 54 + 9]   # the number of weights
    from mae_ort.study.figures import p_vs_units

    fig = p_vs_units(frame.assign(activation="onnx", recurrent_activation="onnx"), y="log_p")  # as plot does
    assert fig.axes[0].get_xlabel() == "number of weights" and "own ONNX models" in fig.axes[0].get_title()
