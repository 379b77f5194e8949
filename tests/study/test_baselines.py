"""The forecasting baselines: hand-computed cases, a closed-form ridge, statsmodels' own forecasts by another route."""

from __future__ import annotations

import math
import sys
import warnings

import numpy as np
import pytest

from mae_ort.data import Series, TrainTestSplit, sine_split
from mae_ort.errors import InvalidParameterError, MaeOrtWarning
from mae_ort.study import baselines as bl


def _split(inputs, targets, n_train, in_names=None, out_names=None):
    inputs, targets = np.asarray(inputs, float), np.asarray(targets, float)
    inputs = inputs[:, None] if inputs.ndim == 1 else inputs
    targets = targets[:, None] if targets.ndim == 1 else targets
    ins = tuple(in_names or [f"x{i}" for i in range(inputs.shape[1])])
    outs = tuple(out_names or [f"y{i}" for i in range(targets.shape[1])])
    return TrainTestSplit(Series(inputs[:n_train], targets[:n_train], ins, outs, "s"),
                          Series(inputs[n_train:], targets[n_train:], ins, outs, "s-test"))


def _by(rows, name, look_back=None):
    return next(b for b in rows if b.name == name and (look_back is None or b.look_back == look_back))


# -- hand-computed cases -----------------------------------------------------------------------------------
def test_mean_persistence_and_seasonal_naive_by_hand():
    y = np.array([1.0, 2, 4, 7, 11, 16, 22, 29, 37, 46])  # train: the first 6 points, test: 22, 29, 37, 46
    rows = bl.evaluate(_split(y, y, 6), look_backs=(), season=3, statistical=False)
    # training mean (1+2+4+7+11+16)/6 = 41/6; persistence forecasts 16, 22, 29, 37; seasonal naive 7, 11, 16, 22
    assert _by(rows, "train_mean").test_mae == pytest.approx(np.mean(np.abs(np.array([22, 29, 37, 46]) - 41 / 6)))
    assert _by(rows, "persistence").test_mae == pytest.approx((6 + 7 + 8 + 9) / 4)
    assert _by(rows, "seasonal_naive").test_mae == pytest.approx((15 + 18 + 21 + 24) / 4)
    assert [b.name for b in rows] == ["train_mean", "persistence", "seasonal_naive"]


def test_persistence_reads_the_target_even_when_it_is_not_an_input():
    x = np.arange(10.0) * 100  # the input is another column entirely
    y = np.array([0.0, 1, 0, 1, 0, 1, 0, 1, 5, 1])
    rows = bl.evaluate(_split(x, y, 7), look_backs=(), statistical=False)
    assert _by(rows, "persistence").test_mae == pytest.approx((abs(1 - 0) + abs(5 - 1) + abs(1 - 5)) / 3)
    np.testing.assert_array_equal(bl.persistence_forecast(y, 7)[:, 0], [0, 1, 5])


def test_seasonal_naive_needs_one_season_of_training_points():
    y = np.arange(12.0)
    np.testing.assert_array_equal(bl.seasonal_naive_forecast(y, 4, 4)[:, 0], np.arange(8.0))
    rows = bl.evaluate(_split(y, y, 4), look_backs=(), season=4, statistical=False)
    assert _by(rows, "seasonal_naive").test_mae == pytest.approx(4.0)  # every point is 4 above the one 4 back


@pytest.mark.parametrize("season", [1, 0, 7, 2.5, "12"])
def test_a_bad_season_is_one_line(season):
    y = np.arange(10.0)
    with pytest.raises(InvalidParameterError, match=r"The 'season' parameter of validate must be an int in the "
                                                    r"range \[2, 6\] \(at most the training part's length\)"):
        bl.evaluate(_split(y, y, 6), season=season, statistical=False, caller="validate")


def test_the_ridge_equals_a_closed_form_solve_on_the_networks_windows():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((80, 2))
    y = 0.5 * np.roll(x[:, 0], 1) - 0.3 * np.roll(x[:, 1], 2) + 0.05 * rng.standard_normal(80)
    split = _split(x, y, 60)
    for lb in (1, 3):
        tr, te = split.train_windows(lb), split.test_windows(lb)  # the networks' own windows
        A = np.c_[tr.X.reshape(tr.n, -1).astype(float), np.ones(tr.n)]
        B = np.c_[te.X.reshape(te.n, -1).astype(float), np.ones(te.n)]
        # the ridge as an augmented least-squares problem: [A; sqrt(lam) I] w = [y; 0]
        k = A.shape[1]
        w = np.linalg.lstsq(np.r_[A, math.sqrt(bl.RIDGE_LAMBDA) * np.eye(k)], np.r_[tr.y[:, 0], np.zeros(k)],
                            rcond=None)[0]
        want = np.mean(np.abs(B @ w - te.y[:, 0]))
        rows = bl.evaluate(split, look_backs=(lb,), statistical=False)
        assert _by(rows, "ridge_ar", lb).test_mae == pytest.approx(want, rel=1e-6)  # float32 windows vs float64
        pred, coef = bl.ridge_ar_forecast(x, y, 60, lb)
        np.testing.assert_allclose(coef[:, 0], w, rtol=1e-5, atol=1e-7)
    assert _by(rows, "ridge_ar", 3).test_mae < _by(rows, "persistence").test_mae  # it finds the lagged inputs


def test_a_ridge_without_two_training_windows_says_why():
    y = np.arange(10.0)
    b = _by(bl.evaluate(_split(y, y, 5), look_backs=(4,), statistical=False), "ridge_ar", 4)
    assert math.isnan(b.test_mae) and "at least 2 training windows" in b.error


# -- the statistical models against statsmodels' own forecasts ---------------------------------------------
# statsmodels is in the dev extra (CI installs it); the path without it is tested last.


def _seasonal(T=72, P=4, seed=1):
    rng = np.random.default_rng(seed)
    t = np.arange(T)
    return np.sin(2 * np.pi * t / P) + 0.02 * t + 0.1 * rng.standard_normal(T)


def test_ets_level_model_equals_the_hand_recursion():
    pytest.importorskip("statsmodels")
    y = np.cumsum(np.random.default_rng(2).standard_normal(60)) * 0.1
    pred, spec = bl.ets_forecast(y, 45, trends=((None, False),))
    alpha, level = spec["params"][0], spec["params"][1]  # smoothing_level, initial_level
    hand = []
    for t in range(60):  # ETS(A,N,N): forecast l_{t-1}; l_t = l_{t-1} + alpha * (y_t - l_{t-1})
        hand.append(level)
        level = level + alpha * (y[t] - level)
    np.testing.assert_allclose(pred, hand[45:], rtol=0, atol=1e-8)


def test_ets_forecasts_equal_statsmodels_refiltered_step_by_step():
    pytest.importorskip("statsmodels")
    from statsmodels.tsa.exponential_smoothing.ets import ETSModel

    y = _seasonal()
    pred, spec = bl.ets_forecast(y, 56, season=4)
    kw = {k: spec[k] for k in ("error", "trend", "damped_trend", "seasonal", "seasonal_periods")}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        other = [float(ETSModel(y[:56 + i], **kw).smooth(spec["params"]).forecast(1)[0]) for i in range(16)]
    np.testing.assert_allclose(pred, other, rtol=0, atol=1e-8)
    assert spec["name"].startswith("ETS(A,") and spec["name"].endswith(",A)[4]")


@pytest.mark.parametrize("order,closed", [((1, 0, 0), lambda p, prev: p[0] + p[1] * prev),
                                          ((0, 1, 0), lambda p, prev: prev + p[0])])
def test_arima_one_step_forecasts_by_hand(order, closed):
    pytest.importorskip("statsmodels")
    y = np.cumsum(np.random.default_rng(3).standard_normal(70)) * 0.1 + 1
    pred, params = bl.arima_forecast(y, 50, order=order, trend="c")  # params: constant, (ar.L1,) sigma2
    np.testing.assert_allclose(pred, closed(params, y[49:69]), rtol=0, atol=1e-8)


def test_arima_extend_equals_a_model_of_the_whole_series_with_the_same_params():
    pytest.importorskip("statsmodels")
    from statsmodels.tsa.statespace.sarimax import SARIMAX

    y = _seasonal()
    pred, params = bl.arima_forecast(y, 56, order=(1, 0, 0), seasonal_order=(0, 1, 1, 4), trend="c")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        full = SARIMAX(y, order=(1, 0, 0), seasonal_order=(0, 1, 1, 4), trend="c").filter(params)
    other = full.get_prediction(start=56, end=71).predicted_mean
    np.testing.assert_allclose(pred, other, rtol=0, atol=1e-8)


def test_the_stepwise_search_ends_at_a_local_minimum_of_aicc():
    pytest.importorskip("statsmodels")
    rng = np.random.default_rng(4)
    e = rng.standard_normal(150)
    y = np.cumsum(np.r_[e[0], e[1:] + 0.6 * e[:-1]])  # an ARIMA(0,1,1): one difference needed
    o = bl.arima_order(y, max_fits=40)
    assert o["order"][1] == 1 and o["trend"] == "c"
    assert o["aicc"] == min(o["tried"].values())
    (p, d, q), _ = o["order"], o["seasonal_order"]
    for a, b in ((1, 0), (-1, 0), (0, 1), (0, -1), (1, 1), (-1, -1)):  # every neighbour was tried
        if p + a >= 0 and q + b >= 0:
            assert ((p + a, d, q + b), (0, 0, 0, 0)) in o["tried"]


def test_evaluate_fits_seasonal_ets_and_arima():
    pytest.importorskip("statsmodels")
    y = _seasonal(T=56, P=4)
    rows = bl.evaluate(_split(y, y, 44), look_backs=(2,), season=4)
    assert [b.name for b in rows] == ["train_mean", "persistence", "seasonal_naive", "ridge_ar", "ets", "arima"]
    for name in ("ets", "arima"):
        b = _by(rows, name)
        assert b.error is None and b.test_mae < _by(rows, "persistence").test_mae / 5, b  # the season is the signal
    assert _by(rows, "ets").model.endswith("[4]") and "[4]" in _by(rows, "arima").model


def test_a_short_series_says_which_baseline_could_not_be_fitted_and_why():
    pytest.importorskip("statsmodels")
    rows = bl.evaluate(sine_split(30, 10), look_backs=(1,), season=20)
    for name in ("ets", "arima"):
        b = _by(rows, name)
        assert math.isnan(b.test_mae) and "needs at least 42 training points" in b.error
    line = bl.summary_line(rows)
    assert "exponential smoothing: not fitted (exponential smoothing needs at least 42" in line
    assert bl.best_baseline(rows).name == "seasonal_naive"


def test_without_statsmodels_the_statistical_baselines_are_skipped_with_one_warning(monkeypatch):
    monkeypatch.setitem(sys.modules, "statsmodels", None)  # import statsmodels now raises ImportError
    assert not bl.statsmodels_available()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        rows = bl.evaluate(sine_split(60, 20), look_backs=(1,), season=10)
    mine = [w for w in caught if issubclass(w.category, MaeOrtWarning)]
    assert len(mine) == 1 and "mae-ort[baselines]" in str(mine[0].message) and "\n" not in str(mine[0].message)
    assert [b.name for b in rows] == ["train_mean", "persistence", "seasonal_naive", "ridge_ar"]


def test_records_are_json_ready():
    import json

    y = np.arange(10.0)
    rows = bl.evaluate(_split(y, y, 5), look_backs=(4,), statistical=False)
    rec = json.loads(json.dumps(bl.as_records(rows)))
    assert rec[-1]["test_mae"] is None and rec[-1]["look_back"] == 4 and rec[1]["name"] == "persistence"


# -- at the command line -----------------------------------------------------------------------------------
@pytest.mark.parametrize("command", ["validate", "train"])
@pytest.mark.parametrize("season", ["1", "1001"])
def test_cli_bad_season_is_one_line_and_stores_nothing(capsys, tmp_path, command, season):
    from mae_ort.cli import main
    from mae_ort.results import open_store
    from mae_ort.screening.space import grid
    from mae_ort.screening.sweep import screen

    db = tmp_path / "r.sqlite"
    screen(grid(units="2", layers="1", look_back="1"), sine_split().train, store=str(db), samples=5, workers=1)
    code = main([command, "--db", str(db), "--season", season, "--quiet"])  # the paper's sine: 1000 training points
    err = capsys.readouterr().err
    caller = "validate" if command == "validate" else "train_top"
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert f"The 'season' parameter of {caller} must be an int in the range [2, 1000]" in err
    with open_store(db, create=False, readonly=True) as st:
        assert st.trained_frame().empty


def test_a_library_failure_is_reported_not_raised(monkeypatch):
    pytest.importorskip("statsmodels")

    def boom(kind, t, n_train, season):
        raise IndexError(f"{kind} broke")

    monkeypatch.setattr(bl, "_stat_fit", boom)
    monkeypatch.setattr(bl, "_FITTED", {})
    rows = bl.evaluate(sine_split(40, 10), look_backs=(1,))
    assert _by(rows, "ets").error == "IndexError: ets broke" and _by(rows, "arima").error == "IndexError: arima broke"
    assert math.isnan(_by(rows, "arima").test_mae) and math.isfinite(_by(rows, "persistence").test_mae)


def test_a_long_season_goes_into_fourier_terms_and_out_of_ets():
    pytest.importorskip("statsmodels")
    from statsmodels.tsa.statespace.sarimax import SARIMAX

    P = 30  # longer than MAX_SEASON: too many seasonal states
    y = _seasonal(T=100, P=P, seed=5)
    rows = bl.evaluate(_split(y, y, 80), look_backs=(), season=P)
    assert "season 30 left out" in _by(rows, "ets").model and "Fourier pair(s) of period 30" in _by(rows, "arima").model
    assert _by(rows, "arima").test_mae < _by(rows, "persistence").test_mae
    # the forecasts with Fourier regressors equal a model of the whole series with the same params
    X = bl.fourier(0, 100, P, 2)
    pred, params = bl.arima_forecast(y, 80, order=(1, 0, 0), trend="c", exog=X)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        other = SARIMAX(y, exog=X, order=(1, 0, 0), trend="c").filter(params).get_prediction(start=80, end=99)
    np.testing.assert_allclose(pred, other.predicted_mean, rtol=0, atol=1e-8)
    np.testing.assert_allclose(X[7, [0, 2]], [np.sin(2 * np.pi * 7 / P), np.cos(2 * np.pi * 7 / P)])
