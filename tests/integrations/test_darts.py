"""Darts BlockRNNModel configurations ranked through mae-ort's own-model path (needs the ``darts`` extra)."""

import sys
import warnings

import numpy as np
import pytest

pytest.importorskip("darts")
torch = pytest.importorskip("torch")

import mae_ort  # noqa: E402
from mae_ort.data import prepare, windows  # noqa: E402
from mae_ort.errors import DataError, RuntimeUnavailableError  # noqa: E402
from mae_ort.integrations import darts as mdarts  # noqa: E402
from mae_ort.integrations._grid import SkippedConfigWarning, export_module  # noqa: E402
from mae_ort.runtimes.own import OwnRuntime, arrange_windows  # noqa: E402

TRAINER = {"enable_progress_bar": False, "logger": False, "enable_model_summary": False, "accelerator": "cpu"}


def _series(n=60):
    from darts import TimeSeries

    t = np.arange(n, dtype=np.float64)
    v = 0.5 + 0.4 * np.sin(t / 3.0) + 0.002 * t  # already in [0, 1]
    return TimeSeries.from_values(v.astype(np.float32))


@pytest.mark.parametrize("cell,layers", [("LSTM", 2), ("GRU", 1), ("RNN", 1)])
def test_exported_network_is_darts_own(cell, layers):
    """A weight set copied into a fitted BlockRNNModel gives, through Darts' own historical_forecasts, the
    predictions and the MAE that mae-ort's onnxruntime evaluation of the exported network gives."""
    from darts.models import BlockRNNModel

    s = _series()
    kw = {"model": cell, "hidden_dim": 5, "n_rnn_layers": layers, "input_chunk_length": 6, "output_chunk_length": 1}
    fitted = BlockRNNModel(**kw, n_epochs=1, random_state=0, pl_trainer_kwargs=TRAINER)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fitted.fit(s, verbose=False)
    net = mdarts.block_rnn_module(kw, seed=1)
    g = torch.Generator().manual_seed(7)
    with torch.no_grad():
        for p in net.parameters():  # Normal(0, 1) weights, as MRS draws them
            p.copy_(torch.randn(p.shape, generator=g))
    fitted.model.load_state_dict(net.inner.state_dict())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        hf = fitted.historical_forecasts(s, start=6, forecast_horizon=1, retrain=False, last_points_only=True,
                                         verbose=False)
    darts_pred = hf.values()[:, 0].astype(np.float64)

    m = mae_ort.own_model(export_module(net, 6), output="y", feature="h")
    win = windows(prepare(s.values()[:, 0]), 6)
    ort_pred, ort_h = OwnRuntime(threads=1).run(m, arrange_windows(m, win.X), [m.values[n] for n in m.weight_names],
                                                feature=True)
    ort_pred = ort_pred[0]
    assert darts_pred.shape == ort_pred.shape == (len(s) - 6,)
    np.testing.assert_allclose(ort_pred, darts_pred, rtol=1e-5, atol=1e-5)
    # the feature output is the last recurrent layer's final hidden state of Darts' own fitted module
    with torch.no_grad():
        h = fitted.model.rnn(torch.from_numpy(win.X))[0][:, -1, :].numpy()
    assert ort_h.shape == (1, len(s) - 6, 5)
    np.testing.assert_allclose(ort_h[0], h, rtol=1e-5, atol=1e-5)
    mae_darts = np.abs(darts_pred - win.y[:, 0]).mean()
    mae_mrs = np.abs(ort_pred - win.y[:, 0]).mean()
    assert mae_mrs == pytest.approx(mae_darts, rel=1e-5)


def test_rank_scores_the_grid_and_skips_what_it_cannot_export():
    grid = [{"model": ["LSTM", "GRU"], "hidden_dim": [3, 6], "input_chunk_length": [4]},
            {"model": "LSTM", "hidden_dim": 3, "input_chunk_length": 4, "output_chunk_length": 2},
            {"model": "Transformer", "input_chunk_length": 4}]
    with pytest.warns(SkippedConfigWarning) as rec:
        df = mdarts.rank(_series(), grid, samples=20, seed=0, threads=1)
    msgs = [str(w.message) for w in rec if issubclass(w.category, SkippedConfigWarning)]
    assert any("output_chunk_length=2" in m for m in msgs) and any("model='Transformer'" in m for m in msgs)
    assert len(df) == 4 and list(df["rank"]) == [1, 2, 3, 4]
    assert df.attrs["by"] == "readout" and (np.diff(df["readout"].to_numpy()) >= 0).all()  # lower is better
    assert set(zip(df["model"], df["hidden_dim"])) == {("LSTM", 3), ("LSTM", 6), ("GRU", 3), ("GRU", 6)}
    # the kwargs build Darts' model, and the score is the own-model path's on that network
    top = mdarts.top_kwargs(df, 2)
    assert len(top) == 2 and all(kw["output_chunk_length"] == 1 for kw in top)
    from darts.models import BlockRNNModel

    BlockRNNModel(**top[0])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r = mae_ort.sample_own(mae_ort.own_model(mdarts.block_rnn_onnx(top[0]), output="y", feature="h"),
                               prepare(_series().values()[:, 0], scale="minmax"), samples=20, seed=0, threads=1)
    assert df["log_p"][0] == pytest.approx(r.log_p) and df["mean"][0] == pytest.approx(r.mean)
    assert df["readout"][0] == pytest.approx(r.scores["readout"])
    assert df["readout_window"][0] == pytest.approx(r.scores["readout_window"])
    by_log_p = mdarts.rank(_series(), grid[0], samples=20, seed=0, threads=1, by="log_p")
    assert by_log_p.attrs["by"] == "log_p" and (np.diff(by_log_p["log_p"].to_numpy()) <= 0).all()
    assert sorted(by_log_p["readout"]) == sorted(df["readout"])
    assert df["n_outside"][0] == r.n_outside and df["n_nonfinite"][0] == r.n_nonfinite
    # LSTM(6) has 4 * (6 * (1 + 6) + 2 * 6) weights in the cell and 6 + 1 in the head
    lstm6 = df[(df.model == "LSTM") & (df.hidden_dim == 6)]
    assert int(lstm6["n_weights"].iloc[0]) == 4 * (6 * 7 + 12) + 7


def test_rank_scales_the_series_min_max_on_what_it_is_given():
    from darts import TimeSeries

    s = _series()
    raw = TimeSeries.from_values(s.values()[:, 0] * 40.0 - 3.0)
    grid = {"model": "GRU", "hidden_dim": 4, "input_chunk_length": 5}
    a = mdarts.rank(raw, grid, samples=15, seed=3, threads=1)
    lo, hi = raw.values().min(), raw.values().max()
    b = mdarts.rank((raw.values()[:, 0] - lo) / (hi - lo), grid, samples=15, seed=3, threads=1, scale="none")
    assert a["mean"][0] == pytest.approx(b["mean"][0], rel=1e-6)


def test_bad_input():
    from darts import TimeSeries

    two = TimeSeries.from_values(np.random.default_rng(0).random((30, 2)))
    with pytest.raises(DataError, match="2 components"):
        mdarts.rank(two, {"input_chunk_length": 3}, samples=5)
    with pytest.warns(SkippedConfigWarning, match="input_chunk_length=80"):
        with pytest.raises(mae_ort.InvalidParameterError, match="no configuration"):
            mdarts.rank(_series(), {"input_chunk_length": 80}, samples=5)


def test_baselines_are_the_studys_on_the_same_test_points():
    """darts.baselines is mae_ort.study.baselines.evaluate on the split it describes: the first n_train points
    min-max scaled on themselves, the rest scaled alike (or the data's own units with scale='none')."""
    from mae_ort.data import Scaler, TrainTestSplit
    from mae_ort.study.baselines import as_records, evaluate

    s = _series(80)
    raw = s.values()[:, 0].astype(np.float64) * 30.0 + 2.0
    got = mdarts.baselines(raw, 60, look_backs=[3, 5], season=6, statistical=False)
    train = prepare(raw[:60], scale="minmax")
    test = prepare(Scaler("minmax", train.params["targets"]).apply(raw[60:, None]))
    want = as_records(evaluate(TrainTestSplit(train, test), look_backs=[3, 5], season=6, statistical=False))
    import pandas as pd

    pd.testing.assert_frame_equal(got, pd.DataFrame(want))
    assert np.isfinite(got["test_mae"]).all()
    assert list(got["name"]) == ["train_mean", "persistence", "seasonal_naive", "ridge_ar", "ridge_ar"]
    # persistence by hand, in the scaled units and in the data's own
    lo, hi = raw[:60].min(), raw[:60].max()
    persistence = np.abs(np.diff(raw[59:])).mean()
    assert got["test_mae"][1] == pytest.approx(persistence / (hi - lo), rel=1e-9)
    own = mdarts.baselines(s.__class__.from_values(raw), 60, statistical=False, scale="none")
    assert own["test_mae"][1] == pytest.approx(persistence, rel=1e-9)


@pytest.mark.parametrize("grid", [[], "hidden_dim=4", [{"input_chunk_length": 3}, 5], {"input_chunk_length": []}])
def test_a_grid_that_is_not_one_is_refused(grid):
    with pytest.raises(mae_ort.InvalidParameterError, match="grid"):
        mdarts.rank(_series(), grid, samples=5)


@pytest.mark.parametrize("module", ["darts", "torch"])
def test_missing_darts_or_torch_names_the_extra(monkeypatch, module):
    monkeypatch.setitem(sys.modules, module, None)
    with pytest.raises(RuntimeUnavailableError, match=rf"needs {module}: pip install 'mae-ort\[darts\]'$"):
        mdarts.rank(np.arange(30.0), {"input_chunk_length": 3})


def test_rank_with_a_store_keeps_the_rows_and_reads_them_back(tmp_path):
    db = tmp_path / "darts.sqlite"
    grid = {"model": ["LSTM", "RNN"], "hidden_dim": 3, "input_chunk_length": 4}
    plain = mdarts.rank(_series(), grid, samples=12, seed=1, threads=1)
    stored = mdarts.rank(_series(), grid, samples=12, seed=1, threads=1, store=db)
    for col in ("log_p", "mean", "sd", "n_outside", "readout", "readout_window"):
        np.testing.assert_allclose(stored[col].to_numpy(float), plain[col].to_numpy(float), rtol=1e-9)
    frame = mae_ort.open_store(db).frame()
    assert len(frame) == 2 and all(f.startswith("darts-{") for f in frame["model_file"])
    again = mdarts.rank(_series(), grid, samples=12, seed=1, threads=1, store=db)  # read back, nothing new
    assert len(mae_ort.open_store(db).frame()) == 2
    np.testing.assert_allclose(again["log_p"].to_numpy(float), plain["log_p"].to_numpy(float), rtol=1e-9)
