"""The echo-state readout on [1; window; state] (``readout_window``) against a float64 numpy reference.

The reference builds the augmented design matrix itself (a constant, the raw look-back window of every
input, the last hidden state of the float64 numpy forward pass) and solves the ridge by ``np.linalg.lstsq``
on ``[A; sqrt(lam) I] w = [y; 0]`` (the textbook form, Lukosevicius 2012, section 3), independently of
the blocked Gram matrix of :func:`mae_ort.sampling.readout.readout_window_maes`.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from mae_ort.data import Windows
from mae_ort.model import reference
from mae_ort.model.architecture import Architecture
from mae_ort.sampling import Sampler
from mae_ort.sampling.readout import PASS_SCORES, RIDGE_LAMBDA, median_score, readout_maes, readout_window_maes
from mae_ort.sampling.scores import readout_scores, scores_of
from mae_ort.sampling.settings import SamplingSettings


def window_reference(state, X, y, lam=RIDGE_LAMBDA):
    """Test MAE of the ridge on [1, window values, state] by lstsq on the augmented system, in float64."""
    N = len(state)
    A = np.hstack([np.ones((N, 1)), np.asarray(X, np.float64).reshape(N, -1), np.asarray(state, np.float64)])
    y = np.asarray(y, dtype=np.float64).reshape(N, -1)
    n_fit = int(math.floor(0.7 * N))
    k = A.shape[1]
    aug = np.vstack([A[:n_fit], math.sqrt(lam) * np.eye(k)])
    rhs = np.vstack([y[:n_fit], np.zeros((k, y.shape[1]))])
    w = np.linalg.lstsq(aug, rhs, rcond=None)[0]
    return float(np.abs(A[n_fit:] @ w - y[n_fit:]).mean())


def make_windows(n_in, n_out=1, N=60, LB=4, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(N + LB + 1)
    series = np.stack([np.sin(0.29 * (j + 1) * t) + 0.1 * rng.standard_normal(t.size) for j in range(n_in)], 1)
    X = np.stack([series[i:i + LB] for i in range(N)]).astype(np.float32)
    y = series[LB:LB + N, :n_out].astype(np.float32)
    return Windows(X=X, y=y)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
@pytest.mark.parametrize("units", [(6,), (5, 4)])
@pytest.mark.parametrize("n_in", [1, 3])
def test_readout_window_matches_the_float64_reference(cell, units, n_in):
    arch = Architecture(units=units, cell=cell)
    win = make_windows(n_in)
    sampler = Sampler(runtime="numba", threads=1)
    S = 5
    maes, per = sampler.maes(arch, win, samples=S, seed=4, readout=True)
    assert tuple(per) == PASS_SCORES
    W = sampler.weights(arch, n_in=n_in, n_out=1, samples=S, seed=4)
    states = reference.hidden_states(arch, win.X, W, dtype=np.float64)[-1][:, :, -1, :]
    want = [window_reference(states[s], win.X, win.y) for s in range(S)]
    np.testing.assert_allclose(per["readout_window"], want, rtol=2e-3, atol=1e-6)
    # the same pass: the MAEs are the plain pass's, and the sampler's result carries the median
    np.testing.assert_allclose(maes, sampler.maes(arch, win, samples=S, seed=4), rtol=1e-6)


@pytest.mark.parametrize("runtime", ["numba", "onnxruntime"])
def test_the_result_of_a_run_carries_both_readouts(runtime):
    from mae_ort.data import prepare

    rng = np.random.default_rng(7)
    t = np.arange(80.0)
    frame = np.stack([np.sin(0.3 * t) + 0.05 * rng.standard_normal(80), np.cos(0.2 * t)], 1)
    series = prepare(frame, input=[0, 1], target=[0])
    arch = Architecture(units=(4, 3))
    sampler = Sampler(runtime=runtime, threads=1, readout=True)
    r = sampler.run(series, arch, 5, SamplingSettings(samples=6, seed=1))
    win = sampler.windows_of(series, 5)
    W = sampler.weights(arch, n_in=2, n_out=1, samples=6, seed=1)
    states = reference.hidden_states(arch, win.X, W, dtype=np.float64)[-1][:, :, -1, :]
    want = np.median([window_reference(states[s], win.X, win.y) for s in range(6)])
    assert r.scores["readout_window"] == pytest.approx(want, rel=2e-3)
    assert set(r.scores) == set(PASS_SCORES)


@pytest.mark.parametrize("n_out", [1, 2])
def test_blocked_gram_equals_lstsq_on_the_concatenation(n_out):
    rng = np.random.default_rng(1)
    F = rng.standard_normal((4, 30, 5))
    X = rng.standard_normal((30, 3, 2))
    y = rng.standard_normal((30, n_out))
    got = readout_window_maes(F, X, y)
    want = [window_reference(F[s], X, y) for s in range(4)]
    np.testing.assert_allclose(got, want, rtol=1e-9)
    # a 2-D feature matrix is one sample
    assert float(readout_window_maes(F[0], X, y)) == pytest.approx(want[0], rel=1e-12)


def test_gram_blocks_of_any_size_give_the_same_values(monkeypatch):
    from mae_ort.sampling import readout

    rng = np.random.default_rng(5)
    F, X, y = rng.standard_normal((7, 25, 3)), rng.standard_normal((25, 4, 1)), rng.standard_normal(25)
    whole = readout_window_maes(F, X, y)
    monkeypatch.setattr(readout, "_GRAM_VALUES", 2 * 8 ** 2)  # two samples' 8x8 Gram matrices at a time
    np.testing.assert_allclose(readout_window_maes(F, X, y), whole, rtol=1e-12)


def test_no_state_is_the_lookback_ridge_and_a_window_beats_a_blind_state():
    rng = np.random.default_rng(2)
    X = rng.standard_normal((40, 3, 1))
    y = X[:, -1, 0] * 2.0 + 0.5  # the target is a linear function of the window
    # a constant state adds a second intercept and nothing else: the window alone predicts y almost exactly
    got = float(readout_window_maes(np.zeros((40, 2)), X, y))
    assert got < 1e-3
    assert float(readout_maes(np.zeros((40, 2)), y)) > 0.5  # the state-only readout cannot see the window


def test_non_finite_states_are_a_non_finite_sample():
    rng = np.random.default_rng(3)
    F = rng.standard_normal((3, 12, 2))
    F[1, 4, 1] = np.inf
    got = readout_window_maes(F, rng.standard_normal((12, 2, 1)), rng.standard_normal(12))
    assert math.isfinite(got[0]) and math.isnan(got[1]) and math.isfinite(got[2])
    assert median_score(got) == pytest.approx(max(got[0], got[2]))


def test_scores_of_and_readout_scores_agree_with_the_pass():
    arch = Architecture(units=(5,), cell="gru")
    win = make_windows(2, N=40)
    settings = SamplingSettings(samples=6, seed=2)
    sampler = Sampler(runtime="numba", threads=1)
    _, per = sampler.maes(arch, win, samples=6, seed=2, readout=True)
    got = readout_scores(arch, win, settings, ["readout_window"], sampler=sampler)
    assert got == {"readout_window": median_score(per["readout_window"])}
    s = scores_of(arch, win, None, settings=settings, which=["readout", "readout_window"], sampler=sampler)
    assert list(s) == ["readout", "readout_window"] and s["readout_window"] == got["readout_window"]
