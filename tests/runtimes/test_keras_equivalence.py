"""The central faithfulness claim: the ONNX graphs compute what Keras computes.

For the same weights, the ``pred`` output of :func:`mae_ort.runtimes.export.build_model`'s
graph (run with onnxruntime on the CPU) equals Keras 3's prediction of the
equivalent ``Sequential`` (:func:`mae_ort.model.keras_interop.to_keras`), and its ``mae``
output equals ``mean |pred - y|`` of Keras' predictions.  Weights are Normal(0, 1),
as in MAE random sampling, several samples per case.

Both are float32 computations, and with Normal(0, 1) weights round-off is amplified
(measured: up to ~2e-4 in a MAE), so every case is also compared with the float64 numpy reference
(:func:`mae_ort.model.reference.predict`).  Errors are scaled by ``max(1, |prediction|)``.

* Small cases (<= 2 layers, look-back <= 10), :func:`check_small`: the median
  |onnx - keras| <= 2e-6 and its 99th percentile <= 1e-4 (tanh cells) or 1e-3
  (relu / linear cells, whose hidden states reach 1e4..1e7 so that a few predictions
  are ill-conditioned); ONNX's median and 99th-percentile error against float64 no
  worse than 3x / 10x that of Keras or float32 numpy; every prediction within 2e-5 of
  Keras for tanh LSTM and GRU (tanh SimpleRNN of width 31 is chaotic: Keras and
  float32 numpy are themselves ~4e-5 off float64); the ``mae`` output within 1e-5 of
  Keras' MAE for tanh cells.
* Deep, long cases (``[31, 31, 31]``, look-back 20-30): ONNX's median and 99th
  percentile error against float64 no worse than 3x Keras' and below absolute
  bounds (1e-4 and 5e-3 for LSTM / GRU), per-sample MAEs within 2e-4 of float64.

Keras is run with ``predict_on_batch`` (one call per weight sample, all windows in
one batch; about 4 ms per call after the first, against ~60 ms for ``predict``).
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import zlib

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

pytestmark = pytest.mark.keras
keras = pytest.importorskip("keras")
ort = pytest.importorskip("onnxruntime")

from mae_ort import data  # noqa: E402
from mae_ort.model import keras_interop as keras_io  # noqa: E402
from mae_ort.model import reference
from mae_ort.model.architecture import Architecture  # noqa: E402
from mae_ort.runtimes import export  # noqa: E402

#: Small-case tolerances on the scaled |onnx - keras| (see check_small).  "bounded":
#: tanh cells; "unbounded": relu / linear cells, whose hidden states reach 1e4..1e7 with
#: Normal(0, 1) weights, so that a few predictions are ill-conditioned.  Observed
#: maxima over this grid and 9 weight seeds (the fixed one and 8 others) in the comments.
TOL = {
    "bounded": dict(median=2e-6,     # 8.4e-7 (SimpleRNN[31], LB 10)
                    q99=1e-4,        # 3.8e-5 (SimpleRNN[31], LB 10: chaotic, Keras is as far from float64)
                    max=2e-5,        # 8.8e-6 (LSTM[31,31], LB 10); LSTM / GRU only
                    mae=1e-5),       # 5.4e-6 (SimpleRNN[31]); LSTM / GRU <= 1.4e-6
    "unbounded": dict(median=2e-6,   # 6.2e-7
                      q99=1e-3,      # 7.7e-5 (SimpleRNN[3,8] linear)
                      mae=1e-3),     # 3.2e-4 (GRU[31] relu: a few O(0.1) ill-conditioned windows)
}
SAMPLES = 4


# -- helpers -------------------------------------------------------------------------
_SESSIONS: dict = {}


def ort_run(arch: Architecture, X: np.ndarray, y: np.ndarray, weights: list[np.ndarray]):
    """``(mae, pred)`` of the exported graph on onnxruntime's CPU provider."""
    key = (arch.family, X.shape[1])
    sess = _SESSIONS.get(key)
    if sess is None:
        so = ort.SessionOptions()
        so.log_severity_level = 3
        sess = ort.InferenceSession(export.build_model(arch, X.shape[1]).SerializeToString(), so,
                                    providers=["CPUExecutionProvider"])
        _SESSIONS[key] = sess
    names = [n for n, _ in arch.weight_shapes(X.shape[2], y.shape[1])]
    feed = {"X": X, "y": y, **dict(zip(names, weights))}
    mae, pred = sess.run(["mae", "pred"], feed)
    return mae, pred


def keras_run(arch: Architecture, X: np.ndarray, n_out: int, weights: list[np.ndarray]) -> np.ndarray:
    """Keras predictions of every weight sample, (S, N, n_out); one model, reloaded per sample."""
    model = keras_io.to_keras(arch, look_back=X.shape[1], n_in=X.shape[2], n_out=n_out, weights=weights, sample=0)
    out = []
    for s in range(weights[0].shape[0]):
        if s:
            model.set_weights([w[s] for w in weights])
        out.append(np.asarray(model.predict_on_batch(X), dtype=np.float32))
    return np.stack(out)


def normal_weights(arch: Architecture, n_in: int, n_out: int, samples: int, seed: int) -> list[np.ndarray]:
    """Every weight i.i.d. Normal(0, 1), float32, with a leading sample axis."""
    rng = np.random.default_rng(seed)
    return [rng.standard_normal((samples,) + shape).astype(np.float32) for _, shape in arch.weight_shapes(n_in, n_out)]


def make_windows(look_back: int, n_in: int, n_out: int, seed: int = 0, points: int = 1000) -> data.Windows:
    """The paper's sine when univariate, else a random multivariate series."""
    if n_in == 1 and n_out == 1:
        return data.windows(data.prepare(data.sine(points)), look_back)
    rng = np.random.default_rng(1000 + seed)
    k = n_in + n_out
    t = np.arange(points // 3)[:, None] / 10.0
    cols = np.sin(2 * np.pi * t * (1 + np.arange(k)) / 3.0) + 0.3 * rng.standard_normal((len(t), k))
    series = data.prepare(cols, input=list(range(n_in)), target=list(range(n_in, k)))
    return data.windows(series, look_back)


# -- small cases: tight elementwise agreement ----------------------------------------
# (cell, units, look_back, n_in, n_out, activation, recurrent_activation, head)
SMALL = [
    ("lstm", (1,), 1, 1, 1, "tanh", "sigmoid", "tanh"),
    ("lstm", (3,), 3, 1, 1, "tanh", "sigmoid", "tanh"),
    ("lstm", (8,), 10, 1, 1, "tanh", "hard_sigmoid_keras2", "tanh"),
    ("lstm", (31,), 10, 1, 1, "tanh", "sigmoid", "sigmoid"),
    ("lstm", (3,), 10, 1, 1, "linear", "sigmoid", "linear"),
    ("lstm", (8,), 10, 2, 2, "relu", "hard_sigmoid", "sigmoid"),
    ("lstm", (1, 3), 1, 1, 2, "tanh", "sigmoid", "tanh"),
    ("lstm", (3, 8), 10, 1, 1, "tanh", "hard_sigmoid", "linear"),
    ("lstm", (8, 31), 3, 2, 2, "relu", "sigmoid", "linear"),
    ("lstm", (31, 1), 3, 2, 1, "linear", "hard_sigmoid_keras2", "linear"),
    ("lstm", (31, 31), 10, 1, 1, "tanh", "hard_sigmoid_keras2", "tanh"),  # the paper's model
    ("gru", (1,), 1, 1, 1, "tanh", "sigmoid", "tanh"),
    ("gru", (3,), 3, 1, 1, "tanh", "sigmoid", "tanh"),
    ("gru", (8,), 10, 2, 1, "tanh", "hard_sigmoid_keras2", "linear"),
    ("gru", (31,), 10, 1, 2, "relu", "sigmoid", "sigmoid"),
    ("gru", (8,), 1, 1, 1, "linear", "hard_sigmoid_keras2", "tanh"),
    ("gru", (3, 8), 10, 1, 1, "tanh", "hard_sigmoid", "tanh"),
    ("gru", (8, 31), 3, 2, 2, "linear", "sigmoid", "linear"),
    ("gru", (31, 3), 10, 1, 1, "tanh", "hard_sigmoid_keras2", "sigmoid"),
    ("gru", (1, 8), 10, 2, 1, "relu", "hard_sigmoid", "tanh"),
    ("simple_rnn", (1,), 1, 1, 1, "tanh", "sigmoid", "tanh"),
    ("simple_rnn", (3,), 3, 1, 1, "tanh", "sigmoid", "tanh"),
    ("simple_rnn", (8,), 10, 2, 2, "relu", "sigmoid", "linear"),
    ("simple_rnn", (31,), 10, 1, 1, "tanh", "sigmoid", "sigmoid"),
    ("simple_rnn", (3, 8), 10, 1, 1, "linear", "sigmoid", "linear"),
    ("simple_rnn", (8, 31), 3, 2, 1, "tanh", "sigmoid", "tanh"),
    ("simple_rnn", (31, 31), 3, 1, 2, "relu", "sigmoid", "linear"),
    ("simple_rnn", (1, 3), 10, 2, 1, "tanh", "sigmoid", "linear"),
]


def _small_id(case) -> str:
    cell, units, lb, n_in, n_out, a, ra, head = case
    gate = "" if cell == "simple_rnn" else f"-{ra}"
    return f"{cell}{list(units)}-lb{lb}-in{n_in}-out{n_out}-{a}{gate}-head_{head}".replace(" ", "")


def check_small(arch, win, weights, mae, pred, kpred) -> dict:
    """The agreement rules of the small cases (see the module docstring); returns the errors seen.

    Errors are scaled by ``max(1, |float64 prediction|)``: absolute for predictions of
    size <= 1, relative beyond (linear heads on relu/linear cells reach 1e6).
    """
    S, n_out = weights[0].shape[0], win.n_out
    assert pred.shape == kpred.shape == (S, win.n, n_out)
    assert np.isfinite(kpred).all() and np.isfinite(pred).all()
    with np.errstate(over="ignore"):
        ref = reference.predict(arch, win.X, weights, dtype=np.float64)
        ref32 = reference.predict(arch, win.X, weights, dtype=np.float32).astype(np.float64)
    pred64, kpred64 = pred.astype(np.float64), kpred.astype(np.float64)
    scale = np.maximum(1.0, np.abs(ref))
    d = np.abs(pred64 - kpred64) / scale        # onnx vs keras
    eo = np.abs(pred64 - ref) / scale           # onnx vs float64
    ek = np.abs(kpred64 - ref) / scale          # keras vs float64
    e32 = np.abs(ref32 - ref) / scale           # float32 numpy vs float64
    bounded = arch.activation == "tanh"
    tol = TOL["bounded" if bounded else "unbounded"]

    # 1. The bulk agrees tightly: any slip in the cell equations moves most predictions.
    med, q99 = np.median(d), np.percentile(d, 99)
    assert med <= tol["median"], f"median scaled |onnx - keras| = {med:.3g} > {tol['median']}"
    assert q99 <= tol["q99"], f"q99 scaled |onnx - keras| = {q99:.3g} > {tol['q99']}"
    # 2. ONNX is about as close to float64 as Keras and float32 numpy are.
    for q, factor, floor in ((50, 3, 1e-7), (99, 10, 1e-6)):
        qo, qk = np.percentile(eo, q), max(np.percentile(ek, q), np.percentile(e32, q))
        assert qo <= factor * qk + floor, (
            f"q{q} of |onnx - float64| = {qo:.3g} > {factor} x that of Keras / float32 numpy ({qk:.3g}) + {floor}"
        )
    # 3. Every prediction, where the cell is not chaotic (LSTM / GRU with tanh).
    if bounded and arch.cell != "simple_rnn":
        i = np.unravel_index(d.argmax(), d.shape)
        assert d[i] <= tol["max"], (
            f"max scaled |onnx - keras| = {d[i]:.3g} > {tol['max']} at {i}: onnx {pred[i]!r}, keras {kpred[i]!r}, "
            f"float32 numpy {ref32[i]!r}, float64 {ref[i]!r}"
        )
    # 4. The mae output is mean |pred - y| of its own predictions, and of Keras'.
    own = np.abs(pred64 - win.y[None]).mean(axis=(1, 2))
    np.testing.assert_allclose(mae, own, rtol=1e-5, atol=1e-6)
    kmae = np.abs(kpred64 - win.y[None]).mean(axis=(1, 2))
    mae_err = np.abs(mae - kmae) / np.maximum(1.0, kmae)
    assert mae_err.max() <= tol["mae"], f"|mae - keras mae| = {mae_err.max():.3g} > {tol['mae']}"
    return dict(max=float(d.max()), q99=float(q99), median=float(med), mae=float(mae_err.max()))


@pytest.mark.parametrize("case", SMALL, ids=_small_id)
def test_small_cases_match_keras(case):
    cell, units, lb, n_in, n_out, a, ra, head = case
    arch = Architecture(units, cell=cell, activation=a, recurrent_activation=ra, head_activation=head)
    win = make_windows(lb, n_in, n_out, seed=len(units))
    weights = normal_weights(arch, n_in, n_out, SAMPLES, zlib.crc32(_small_id(case).encode()))

    mae, pred = ort_run(arch, win.X, win.y, weights)
    kpred = keras_run(arch, win.X, n_out, weights)
    # A meaningful case: not every prediction saturated at the head's bounds.
    assert np.unique(np.round(kpred, 5)).size > 10, "degenerate case: predictions saturated"
    check_small(arch, win, weights, mae, pred, kpred)


def test_small_grid_covers_every_option():
    """The parameter grid above touches every cell, activation, head, width and shape it promises."""
    cells = {c[0] for c in SMALL}
    assert cells == {"lstm", "gru", "simple_rnn"}
    assert {c[5] for c in SMALL} >= {"tanh", "relu", "linear"}
    assert {c[6] for c in SMALL if c[0] != "simple_rnn"} >= {"sigmoid", "hard_sigmoid", "hard_sigmoid_keras2"}
    assert {c[7] for c in SMALL} >= {"tanh", "linear", "sigmoid"}
    assert {u for c in SMALL for u in c[1]} >= {1, 3, 8, 31}
    assert {c[2] for c in SMALL} == {1, 3, 10}
    assert {c[3] for c in SMALL} == {1, 2} and {c[4] for c in SMALL} == {1, 2}
    for cell in cells:
        assert {len(c[1]) for c in SMALL if c[0] == cell} == {1, 2}


# -- deep, long cases: both float32 implementations against float64 -----------------
# (cell, units, look_back, activation, recurrent_activation, head, samples,
#  bound on the median, bound on the 99th percentile, bound on a sample's MAE error)
DEEP = [
    ("lstm", (31, 31, 31), 30, "tanh", "sigmoid", "tanh", 6, 1e-4, 5e-3, 2e-4),
    ("lstm", (31, 31, 31), 30, "tanh", "hard_sigmoid_keras2", "tanh", 6, 1e-4, 5e-3, 2e-4),  # the paper's
    ("gru", (31, 31, 31), 20, "tanh", "sigmoid", "tanh", 6, 1e-4, 5e-3, 2e-4),
    # tanh SimpleRNN of width 31 with Normal(0, 1) weights is chaotic: over 20 steps every
    # float32 implementation (Keras included) is off float64 by ~0.1 at the 99th percentile.
    ("simple_rnn", (31, 31, 31), 20, "tanh", "sigmoid", "tanh", 16, 1e-4, 0.5, 2e-2),
]


def noisy_sine_windows(look_back: int, points: int = 400) -> data.Windows:
    """The sine plus Normal(0, 0.3) noise: every window distinct.

    The paper's sine has period 10 points, so its windows take only ~10 distinct
    values and a 99th percentile over them is just the maximum.
    """
    rng = np.random.default_rng(5)
    return data.windows(data.prepare(data.sine(points) + 0.3 * rng.standard_normal(points)), look_back)


@pytest.mark.parametrize("case", DEEP, ids=lambda c: f"{c[0]}{list(c[1])}-lb{c[2]}-{c[4]}".replace(" ", ""))
def test_deep_cases_no_worse_than_keras(case):
    cell, units, lb, a, ra, head, samples, median_bound, q99_bound, mae_bound = case
    arch = Architecture(units, cell=cell, activation=a, recurrent_activation=ra, head_activation=head)
    win = noisy_sine_windows(lb)
    weights = normal_weights(arch, 1, 1, samples, seed=7 + lb)

    mae, pred = ort_run(arch, win.X, win.y, weights)
    kpred = keras_run(arch, win.X, 1, weights)
    ref = reference.predict(arch, win.X, weights, dtype=np.float64)
    y = win.y[None].astype(np.float64)
    ref_mae = np.abs(ref - y).mean(axis=(1, 2))

    e_onnx, e_keras = np.abs(pred - ref), np.abs(kpred - ref)
    for q, floor, bound in ((50, 1e-7, median_bound), (99, 1e-6, q99_bound)):
        qo, qk = np.percentile(e_onnx, q), np.percentile(e_keras, q)
        assert qo <= 3 * qk + floor, f"q{q} of |onnx - float64| = {qo:.3g} > 3 x Keras' {qk:.3g} + {floor}"
        assert qo < bound, f"q{q} of |onnx - float64| = {qo:.3g} >= {bound}"

    # Per-sample MAEs: the mae output against float64, no worse than Keras' on average over
    # the samples (one sample's error swings with a few ill-conditioned windows), and bounded.
    m_onnx = np.abs(mae - ref_mae)
    m_keras = np.abs(np.abs(kpred - y).mean(axis=(1, 2)) - ref_mae)
    assert m_onnx.mean() <= 3 * m_keras.mean() + 2e-6, f"MAE errors {m_onnx} vs Keras' {m_keras}"
    assert m_onnx.max() < mae_bound, f"|mae_onnx - mae_float64| = {m_onnx.max():.3g} >= {mae_bound}"


# -- Keras 2 hard sigmoid --------------------------------------------------------------
def test_hard_sigmoid_keras2_is_not_keras3_hard_sigmoid():
    x = np.linspace(-4, 4, 81, dtype=np.float32)
    k2 = np.asarray(keras_io.hard_sigmoid_keras2(keras.ops.convert_to_tensor(x)))
    k3 = np.asarray(keras.activations.hard_sigmoid(keras.ops.convert_to_tensor(x)))
    np.testing.assert_allclose(k2, np.clip(0.2 * x + 0.5, 0, 1), atol=1e-7)
    np.testing.assert_allclose(k3, np.clip(x / 6 + 0.5, 0, 1), atol=1e-7)
    assert np.abs(k2 - k3).max() > 0.08  # 1/12 at x = +-2.5
    assert keras_io.keras_activation("hard_sigmoid_keras2") is keras_io.hard_sigmoid_keras2
    assert keras_io.hard_sigmoid_keras2.__name__ == "hard_sigmoid_keras2"
    assert keras_io.keras_activation("hard_sigmoid") == "hard_sigmoid"


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_hard_sigmoid_keras2_matches_keras_custom_callable(cell):
    """ONNX 'hard_sigmoid_keras2' == Keras with the custom callable, != Keras 3 'hard_sigmoid'."""
    k2 = Architecture((8,), cell=cell, recurrent_activation="hard_sigmoid_keras2")
    k3 = k2.replace(recurrent_activation="hard_sigmoid")
    win = make_windows(10, 1, 1)
    weights = normal_weights(k2, 1, 1, SAMPLES, seed=11)

    mae2, pred2 = ort_run(k2, win.X, win.y, weights)
    mae3, pred3 = ort_run(k3, win.X, win.y, weights)
    model = keras_io.to_keras(k2, look_back=10, n_in=1, n_out=1)
    assert model.layers[0].recurrent_activation is keras_io.hard_sigmoid_keras2
    kpred2 = keras_run(k2, win.X, 1, weights)
    kpred3 = keras_run(k3, win.X, 1, weights)

    check_small(k2, win, weights, mae2, pred2, kpred2)
    check_small(k3, win, weights, mae3, pred3, kpred3)
    # The two gate activations really give different models.
    assert np.abs(kpred2 - kpred3).max() > 1e-2
    assert np.abs(pred2 - kpred3).max() > 1e-2


# -- the sampling path does not need TensorFlow ---------------------------------------
def test_sampling_path_never_imports_tensorflow(tmp_path):
    code = textwrap.dedent(
        """
        import sys
        import numpy as np
        import mae_ort, mae_ort.runtimes.export, mae_ort.model.reference, mae_ort.sampling.stats, mae_ort.data
        import mae_ort.runtimes.ort, mae_ort.model.architecture, mae_ort.model.keras_interop, mae_ort.sampling.sampler
        from mae_ort.model.architecture import Architecture
        arch = Architecture((3, 2), cell="lstm")
        win = mae_ort.data.windows(mae_ort.data.prepare(mae_ort.data.sine(60)), 4)
        rng = np.random.default_rng(0)
        w = [rng.standard_normal((3,) + s).astype(np.float32) for _, s in arch.weight_shapes(1, 1)]
        mae, _ = mae_ort.runtimes.ort.OrtRuntime(threads=1).maes(arch, win, w)
        ref = mae_ort.model.reference.maes(arch, win.X, win.y, w)
        assert np.allclose(mae, ref, atol=1e-5), (mae, ref)
        mae_ort.sampling.stats.fit_truncnorm(mae)
        mae_ort.sampling.sampler.sample(mae_ort.data.sine(60), arch=[3], look_back=4, samples=4, runtime="onnxruntime")
        bad = sorted(m for m in sys.modules if m.split(".")[0] in ("tensorflow", "keras", "tf_keras"))
        assert not bad, bad[:5]
        print("ok")
        """
    )
    env = dict(os.environ, MAE_ORT_CACHE=str(tmp_path))
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env)
    assert res.returncode == 0, res.stderr[-2000:]
    assert res.stdout.strip().endswith("ok")
