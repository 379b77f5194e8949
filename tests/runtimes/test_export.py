"""The ONNX graphs: structure, weights as inputs, cache, agreement with the numpy reference."""

from __future__ import annotations

import json

import numpy as np
import onnx
import onnxruntime as ort
import pytest

from mae_ort.data import prepare, sine, windows
from mae_ort.errors import MaeOrtWarning
from mae_ort.model import reference
from mae_ort.model.architecture import ACTIVATIONS, Architecture
from mae_ort.runtimes.export import build_model, cache_dir, graph_key, model_bytes, save_model


def run(arch, X, y, W, model=None):
    sess = ort.InferenceSession((model or build_model(arch, X.shape[1])).SerializeToString(),
                                providers=["CPUExecutionProvider"])
    feed = {"X": X, "y": y}
    feed.update({n: w for (n, _), w in zip(arch.weight_shapes(X.shape[2], y.shape[1]), W)})
    mae, pred = sess.run(["mae", "pred"], feed)
    return mae, pred


def draw(arch, n_in, n_out, S, rng):
    return [rng.normal(size=(S,) + shape).astype(np.float32) for _, shape in arch.weight_shapes(n_in, n_out)]


@pytest.mark.parametrize("cell", ["lstm", "gru", "simple_rnn"])
@pytest.mark.parametrize("depth", [1, 2, 3])
def test_graph_passes_the_checker(cell, depth):
    onnx.checker.check_model(build_model(Architecture((4,) * depth, cell=cell), 3), full_check=True)


def test_weights_are_inputs_not_initializers():
    a = Architecture((5, 3), cell="gru")
    m = build_model(a, 4)
    names = {i.name for i in m.graph.input}
    weights = [n for n, _ in a.weight_shapes(1, 1)]
    assert set(weights) | {"X", "y"} == names
    inits = {t.name: t for t in m.graph.initializer}
    assert not set(weights) & set(inits)
    # only small constants (indices, axes, shapes, ones) are stored in the graph
    assert all(np.prod(t.dims) <= 4 for t in inits.values())
    for i in m.graph.input:
        if i.name in weights:
            assert i.type.tensor_type.shape.dim[0].dim_param == "S"
    assert [o.name for o in m.graph.output] == ["mae", "pred", "h_last"]


def test_same_spec_same_bytes_and_keys():
    a, b = Architecture((3, 4)), Architecture((30, 7))
    assert build_model(a, 5).SerializeToString() == build_model(a, 5).SerializeToString()
    assert graph_key(a, 5) == graph_key(b, 5)  # one graph per family and look-back
    assert graph_key(a, 5) != graph_key(a, 6)
    assert graph_key(a, 5) != graph_key(a.replace(recurrent_activation="hard_sigmoid_keras2"), 5)
    assert graph_key(a, 5) != graph_key(a.replace(cell="gru"), 5)


def test_one_graph_serves_every_width_of_a_family(rng):
    model = build_model(Architecture((1, 1)), 4)
    X = rng.normal(size=(20, 4, 2)).astype(np.float32)
    y = rng.normal(size=(20, 3)).astype(np.float32)
    for units in [(3, 5), (8, 2), (1, 1)]:
        a = Architecture(units)
        W = draw(a, 2, 3, 3, rng)
        mae, pred = run(a, X, y, W, model)
        np.testing.assert_allclose(pred, reference.predict(a, X, W), atol=2e-5)
        np.testing.assert_allclose(mae, reference.maes(a, X, y, W), atol=1e-5)


CASES = [
    ("lstm", (5,), 1, "tanh", "sigmoid", "tanh"),
    ("lstm", (4, 3), 6, "tanh", "hard_sigmoid_keras2", "linear"),
    ("lstm", (3, 2, 2), 5, "relu", "hard_sigmoid", "sigmoid"),
    ("gru", (5,), 4, "tanh", "sigmoid", "tanh"),
    ("gru", (3, 4), 7, "linear", "hard_sigmoid_keras2", "tanh"),
    ("gru", (2, 2, 3), 3, "tanh", "sigmoid", "linear"),
    ("simple_rnn", (6,), 8, "tanh", "sigmoid", "tanh"),
    ("simple_rnn", (4, 4), 3, "relu", "sigmoid", "relu"),
]


@pytest.mark.parametrize("cell,units,lb,act,ract,head", CASES)
@pytest.mark.parametrize("n_in,n_out", [(1, 1), (2, 2)])
def test_graph_matches_float64_reference(cell, units, lb, act, ract, head, n_in, n_out, rng):
    a = Architecture(units, cell=cell, activation=act, recurrent_activation=ract, head_activation=head)
    X = rng.normal(size=(50, lb, n_in)).astype(np.float32)
    y = rng.normal(size=(50, n_out)).astype(np.float32)
    W = draw(a, n_in, n_out, 4, rng)
    mae, pred = run(a, X, y, W)
    ref = reference.predict(a, X, W)
    # unbounded cell activations let hidden states grow, and float32 round-off with them
    scale = max(1.0, float(np.abs(ref).max())) * (1.0 if act == "tanh" else 5.0)
    np.testing.assert_allclose(pred, ref, atol=1e-5 * scale)
    np.testing.assert_allclose(mae, reference.maes(a, X, y, W), atol=1e-5 * scale)


def test_every_activation_is_supported(rng):
    X = rng.normal(size=(10, 2, 1)).astype(np.float32)
    y = rng.normal(size=(10, 1)).astype(np.float32)
    for name in ACTIVATIONS:
        a = Architecture((3,), activation=name if name != "hard_sigmoid_keras2" else "tanh",
                         recurrent_activation=name, head_activation=name)
        W = draw(a, 1, 1, 2, rng)
        _, pred = run(a, X, y, W)
        np.testing.assert_allclose(pred, reference.predict(a, X, W), atol=1e-5)


def test_deep_long_case_within_float32_roundoff(rng):
    a = Architecture((31, 31, 31))
    w = windows(prepare(sine()), 30)
    W = draw(a, 1, 1, 3, rng)
    _, pred = run(a, w.X, w.y, W)
    err = np.abs(pred - reference.predict(a, w.X, W))
    # measured: float32 implementations differ from float64 by up to ~1.7e-3 here
    assert np.median(err) < 1e-5 and np.quantile(err, 0.99) < 2e-3


def test_cache_writes_once_and_is_reused(tmp_path, monkeypatch):
    monkeypatch.setenv("MAE_ORT_CACHE", str(tmp_path))
    a = Architecture((3,))
    data = model_bytes(a, 2)
    path = cache_dir() / f"{graph_key(a, 2)}.onnx"
    assert path.read_bytes() == data
    path.write_bytes(data + b"")  # the cached file is served as it is
    mtime = path.stat().st_mtime_ns
    assert model_bytes(Architecture((9,)), 2) == data
    assert path.stat().st_mtime_ns == mtime


def test_saved_model_runs_on_its_own(tmp_path, rng):
    a = Architecture((4, 2), cell="gru")
    path = save_model(a, 3, tmp_path / "gru.onnx")
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    X = rng.normal(size=(6, 3, 1)).astype(np.float32)
    y = rng.normal(size=(6, 1)).astype(np.float32)
    W = draw(a, 1, 1, 2, rng)
    feed = {"X": X, "y": y, **{n: w for (n, _), w in zip(a.weight_shapes(1, 1), W)}}
    (mae,) = sess.run(["mae"], feed)
    np.testing.assert_allclose(mae, reference.maes(a, X, y, W), atol=1e-5)
    docs = {i.name: i.doc_string for i in onnx.load(str(path)).graph.input}
    assert "windows" in docs["X"] and docs["l0.kernel"]


@pytest.mark.parametrize("cell", ["lstm", "gru", "simple_rnn"])
def test_every_initializer_is_read_and_none_shadows_an_input(cell):
    m = build_model(Architecture((3, 2), cell=cell), 3)
    inits = [t.name for t in m.graph.initializer]
    read = {name for node in m.graph.node for name in node.input}
    assert set(inits) <= read, set(inits) - read
    assert not set(inits) & {i.name for i in m.graph.input}
    assert ("one" in inits) == (cell == "gru")  # 1 - z of the GRU, nowhere else


@pytest.mark.parametrize("cell", ["lstm", "gru", "simple_rnn"])
def test_sessions_open_without_onnxruntime_warnings(cell, capfd):
    so = ort.SessionOptions()
    so.log_severity_level = 2  # warnings and errors: "Removing initializer 'one'" was a warning
    capfd.readouterr()
    ort.InferenceSession(build_model(Architecture((3,), cell=cell), 2).SerializeToString(), so,
                         providers=["CPUExecutionProvider"])
    _, err = capfd.readouterr()
    assert "Removing initializer" not in err and "[W:onnxruntime" not in err, err


def test_save_model_checks_the_path_first(tmp_path):
    from mae_ort.errors import DataError
    from mae_ort.runtimes.export import writable_path

    with pytest.raises(DataError, match=r"the folder '.*missing' does not exist; create it first$"):
        save_model(Architecture((3,)), 2, tmp_path / "missing" / "m.onnx")
    with pytest.raises(DataError, match=r"it is a folder; give a file name such as '.*model.onnx'$"):
        writable_path(tmp_path)
    (tmp_path / "file").write_text("x")
    with pytest.raises(DataError, match=r"'.*file' is a file, not a folder$"):
        writable_path(tmp_path / "file" / "m.onnx")
    assert writable_path(tmp_path / "new.onnx") == tmp_path / "new.onnx"
    assert not (tmp_path / "new.onnx").exists()  # the check leaves nothing behind
    assert (tmp_path / "file").read_text() == "x"
    writable_path(tmp_path / "file")  # an existing file is not changed
    assert (tmp_path / "file").read_text() == "x"


def test_a_cached_graph_that_no_longer_matches_its_architecture_is_rebuilt_with_one_warning(tmp_path, monkeypatch):
    monkeypatch.setenv("MAE_ORT_CACHE", str(tmp_path))
    a, other = Architecture((3,)), Architecture((3, 3), cell="gru")
    want = build_model(a, 2).SerializeToString()
    assert model_bytes(a, 2) == want
    path = cache_dir() / f"{graph_key(a, 2)}.onnx"
    sums = path.with_name(path.name + ".sha256")
    assert sums.exists()
    for damaged in (model_bytes(other, 2), want[: len(want) // 2]):  # another graph filed here; a truncated one
        path.write_bytes(damaged)
        with pytest.warns(MaeOrtWarning, match=rf"{path.name}.*does not match the architecture.*1-layer lstm.*"
                                               r"look-back 2.*rebuilt") as record:
            assert model_bytes(a, 2) == want  # never the wrong graph
        assert len(record) == 1
        assert path.read_bytes() == want  # repaired
    # the other graph copied over with its own hash file: the key is part of the hash
    other_path = cache_dir() / f"{graph_key(other, 2)}.onnx"
    path.write_bytes(other_path.read_bytes())
    sums.write_bytes(other_path.with_name(other_path.name + ".sha256").read_bytes())
    with pytest.warns(MaeOrtWarning, match="does not match"):
        assert model_bytes(a, 2) == want


def test_a_cached_graph_without_its_hash_is_rebuilt_quietly(tmp_path, monkeypatch):
    import warnings

    monkeypatch.setenv("MAE_ORT_CACHE", str(tmp_path))
    a = Architecture((3,))
    path = cache_dir() / f"{graph_key(a, 2)}.onnx"
    path.parent.mkdir(parents=True)
    path.write_bytes(b"garbage of an older cache")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert model_bytes(a, 2) == build_model(a, 2).SerializeToString()
    assert path.with_name(path.name + ".sha256").exists()


def test_cli_with_a_damaged_cache_prints_one_warning_and_the_right_numbers(tmp_path, monkeypatch, capsys):
    from tests.conftest import run_cli

    monkeypatch.setenv("MAE_ORT_CACHE", str(tmp_path))
    args = ["sample", "--arch", "3", "--look-back", "2", "--samples", "5", "--runtime", "onnxruntime", "--json"]
    code, clean, err = run_cli(capsys, *args)
    assert code == 0 and not err.strip()
    for path in cache_dir().glob("*.onnx"):
        path.write_bytes(path.read_bytes()[:100])
    code, out, err = run_cli(capsys, *args)
    lines = err.strip().splitlines()
    assert code == 0 and len(lines) == 1 and lines[0].startswith("warning: the cached graph") and "rebuilt" in lines[0]
    assert json.loads(out)["maes"] == json.loads(clean)["maes"]
