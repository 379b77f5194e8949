"""The training-free scores: each against a hand computation or plain numpy, seeds, errors."""

from __future__ import annotations

import math

import numpy as np
import pytest

from mae_ort.data import prepare, sine, windows
from mae_ort.errors import DataError, InvalidParameterError
from mae_ort.model import reference
from mae_ort.model.architecture import Architecture
from mae_ort.sampling.sampler import Sampler
from mae_ort.sampling.scores import (
    HIDDEN_COV_K,
    HIGHER,
    LOWER,
    SCORES,
    activation_kernel,
    describe,
    hidden_covariance,
    mae_quantile,
    naswot,
    score_names,
    scores,
    scores_of,
    select_batch,
)
from mae_ort.sampling.settings import SamplingSettings
from mae_ort.sampling.stats import fit_truncnorm

SINE = sine(200)
SMALL = dict(samples=12, seed=3, runtime="numba")


def _f(lam, k=HIDDEN_COV_K):
    return math.log(lam + k) + 1.0 / (lam + k)


# -- hidden covariance -----------------------------------------------------------------


def test_hidden_covariance_in_closed_form_with_a_constant_row_dropped():
    x = np.array([1.0, -1.0, 1.0, -1.0])
    y = np.array([1.0, 1.0, -1.0, -1.0])  # centred and orthogonal to x: uncorrelated
    m = np.stack([x, 2.0 * x + 1.0, y, np.full(4, 0.3)])
    # the correlation matrix of the varying rows is [[1, 1, 0], [1, 1, 0], [0, 0, 1]]: eigenvalues 2, 0, 1
    want = -(_f(2.0) + _f(0.0) + _f(1.0))
    got = hidden_covariance(m)
    assert got.units == 3 and got.constant == 1
    assert got.score == pytest.approx(want, rel=1e-9)
    assert hidden_covariance(m[:3]).score == got.score


def test_hidden_covariance_equals_the_papers_numpy_on_a_random_matrix(rng):
    m = rng.normal(size=(6, 40)) @ rng.normal(size=(40, 40))
    v, _ = np.linalg.eig(np.corrcoef(m))
    want = -np.sum(np.log(v.real + 1e-5) + 1.0 / (v.real + 1e-5))
    assert hidden_covariance(m).score == pytest.approx(want, rel=1e-10)


def test_hidden_covariance_edge_cases():
    assert math.isnan(hidden_covariance(np.ones((3, 5))).score)
    assert hidden_covariance(np.ones((3, 5))).constant == 3
    assert math.isnan(hidden_covariance(np.array([[1.0, np.inf], [0.0, 1.0]])).score)
    assert hidden_covariance(np.array([[1.0, 2.0, 4.0]])).score == pytest.approx(-_f(1.0))
    with pytest.raises(InvalidParameterError):
        hidden_covariance(np.ones((3, 1)))


# -- activation patterns ---------------------------------------------------------------


def test_naswot_kernel_is_the_hamming_agreement_matrix():
    c = np.array([[1, 0, 1], [1, 1, 0], [0, 0, 1]])
    K = np.array([[3, 1, 2], [1, 3, 0], [2, 0, 3]], dtype=float)  # positions where two codes agree
    np.testing.assert_array_equal(activation_kernel(c), K)
    np.testing.assert_array_equal(activation_kernel([c[:, :1], c[:, 1:]]), K)  # summed over two "layers"
    assert np.linalg.det(K) == pytest.approx(12.0)
    assert naswot(c) == pytest.approx(math.log(12.0))
    assert naswot([c[:, :2], c[:, 2:]]) == pytest.approx(math.log(12.0))
    assert naswot(np.array([[1, 0], [1, 0], [0, 1]])) == -math.inf  # two windows, one code


# -- the batch ---------------------------------------------------------------------------


def test_select_batch_is_seeded_and_skips_near_duplicates():
    X = np.array([[[0.0]], [[1.0]], [[1.0 + 1e-9]], [[2.0]], [[0.0]], [[3.0]]])
    idx = select_batch(X, 10, seed=0)
    assert sorted(X[idx, 0, 0].round(6).tolist()) == [0.0, 1.0, 2.0, 3.0]
    np.testing.assert_array_equal(idx, select_batch(X, 10, seed=0))
    assert len(select_batch(X, 10, seed=0, distinct=False)) == 6
    assert len(select_batch(X, 3, seed=1)) == 3
    big = np.random.default_rng(0).normal(size=(50, 4, 1))
    assert not np.array_equal(select_batch(big, 8, seed=0), select_batch(big, 8, seed=1))


def test_the_sines_distinct_windows_are_its_ten_phases():
    w = windows(prepare(sine()), 30)
    assert len(select_batch(w.X, 128, seed=0)) == 10
    assert len(select_batch(w.X, 128, seed=0, distinct=False)) == 128


# -- the MAE scores ----------------------------------------------------------------------


def test_mae_scores_equal_numpy_on_the_sampled_maes():
    s = scores(SINE, [4, 3], 5, which=["log_p", "mean", "sd", "min", "q05", "q10"], **SMALL)
    m = s.info["result"].maes
    assert list(s) == ["log_p", "mean", "sd", "min", "q05", "q10"]
    assert s["min"] == np.min(m)
    assert s["q05"] == np.quantile(m, 0.05) and s["q10"] == np.quantile(m, 0.10)
    assert s["mean"] == pytest.approx(m.mean(), rel=1e-12) and s["sd"] == pytest.approx(m.std(), rel=1e-12)
    f = fit_truncnorm(m, threshold=0.01, lower=0.0, upper=2.0)
    assert s["log_p"] == f.log_p_exact
    assert "batch" not in s.info  # no forward pass was asked for


def test_quantiles_count_nonfinite_maes_as_worst():
    m = np.array([0.4, np.nan, 0.1, 0.3, np.inf] + [0.5 + 0.01 * i for i in range(15)])
    finite_first = np.where(np.isfinite(m), m, 1e9)
    assert mae_quantile(m, 0.05) == np.quantile(finite_first, 0.05)
    assert mae_quantile(m, 0.10) == np.quantile(finite_first, 0.10)
    assert mae_quantile(m, 0.95) == math.inf
    assert mae_quantile([np.nan, np.inf], 0.05) == math.inf
    w = windows(prepare(SINE), 3)
    st = SamplingSettings(samples=m.size)
    out = scores_of(Architecture((2,)), w, m, settings=st, which=["min", "q05"])
    assert out["min"] == 0.1 and out["q05"] == mae_quantile(m, 0.05)


# -- parameter count ---------------------------------------------------------------------


def test_parameter_count_by_hand():
    w = windows(prepare(SINE), 3)
    st = SamplingSettings(samples=2)
    # LSTM [3, 2]: (1*12 + 3*12 + 12) + (3*8 + 2*8 + 8) + (2 + 1)
    assert scores_of(Architecture((3, 2)), w, settings=st, which=["n_weights"]) == {"n_weights": 111.0}
    # GRU [4] (reset_after: two bias rows): (1*12 + 4*12 + 2*12) + (4 + 1)
    assert scores_of(Architecture((4,), cell="gru"), w, settings=st, which="n_weights") == {"n_weights": 89.0}


# -- the forward pass --------------------------------------------------------------------


def test_forward_scores_equal_a_direct_numpy_computation():
    arch = Architecture((4, 3), cell="gru")
    w = windows(prepare(SINE), 4)
    st = SamplingSettings(samples=12, seed=5)
    out = scores_of(arch, w, settings=st, which=["hidden_cov", "hidden_cov_l2", "naswot"], batch=6)
    idx = np.asarray(out.info["batch"])
    assert len(idx) == 6 and out.info["constant_units"] == [{"l1": 0, "l2": 0}]
    W = Sampler().weights(arch, n_in=1, n_out=1, samples=1, seed=5)
    states = reference.hidden_states(arch, w.X[idx], W)
    for k, name in ((0, "hidden_cov"), (1, "hidden_cov_l2")):
        h = states[k][0]  # (B, T, H)
        m = h.reshape(6 * 4, -1).T  # one row per unit, one column per (window, step)
        lam = np.linalg.eigvalsh(np.corrcoef(m))
        assert out[name] == pytest.approx(-np.sum(np.log(lam + 1e-5) + 1 / (lam + 1e-5)), rel=1e-10)
    c = np.concatenate([(s[0] > 0).reshape(6, -1) for s in states], axis=1).astype(float)
    K = c @ c.T + (1 - c) @ (1 - c).T
    assert out["naswot"] == pytest.approx(np.linalg.slogdet(K)[1], rel=1e-10)


def test_the_forward_weights_are_the_first_sampled_networks():
    s = scores(SINE, [4, 3], 5, which=["mean", "hidden_cov"], **SMALL)
    arch, w = Architecture((4, 3)), windows(prepare(SINE), 5)
    W = Sampler().weights(arch, n_in=1, n_out=1, samples=1, seed=SMALL["seed"])
    assert reference.maes(arch, w.X, w.y, W)[0] == pytest.approx(s.info["result"].maes[0], abs=1e-5)


def test_several_forward_samples_average_their_scores():
    arch = Architecture((5,))
    w = windows(prepare(SINE), 3)
    st = SamplingSettings(samples=4, seed=2)
    two = scores_of(arch, w, settings=st, which=["hidden_cov", "naswot"], batch=8, forward_samples=2)
    idx = np.asarray(two.info["batch"])
    states = reference.hidden_states(arch, w.X[idx], Sampler().weights(arch, n_in=1, n_out=1, samples=2, seed=2))[0]
    per = [hidden_covariance(states[s].reshape(-1, 5).T).score for s in range(2)]
    assert two["hidden_cov"] == pytest.approx(np.mean(per), rel=1e-12)
    assert two["naswot"] == pytest.approx(np.mean([naswot(states[s].reshape(len(idx), -1) > 0) for s in range(2)]))
    one = scores_of(arch, w, settings=st, which=["hidden_cov"], batch=8)
    assert one["hidden_cov"] == pytest.approx(per[0], rel=1e-12)


# -- the whole call ----------------------------------------------------------------------


def test_all_scores_same_seed_same_values_and_the_stored_path_agrees():
    a = scores(SINE, [4, 3], 5, batch=16, **SMALL)
    assert list(a) == score_names(2) == ["log_p", "mean", "sd", "min", "q05", "q10", "hidden_cov", "hidden_cov_l1",
                                         "hidden_cov_l2", "naswot", "n_weights", "readout", "readout_window",
                                         "readout_keras", "lookback_ridge"]
    assert all(isinstance(v, float) for v in a.values())
    assert a == scores(SINE, [4, 3], 5, batch=16, **SMALL)
    assert a != scores(SINE, [4, 3], 5, batch=16, **{**SMALL, "seed": 4})
    r = a.info["result"]
    again = scores_of(r.arch, windows(prepare(SINE), 5), r.maes, settings=r.settings, batch=16)
    assert again == a and again.info["batch"] == a.info["batch"]


def test_forward_only_scores_sample_nothing():
    s = scores(SINE, [3], 2, which=["naswot", "n_weights"], batch=4, **SMALL)
    assert list(s) == ["naswot", "n_weights"] and s.info["result"] is None


def test_every_score_has_a_direction_and_a_source():
    for name, info in SCORES.items():
        assert info.direction in (HIGHER, LOWER) and info.description, name
        assert describe(name.replace("{k}", "3")) is info
    assert describe("hidden_cov_l7").direction == HIGHER


# -- errors ------------------------------------------------------------------------------


@pytest.mark.parametrize("kw,match", [
    (dict(which=["log_p", "nope"]), "among 'log_p', 'mean'"),
    (dict(which=["hidden_cov_l3"]), "for 2 layers"),
    (dict(which=[]), "non-empty"),
    (dict(batch=1), "'batch' parameter of scores"),
    (dict(forward_samples=0), "'forward_samples'"),
    (dict(samples=1), "'samples'"),
])
def test_bad_input_gives_one_line_errors(kw, match):
    with pytest.raises(InvalidParameterError, match=match) as e:
        scores(SINE, [4, 3], 5, **{**SMALL, **kw})
    assert "\n" not in str(e.value)


def test_bad_input_to_scores_of():
    w = windows(prepare(SINE), 3)
    st = SamplingSettings(samples=4)
    with pytest.raises(InvalidParameterError, match="needs the sampled MAEs"):
        scores_of(Architecture((2,)), w, settings=st, which=["log_p"])
    with pytest.raises(InvalidParameterError, match="4 samples"):
        scores_of(Architecture((2,)), w, [0.1, 0.2], settings=st, which=["log_p"])
    with pytest.raises(DataError, match="at least 2 distinct windows"):
        scores_of(Architecture((2,)), windows(prepare(np.ones(20)), 3), settings=st, which=["naswot"])
    with pytest.raises(InvalidParameterError, match="Windows"):
        scores_of(Architecture((2,)), w.X, settings=st, which=["naswot"])


def test_one_table_of_directions_drives_rank_search_and_the_evidence():
    import importlib

    from mae_ort.search.names import OBJECTIVES
    from mae_ort.study.evidence import direction
    from mae_ort.study.winners import RANK_BY

    sc = importlib.import_module("mae_ort.sampling.scores")
    # every score a ranking accepts: the row statistics, the MAE tail and every score screen can store
    assert set(sc.RANKABLE) == {"log_p", "log_p_exact", "p", "mean", "sd", "min", "q05", "q10", "hidden_cov",
                                "naswot", "readout", "readout_window", "readout_keras", "lookback_ridge"}
    assert set(OBJECTIVES) == set(sc.RANK_ASCENDING) == set(sc.RANKABLE) == set(RANK_BY)
    for name in sc.RANKABLE:
        higher = sc.better(name) == sc.HIGHER
        assert sc.RANK_ASCENDING[name] is (not higher), name
        assert OBJECTIVES[name] == ("maximize" if higher else "minimize"), name
        assert direction(name) == (1 if higher else -1), name
    for name in sc.SCORES:  # the evidence's sign is the table's for every score it reports
        if name != "hidden_cov_l{k}":
            assert direction(name) == (1 if sc.SCORES[name].direction == sc.HIGHER else -1)
    # the stored forms of log p point like it, every layer's hidden covariance like layer 1's
    assert {sc.better(n) for n in ("log_p_exact", "p", "log_p_floored", "log_p_mle")} == {sc.better("log_p")}
    assert sc.better("hidden_cov_l3") == sc.better("hidden_cov")
    # resolved once: a larger mean sampled MAE is better (the paper's negative correlations)
    assert sc.better("mean") == sc.HIGHER and not sc.RANK_ASCENDING["mean"]
    assert sc.better("readout_window") == sc.LOWER


def test_ranking_computes_the_mae_tail_and_refuses_unknown_scores_in_one_line():
    import importlib

    import pandas as pd

    sc = importlib.import_module("mae_ort.sampling.scores")
    maes = [np.array([0.3, 0.1, 0.2, np.inf]), np.array([0.05, 0.5, 0.6, 0.7])]
    frame = pd.DataFrame({"id": [1, 2], "maes": maes})
    assert sc.ranking(frame, "q10")[1:3] == ("q10", True)
    np.testing.assert_allclose(frame["q10"], [np.quantile([0.1, 0.2, 0.3, 0.3], 0.1),
                                              np.quantile([0.05, 0.5, 0.6, 0.7], 0.1)])
    assert sc.ranking(frame, "min")[1] == "min" and list(frame["min"]) == [0.1, 0.05]
    with pytest.raises(DataError, match="needs the rows' sampled MAEs"):
        sc.ranking(pd.DataFrame({"id": [1]}), "q05")
    with pytest.raises(InvalidParameterError) as e:
        sc.ranking(frame, "median")
    text = str(e.value)
    assert "\n" not in text and "'median'" in text and all(n in text for n in sc.RANKABLE)
    with pytest.raises(InvalidParameterError, match="The '--objective' option must be one of log_p, "):
        sc.check_score("nope", "--objective")


def test_delta_scores_follow_the_change_target():
    """target_form='delta': the MAE scores are the delta MAEs, lookback_ridge is a hand-written ridge of the window on
    the change (y - last), and the forward-pass scores (no target) are those of the level."""
    x = prepare(sine(120) + 0.1 * np.random.default_rng(3).standard_normal(120))
    raw = x.targets[:, 0].astype(np.float64)
    lb = 5
    X = np.stack([x.inputs[i:i + lb, 0] for i in range(120 - lb)]).astype(np.float32).astype(np.float64)
    change = raw[lb:] - raw[lb - 1:-1]
    n_fit = int(0.7 * len(change))
    A = np.column_stack([X, np.ones(len(X))])
    w = np.linalg.solve(A[:n_fit].T @ A[:n_fit] + 1e-3 * np.eye(lb + 1), A[:n_fit].T @ change[:n_fit])
    want = float(np.abs(A[n_fit:] @ w - change[n_fit:]).mean())
    names = ["mean", "lookback_ridge", "hidden_cov", "readout_keras"]
    d = scores(x, [4], lb, samples=6, seed=1, target_form="delta", which=names)
    lvl = scores(x, [4], lb, samples=6, seed=1, which=names)
    assert d["lookback_ridge"] == pytest.approx(want, rel=1e-4)
    # the window holds the last value, so a linear ridge on it forecasts both forms alike (up to the penalty)
    assert d["lookback_ridge"] == pytest.approx(lvl["lookback_ridge"], rel=1e-3)
    assert d["mean"] == pytest.approx(float(d.info["result"].maes.mean()))
    assert d.info["result"].target_form == "delta" and d.info["result"].arch.head_activation == "linear"
    assert d["readout_keras"] != pytest.approx(lvl["readout_keras"], rel=1e-3)
    assert np.isfinite(d["hidden_cov"])
