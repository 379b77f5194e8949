"""The echo-state readout scores against a float64 numpy reference (np.linalg.lstsq on the augmented system)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from mae_ort.data import Windows
from mae_ort.errors import DataError
from mae_ort.model import reference
from mae_ort.model.architecture import Architecture, resolve
from mae_ort.sampling import Sampler
from mae_ort.sampling.keras_init import keras_init_weights, orthogonal
from mae_ort.sampling.readout import RIDGE_LAMBDA, fit_windows, lookback_ridge, median_score, readout_maes
from mae_ort.sampling.scores import readout_scores, scores_of
from mae_ort.sampling.settings import SamplingSettings


def ridge_reference(features, y, lam=RIDGE_LAMBDA):
    """Test MAE of the ridge readout by lstsq on [A; sqrt(lam) I] w = [y; 0], in float64."""
    F = np.asarray(features, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64).reshape(len(F), -1)
    n_fit = int(math.floor(0.7 * len(F)))
    A = np.hstack([F, np.ones((len(F), 1))])
    k = A.shape[1]
    aug = np.vstack([A[:n_fit], math.sqrt(lam) * np.eye(k)])
    rhs = np.vstack([y[:n_fit], np.zeros((k, y.shape[1]))])
    w = np.linalg.lstsq(aug, rhs, rcond=None)[0]
    return float(np.abs(A[n_fit:] @ w - y[n_fit:]).mean())


def make_windows(n_in, n_out=1, N=48, LB=5, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(N + LB + 1)
    series = np.stack([np.sin(0.37 * (j + 1) * t) + 0.1 * rng.standard_normal(t.size) for j in range(n_in)], 1)
    X = np.stack([series[i:i + LB] for i in range(N)]).astype(np.float32)
    y = series[LB:LB + N, :n_out].astype(np.float32)
    return Windows(X=X, y=y)


@pytest.mark.parametrize("cell", ["lstm", "gru", "simple_rnn"])
@pytest.mark.parametrize("units", [(6,), (5, 4, 3)])
@pytest.mark.parametrize("n_in", [1, 3])
@pytest.mark.parametrize("runtime", ["numba", "onnxruntime"])
def test_readout_matches_float64_lstsq_reference(cell, units, n_in, runtime):
    arch = Architecture(units=units, cell=cell)
    win = make_windows(n_in)
    sampler = Sampler(runtime=runtime, threads=1)
    S = 5
    maes, per = sampler.maes(arch, win, samples=S, seed=3, readout=True)
    W = sampler.weights(arch, n_in=n_in, n_out=1, samples=S, seed=3)
    states = reference.hidden_states(arch, win.X, W, dtype=np.float64)[-1][:, :, -1, :]
    want = [ridge_reference(states[s], win.y) for s in range(S)]
    np.testing.assert_allclose(per["readout"], want, rtol=2e-3, atol=1e-6)
    # the MAEs of the same pass are the plain pass's
    np.testing.assert_allclose(maes, sampler.maes(arch, win, samples=S, seed=3), rtol=1e-6)


@pytest.mark.parametrize("n_out", [1, 2])
def test_readout_maes_equal_lstsq_on_the_same_features(n_out):
    rng = np.random.default_rng(1)
    F = rng.standard_normal((4, 30, 7))
    y = rng.standard_normal((30, n_out))
    got = readout_maes(F, y)
    want = [ridge_reference(F[s], y) for s in range(4)]
    np.testing.assert_allclose(got, want, rtol=1e-9)


def test_constant_features_leave_the_intercept_alone():
    # features all zero: the ridge is an intercept c = sum(y_fit) / (n_fit + lam) (hand-computed)
    y = np.arange(10.0)
    got = float(readout_maes(np.zeros((10, 3)), y))
    c = y[:7].sum() / (7 + RIDGE_LAMBDA)
    assert got == pytest.approx(np.abs(c - y[7:]).mean(), rel=1e-12)


def test_fewer_windows_than_features_still_solves():
    rng = np.random.default_rng(2)
    F = rng.standard_normal((6, 20))  # 4 fitting windows, 21 features
    y = rng.standard_normal(6)
    assert float(readout_maes(F, y)) == pytest.approx(ridge_reference(F, y), rel=1e-8)


def test_non_finite_states_count_as_a_non_finite_sample():
    rng = np.random.default_rng(3)
    F = rng.standard_normal((3, 12, 2))
    F[1, 5, 0] = np.inf
    F[2, 0, 1] = np.nan
    got = readout_maes(F, rng.standard_normal(12))
    assert math.isfinite(got[0]) and math.isnan(got[1]) and math.isnan(got[2])
    assert median_score(got) == math.inf  # two of three are +inf
    assert median_score([1.0, 2.0, np.nan]) == 2.0


def test_too_few_windows_is_one_clear_error():
    with pytest.raises(DataError, match="at least 2 windows to fit"):
        fit_windows(3)
    assert fit_windows(4) == 2
    with pytest.raises(DataError, match="3 window"):
        readout_maes(np.zeros((3, 2)), np.zeros(3))


def test_lookback_ridge_is_the_ridge_on_raw_windows():
    win = make_windows(2, N=30, LB=4)
    want = ridge_reference(win.X.reshape(30, -1), win.y)
    assert lookback_ridge(win.X, win.y) == pytest.approx(want, rel=1e-6)


def test_orthogonal_follows_keras():
    rng = np.random.default_rng(0)
    q = orthogonal(rng, (5, 20))
    np.testing.assert_allclose(q @ q.T, np.eye(5), atol=1e-12)
    q = orthogonal(rng, (6, 6))
    np.testing.assert_allclose(q.T @ q, np.eye(6), atol=1e-12)


@pytest.mark.parametrize("cell", ["lstm", "gru", "simple_rnn"])
def test_keras_init_has_keras_layout(cell):
    arch = Architecture(units=(4, 3), cell=cell)
    W = keras_init_weights(arch, n_in=2, n_out=1, samples=3, seed=5)
    shapes = [shape for _, shape in arch.weight_shapes(2, 1)]
    assert [w.shape[1:] for w in W] == shapes
    g = arch.gates
    for k, (d, H) in enumerate([(2, 4), (4, 3)]):
        K, U, b = W[3 * k:3 * k + 3]
        limit = math.sqrt(6 / (d + g * H))
        assert np.abs(K).max() <= limit and np.abs(K).max() > 0.5 * limit
        for s in range(3):
            np.testing.assert_allclose(U[s] @ U[s].T, np.eye(H), atol=1e-5)
        want_b = np.zeros(b.shape[1:])
        if cell == "lstm":
            want_b[H:2 * H] = 1.0
        assert (b == want_b).all()
    # sample s does not depend on how many are drawn; another seed draws other weights
    again = keras_init_weights(arch, n_in=2, n_out=1, samples=1, seed=5)
    assert all((a[0] == w[0]).all() for a, w in zip(again, W))
    assert not (keras_init_weights(arch, n_in=2, n_out=1, samples=1, seed=6)[0] == W[0][:1]).all()


def test_keras_init_matches_keras_initialisers():
    keras = pytest.importorskip("keras")
    layer = keras.layers.LSTM(4)
    layer.build((None, 3, 2))
    K, U, b = (np.asarray(v) for v in layer.weights)
    ours = keras_init_weights(Architecture(units=(4,)), n_in=2, n_out=1, samples=1, seed=0)
    assert ours[0].shape[1:] == K.shape and ours[1].shape[1:] == U.shape and ours[2].shape[1:] == b.shape
    np.testing.assert_array_equal(ours[2][0], b)  # zeros, forget block ones
    np.testing.assert_allclose(U @ U.T, np.eye(4), atol=1e-5)  # Keras' is orthogonal by rows like ours
    limit = math.sqrt(6 / (2 + 16))
    assert np.abs(K).max() <= limit and np.abs(ours[0]).max() <= limit


def test_readout_scores_and_scores_of_agree_with_the_sampler():
    arch = resolve([5, 4])
    win = make_windows(1, N=40)
    settings = SamplingSettings(samples=6, seed=2)
    sampler = Sampler(runtime="numba", threads=1)
    got = readout_scores(arch, win, settings, sampler=sampler)
    _, per = sampler.maes(arch, win, samples=6, seed=2, readout=True)
    assert got["readout"] == median_score(per["readout"])
    assert got["readout_window"] == median_score(per["readout_window"])
    W = keras_init_weights(arch, n_in=1, n_out=1, samples=6, seed=2)
    states = reference.hidden_states(arch, win.X, W, dtype=np.float64)[-1][:, :, -1, :]
    want = np.median([ridge_reference(states[s], win.y) for s in range(6)])
    assert got["readout_keras"] == pytest.approx(want, rel=2e-3)
    s = scores_of(arch, win, None, settings=settings, which=["readout", "lookback_ridge"], sampler=sampler)
    assert list(s) == ["readout", "lookback_ridge"] and s["readout"] == got["readout"]
