"""Sampling own ONNX models: the built-in architectures' MAEs through this path, seeded weights, the per-tensor
scale and the frozen list, statistics and the readout as for built-in rows, and real torch exports."""

from __future__ import annotations

import io
import warnings

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

import mae_ort
from mae_ort.data import prepare, sine, windows
from mae_ort.errors import InvalidParameterError, OnnxModelError
from mae_ort.model.architecture import Architecture
from mae_ort.runtimes.inference import inference_model
from mae_ort.sampling import Sampler
from mae_ort.sampling.own import OwnSampler, own_model, sample_own
from mae_ort.sampling.readout import median_score, readout_maes
from mae_ort.sampling.settings import SamplingSettings
from mae_ort.sampling.stats import fit_truncnorm
from tests.sampling.test_readout_window import window_reference


def linear_model(look_back=5, n_in=1, *, w=None, b=0.0, name="lin"):
    """y = tanh(flatten(x) @ W + b): the hand-built forecaster, with ``z`` = the pre-activation."""
    W = np.random.default_rng(0).normal(size=(look_back * n_in, 1)).astype(np.float32) if w is None else w
    inits = [numpy_helper.from_array(W, "W"), numpy_helper.from_array(np.full((1,), b, np.float32), "b"),
             numpy_helper.from_array(np.array([-1, look_back * n_in], np.int64), "shape")]
    nodes = [helper.make_node("Reshape", ["x", "shape"], ["flat"]), helper.make_node("MatMul", ["flat", "W"], ["z"]),
             helper.make_node("Add", ["z", "b"], ["zb"]), helper.make_node("Tanh", ["zb"], ["y"])]
    g = helper.make_graph(nodes, name, [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", look_back, n_in])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 1])], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 18)])
    m.ir_version = 8
    return m


def test_hand_built_model_matches_numpy():
    m = own_model(linear_model(), feature="z")
    assert m.weight_shapes() == [("W", (5, 1)), ("b", (1,))]
    assert m.n_weights == 6 and m.look_back == 5
    series = prepare(sine())
    r = sample_own(m, series, samples=20, seed=3)
    ws = OwnSampler().weights(m, samples=20, seed=3)
    win = windows(series, 5)
    X = win.X.reshape(win.n, -1).astype(np.float64)
    z = np.einsum("nk,sk->sn", X, ws[0][:, :, 0].astype(np.float64))
    pred = np.tanh(z + ws[1].astype(np.float64))
    want = np.abs(pred - win.y[:, 0][None]).mean(axis=1)
    np.testing.assert_allclose(r.maes, want, rtol=1e-5)
    f = fit_truncnorm(want, threshold=0.01, lower=0.0, upper=2.0, fit="moments")
    assert r.mean == pytest.approx(f.mean, rel=1e-5) and r.log_p == pytest.approx(f.log_p, rel=1e-4)
    assert r.arch.cell == "onnx" and r.arch.units == (6,)
    # the readout: the ridge on the feature tensor z of each sample
    assert r.scores["readout"] == pytest.approx(median_score(readout_maes(z[:, :, None], win.y)), rel=1e-4)
    # readout_window: the feature tensor beside a constant and the window, against the float64 lstsq reference
    # (on a noisy sine, where no linear function of the window is exact)
    noisy = prepare(sine() + 0.1 * np.random.default_rng(0).standard_normal(1000))
    r = sample_own(m, noisy, samples=8, seed=3)
    win = windows(noisy, 5)
    z = np.einsum("nk,sk->sn", win.X.reshape(win.n, -1).astype(np.float64), ws[0][:8, :, 0].astype(np.float64))
    want = np.median([window_reference(z[s][:, None], win.X, win.y) for s in range(8)])
    assert r.scores["readout_window"] == pytest.approx(want, rel=1e-4)


def test_weights_are_seeded_and_chunk_free():
    m = own_model(linear_model())
    s = OwnSampler()
    whole = s.weights(m, samples=10, seed=5)
    tail = s.weights(m, samples=4, seed=5, first_sample=6)
    np.testing.assert_array_equal(whole[0][6:], tail[0])
    other = s.weights(m, samples=10, seed=6)
    assert not np.array_equal(whole[0], other[0])
    series = prepare(sine())
    a = OwnSampler(memory_budget=1).run(m, series, 5, SamplingSettings(samples=12, seed=5))
    b = OwnSampler(threads=1).run(m, series, 5, SamplingSettings(samples=12, seed=5))
    np.testing.assert_array_equal(a.maes, b.maes)


def test_per_tensor_scale_and_frozen_list():
    w = (np.arange(10, dtype=np.float32).reshape(10, 1) - 4.5) * 0.01
    m = own_model(linear_model(look_back=10, w=w, b=0.3))
    s = OwnSampler()
    file_std = float(np.std(w.astype(np.float64)))
    drawn = s.weights(m, samples=400, seed=0, scale="file")
    assert np.std(drawn[0]) == pytest.approx(file_std, rel=0.05)   # its own scale, not 1
    fixed = s.weights(m, samples=400, seed=0)
    assert np.std(fixed[0]) == pytest.approx(1.0, rel=0.05)
    np.testing.assert_allclose(drawn[0], fixed[0] * file_std, rtol=1e-6)  # the same draws, rescaled
    assert np.all(drawn[1] == 0.0)                                  # a one-value tensor has std 0
    frozen = s.weights(m, samples=7, seed=0, frozen=["b"])
    assert frozen[1].shape == (1,) and frozen[1][0] == np.float32(0.3)
    # every tensor frozen: every sample is the file's model
    series = prepare(sine())
    r = sample_own(m, series, samples=5, frozen="W,b")
    win = windows(series, 10)
    file_mae = np.abs(np.tanh(win.X.reshape(win.n, -1) @ w + 0.3)[:, 0] - win.y[:, 0]).mean()
    np.testing.assert_allclose(r.maes, file_mae, rtol=1e-5)
    assert r.sd == 0.0
    with pytest.raises(OnnxModelError, match="no weight tensor 'bias'"):
        sample_own(m, series, samples=5, frozen=["bias"])
    with pytest.raises(InvalidParameterError, match="glorot"):
        sample_own(m, series, samples=5, init="glorot")


def _builtin_equivalence(arch, look_back, samples=6, seed=1):
    series = prepare(sine())
    win = windows(series, look_back)
    sampler = Sampler(runtime="numba")
    builtin = sampler.maes(arch, win, samples=samples, seed=seed)
    ws = sampler.weights(arch, n_in=1, n_out=1, samples=samples, seed=seed)
    proto = inference_model(arch, look_back, [w[0] for w in ws], n_in=1, n_out=1)
    m = own_model(proto)
    by_name = {n: w for (n, _), w in zip(arch.weight_shapes(1, 1), ws)}
    # the graph's own float constants (the bias column of ones) are weights too: feed the file's values
    feed = [by_name[t.name][:, None] if t.name in by_name else m.values[t.name] for t in m.weights]
    maes, _ = OwnSampler().maes(m, win, feed)
    np.testing.assert_allclose(maes, builtin, rtol=1e-5)
    return m


@pytest.mark.parametrize("units,preset", [((7,), None), ((5, 3), None), ((4, 4, 3), "paper")])
def test_builtin_lstm_through_this_path_gives_the_builtin_maes(units, preset):
    arch = mae_ort.model.resolve(list(units), preset=preset)
    m = _builtin_equivalence(arch, look_back=6)
    assert {"l0.kernel", "head.kernel"} <= set(m.weight_names)


def test_builtin_gru_through_this_path():
    _builtin_equivalence(Architecture((6,), cell="gru"), look_back=4)


# -- real exports: torch ------------------------------------------------------------------------------------------
def _export(module, example, path=None, *, dynamic=True):
    torch = pytest.importorskip("torch")
    buf = io.BytesIO()
    kw = {"dynamic_axes": {"x": {0: "windows"}, "y": {0: "windows"}}} if dynamic else {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            torch.onnx.export(module.eval(), (example,), buf, input_names=["x"], output_names=["y"], dynamo=False,
                              **kw)
        except TypeError:  # pragma: no cover - a torch without the dynamo switch
            torch.onnx.export(module.eval(), (example,), buf, input_names=["x"], output_names=["y"], **kw)
    data = buf.getvalue()
    if path is not None:
        path.write_bytes(data)
    return data


def _torch_models():
    torch = pytest.importorskip("torch")
    nn = torch.nn

    class LSTMForecaster(nn.Module):
        def __init__(self, hidden=(7,), n_in=1):
            super().__init__()
            self.rnn = nn.LSTM(n_in, hidden[0], num_layers=len(hidden), batch_first=True)
            self.head = nn.Linear(hidden[0], 1)

        def forward(self, x):
            out, _ = self.rnn(x)
            return torch.tanh(self.head(out[:, -1, :]))

    class GRUForecaster(nn.Module):
        def __init__(self, hidden=8):
            super().__init__()
            self.rnn = nn.GRU(1, hidden, batch_first=True)
            self.mlp = nn.Sequential(nn.Linear(hidden, 8), nn.ReLU(), nn.Linear(8, 1))

        def forward(self, x):
            out, _ = self.rnn(x)
            return self.mlp(out[:, -1, :])

    class ConvForecaster(nn.Module):
        def __init__(self, look_back=10):
            super().__init__()
            self.conv = nn.Conv1d(1, 4, kernel_size=3)
            self.head = nn.Linear(4 * (look_back - 2), 1)

        def forward(self, x):  # x (N, LB, 1): channels first for the convolution
            h = torch.relu(self.conv(x.transpose(1, 2)))
            return self.head(h.flatten(1)).squeeze(-1)

    return torch, LSTMForecaster, GRUForecaster, ConvForecaster


def test_torch_exports_sample():
    torch, LSTMF, GRUF, ConvF = _torch_models()
    torch.manual_seed(0)
    series = prepare(sine())
    x = torch.zeros(3, 10, 1)
    for module, n_tensors in ((LSTMF(), 5), (GRUF(), 7), (ConvF(), 4)):
        m = own_model(_export(module, x))
        assert len(m.weights) == n_tensors
        assert m.n_weights == sum(p.numel() for p in module.parameters())
        r = sample_own(m, series, look_back=10, samples=8, seed=0, upper=1e6)
        assert r.samples == 8 and np.all(np.isfinite(r.maes)) and r.sd > 0


def test_torch_lstm_with_builtin_weights_gives_the_builtin_maes():
    torch, LSTMF, _, _ = _torch_models()
    arch = Architecture((6, 4 + 2))  # keras3 LSTM: sigmoid gates, tanh cell, tanh head
    look_back, S = 5, 3
    series = prepare(sine())
    win = windows(series, look_back)
    sampler = Sampler(runtime="numba")
    builtin = sampler.maes(arch, win, samples=S, seed=2)
    ws = sampler.weights(arch, n_in=1, n_out=1, samples=S, seed=2)
    got = []
    for s in range(S):
        module = LSTMF(hidden=arch.units)
        with torch.no_grad():
            for k in range(arch.depth):
                K, U, b = (w[s] for w in ws[3 * k:3 * k + 3])
                # Keras gates i, f, c, o == torch i, f, g, o; kernel (d, 4H) == weight_ih.T; one bias
                getattr(module.rnn, f"weight_ih_l{k}").copy_(torch.from_numpy(K.T.copy()))
                getattr(module.rnn, f"weight_hh_l{k}").copy_(torch.from_numpy(U.T.copy()))
                getattr(module.rnn, f"bias_ih_l{k}").copy_(torch.from_numpy(b.copy()))
                getattr(module.rnn, f"bias_hh_l{k}").zero_()
            module.head.weight.copy_(torch.from_numpy(ws[-2][s].T.copy()))
            module.head.bias.copy_(torch.from_numpy(ws[-1][s].copy()))
        m = own_model(_export(module, torch.zeros(2, look_back, 1)))
        r = sample_own(m, series, look_back=look_back, samples=2, frozen=m.weight_names)  # the file's weights
        got.append(r.maes[0])
    np.testing.assert_allclose(got, builtin, rtol=1e-5)


def test_time_major_layout_gives_the_same_maes():
    """The same forecaster exported time-major (x: [look_back, windows, 1]) samples to the same MAEs."""
    ntf = linear_model(look_back=6)
    tnf = linear_model(look_back=6)
    g = tnf.graph
    g.node.insert(0, helper.make_node("Transpose", ["x_tnf"], ["x"], perm=[1, 0, 2]))
    g.input[0].CopyFrom(helper.make_tensor_value_info("x_tnf", TensorProto.FLOAT, [6, "N", 1]))
    a = sample_own(own_model(ntf), sine(), samples=6, seed=4)
    b = sample_own(own_model(tnf, layout="TNF"), sine(), samples=6, seed=4)
    np.testing.assert_allclose(a.maes, b.maes, rtol=1e-6)


def test_auto_samples_and_progress():
    m = own_model(linear_model())
    seen = []
    r = sample_own(m, sine(), samples="auto:round=10,max=40", seed=0, progress=lambda d, t: seen.append((d, t)))
    assert r.status in ("converged", "maximum") and r.samples in (10, 20, 30, 40) and r.auto
    assert seen[-1] == (r.samples, 40)
    fixed = sample_own(m, sine(), samples=r.samples, seed=0)
    np.testing.assert_array_equal(r.maes, fixed.maes)  # rounds draw the samples of one fixed draw


def test_cuda_without_a_provider_falls_back_to_the_cpu():
    import onnxruntime as ort

    from mae_ort.errors import FallbackWarning

    if "CUDAExecutionProvider" in ort.get_available_providers():  # pragma: no cover - a GPU build
        pytest.skip("this onnxruntime has CUDA")
    m = own_model(linear_model())
    with pytest.warns(FallbackWarning, match="no CUDA provider"):
        r = sample_own(m, sine(), samples=4, device="cuda")
    np.testing.assert_array_equal(r.maes, sample_own(m, sine(), samples=4).maes)
    assert r.device == "cpu"


def test_float64_model_gets_float64_weights_of_the_same_draw():
    W = numpy_helper.from_array(np.ones((4, 1)), "W")                      # float64
    shape = numpy_helper.from_array(np.array([-1, 4], np.int64), "shape")
    nodes = [helper.make_node("Reshape", ["x", "shape"], ["flat"]), helper.make_node("MatMul", ["flat", "W"], ["y"])]
    g = helper.make_graph(nodes, "f64", [helper.make_tensor_value_info("x", TensorProto.DOUBLE, ["N", 4, 1])],
                          [helper.make_tensor_value_info("y", TensorProto.DOUBLE, ["N"])], [W, shape])
    proto = helper.make_model(g, opset_imports=[helper.make_opsetid("", 18)])
    proto.ir_version = 8
    m = own_model(proto)
    assert m.weights[0].dtype == "float64" and m.input_dtype == "float64"
    ws = OwnSampler().weights(m, samples=3, seed=1)
    assert ws[0].dtype == np.float64
    r = sample_own(m, sine(), samples=3, seed=1, upper=100.0)
    win = windows(prepare(sine()), 4)
    want = np.abs(win.X.reshape(win.n, 4).astype(np.float64) @ ws[0][:, :, 0].T - win.y[:, :1]).mean(axis=0)
    np.testing.assert_allclose(r.maes, want, rtol=1e-6)


def test_own_model_delta_adds_the_last_value():
    """target_form='delta': an own model's MAE is mean |last + output - y|, the output computed in numpy here."""
    m = own_model(linear_model())
    series = prepare(sine(300))
    r = sample_own(m, series, samples=8, seed=2, target_form="delta")
    ws = OwnSampler().weights(m, samples=8, seed=2)
    raw = series.targets[:, 0].astype(np.float64)
    X = np.stack([raw[i:i + 5] for i in range(len(raw) - 5)]).astype(np.float32).astype(np.float64)
    out = np.tanh(X @ ws[0][:, :, 0].astype(np.float64).T + ws[1][:, 0].astype(np.float64)).T  # (S, N)
    want = np.abs(raw[4:-1][None] + out - raw[5:][None]).mean(axis=1)
    np.testing.assert_allclose(r.maes, want, rtol=1e-5)
    assert r.target_form == "delta"
    from mae_ort.screening.own import screen_own

    df = screen_own(m, series, samples=8, seed=2, target_form="delta")
    assert list(df.target_form) == ["delta"] and df.log_p.iloc[0] == pytest.approx(r.log_p)
