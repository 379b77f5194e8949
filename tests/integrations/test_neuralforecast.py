"""NeuralForecast LSTM/GRU configurations ranked through mae-ort's own-model path (needs the ``neuralforecast``
extra)."""

import sys
import warnings

import numpy as np
import pytest

pytest.importorskip("neuralforecast")
torch = pytest.importorskip("torch")
pd = pytest.importorskip("pandas")

import mae_ort  # noqa: E402
from mae_ort.data import prepare, windows  # noqa: E402
from mae_ort.errors import DataError, RuntimeUnavailableError  # noqa: E402
from mae_ort.integrations import neuralforecast as mnf  # noqa: E402
from mae_ort.integrations._grid import SkippedConfigWarning, export_module  # noqa: E402
from mae_ort.runtimes.own import OwnRuntime, arrange_windows  # noqa: E402

TRAINER = {"enable_progress_bar": False, "logger": False, "enable_model_summary": False, "accelerator": "cpu"}


def _values(n=40, phase=0.0):
    t = np.arange(n, dtype=np.float64)
    return 0.5 + 0.4 * np.sin(t / 3.0 + phase) + 0.003 * t


def _long(n=40, ids=("a",)):
    return pd.concat([pd.DataFrame({"unique_id": u, "ds": pd.date_range("2021-01-01", periods=n, freq="D"),
                                    "y": _values(n, k)}) for k, u in enumerate(ids)], ignore_index=True)


@pytest.mark.parametrize("cell,scaler,lb", [("LSTM", "robust", 6), ("GRU", "standard", 5), ("LSTM", "minmax", 5)])
def test_exported_network_is_neuralforecasts_own(cell, scaler, lb):
    """A weight set copied into a fitted NeuralForecast model gives, through NeuralForecast's own predict (one
    series per window), the predictions and the MAE of mae-ort's onnxruntime evaluation of the exported network."""
    from neuralforecast import NeuralForecast

    cfg = {"model": cell, "encoder_hidden_size": 5, "encoder_n_layers": 2, "input_size": lb,
           "decoder_hidden_size": 7, "scaler_type": scaler}
    net = mnf.one_step_module(cfg, seed=1)
    g = torch.Generator().manual_seed(11)
    with torch.no_grad():
        for p in net.parameters():  # Normal(0, 1) weights, as MRS draws them
            p.copy_(torch.randn(p.shape, generator=g))
    _, model = mnf._build({**cfg, "max_steps": 1, **TRAINER}, seed=0)
    nf = NeuralForecast(models=[model], freq="D")
    v = _values(30).astype(np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        nf.fit(pd.DataFrame({"unique_id": "s", "ds": pd.date_range("2021-01-01", periods=30, freq="D"), "y": v}))
        nf.models[0].load_state_dict(net.inner.state_dict())
        win = windows(prepare(v.astype(np.float64)), lb)
        cuts = pd.concat([pd.DataFrame({"unique_id": i, "ds": pd.date_range("2021-01-01", periods=lb, freq="D"),
                                        "y": win.X[i, :, 0]}) for i in range(win.n)], ignore_index=True)
        fc = nf.predict(df=cuts)
    nf_pred = fc.sort_values("unique_id")[cell].to_numpy(dtype=np.float64)

    m = mae_ort.own_model(export_module(net, lb), output="y", feature="h")
    ort_pred, ort_h = OwnRuntime(threads=1).run(m, arrange_windows(m, win.X), [m.values[n] for n in m.weight_names],
                                                feature=True)
    ort_pred = ort_pred[0]
    assert nf_pred.shape == ort_pred.shape == (win.n,)
    np.testing.assert_allclose(ort_pred, nf_pred, rtol=1e-5, atol=1e-5)
    # the feature output is the encoder's last layer's final hidden state on the normalised window, from
    # NeuralForecast's own fitted model and its own scaler
    inner = nf.models[0]
    x = torch.from_numpy(win.X)
    with torch.no_grad():
        shift, scale = mnf._stats(scaler, x) if scaler in ("standard", "robust") else \
            inner.scaler.compute_statistics(x=x, mask=torch.ones_like(x), dim=1, eps=inner.scaler.eps)
        h = inner.hist_encoder(inner.scaler.scaler(x, shift, scale))[0][:, -1, :].numpy()
    assert ort_h.shape == (1, win.n, 5)
    np.testing.assert_allclose(ort_h[0], h, rtol=1e-4, atol=1e-5)
    mae_nf = np.abs(nf_pred - win.y[:, 0]).mean()
    assert np.abs(ort_pred - win.y[:, 0]).mean() == pytest.approx(mae_nf, rel=1e-5)


def test_window_statistics_are_neuralforecasts():
    """The exportable standard/robust statistics equal NeuralForecast's own TemporalNorm on full windows (odd and
    even lengths, a window with a zero MAD)."""
    from neuralforecast.common._scalers import TemporalNorm

    x = torch.randn(6, 8, 1, generator=torch.Generator().manual_seed(0))
    x[0, :5, 0] = 1.0  # the median's absolute deviation is 0: the sd-based fallback
    for L in (7, 8):
        for kind in ("standard", "robust"):
            tn = TemporalNorm(scaler_type=kind, dim=1, num_features=1)
            tn.transform(x=x[:, :L], mask=torch.ones_like(x[:, :L]))
            shift, scale = mnf._stats(kind, x[:, :L])
            torch.testing.assert_close(shift, tn.x_shift)
            torch.testing.assert_close(scale, tn.x_scale)


def test_rank_scores_every_series_and_skips_what_it_cannot_export():
    grid = [{"model": ["LSTM", "GRU"], "encoder_hidden_size": [3, 6], "input_size": [4], "decoder_hidden_size": 8},
            {"model": "LSTM", "input_size": 4, "h": 2},
            {"model": "LSTM", "input_size": 4, "scaler_type": "revin"},
            {"model": "LSTM", "input_size": 4, "hist_exog_list": ["x"]}]
    df = _long(40, ("a", "b"))
    with pytest.warns(SkippedConfigWarning) as rec:
        out = mnf.rank(df, grid, samples=15, seed=0, threads=1)
    msgs = " | ".join(str(w.message) for w in rec if issubclass(w.category, SkippedConfigWarning))
    for name in ("h=2", "scaler_type='revin'", "hist_exog_list="):
        assert name in msgs
    assert len(out) == 4 and set(out["n_series"]) == {2}
    assert out.attrs["by"] == "readout" and (np.diff(out["readout"].to_numpy()) >= 0).all()  # lower is better
    # a row is the mean over the series of the own-model path's scores on that network
    best = out.iloc[0]
    cfg = {"model": best["model"], **best["kwargs"]}
    data = mnf.model_onnx(cfg)
    rs = []
    for uid in ("a", "b"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            rs.append(mae_ort.sample_own(mae_ort.own_model(data, output="y", feature="h"),
                                         prepare(df[df.unique_id == uid]["y"].to_numpy(), scale="minmax"), samples=15,
                                         seed=0, threads=1))
    assert best["log_p"] == pytest.approx(np.mean([r.log_p for r in rs]))
    assert best["mean"] == pytest.approx(np.mean([r.mean for r in rs]))
    for name in ("readout", "readout_window"):
        assert best[name] == pytest.approx(np.mean([r.scores[name] for r in rs]))
    by_log_p = mnf.rank(df, grid[0], samples=15, seed=0, threads=1, by="log_p")
    assert by_log_p.attrs["by"] == "log_p" and (np.diff(by_log_p["log_p"].to_numpy()) <= 0).all()
    with pytest.raises(mae_ort.InvalidParameterError, match="'by' parameter"):
        mnf.rank(df, grid[0], samples=5, by="q05")
    models = mnf.top_models(out, 2, max_steps=1)
    assert [type(m).__name__ for m in models] == list(out["model"][:2])
    assert models[0].encoder_hidden_size == out["encoder_hidden_size"][0] and models[0].h == 1
    space = mnf.auto_space(out, 4)
    assert sorted(space["encoder_hidden_size"]) == [3, 6] and space["input_size"] == [4] and "h" not in space


def test_bad_input():
    df = _long(30)
    with pytest.raises(DataError, match="repeated time stamp"):
        mnf.rank(pd.concat([df, df.iloc[:1]]), {"input_size": 3}, samples=5)
    with pytest.raises(DataError, match="no column 'y'"):
        mnf.rank(df.rename(columns={"y": "value"}), {"input_size": 3}, samples=5)
    with pytest.warns(SkippedConfigWarning, match="input_size=40"):
        with pytest.raises(mae_ort.InvalidParameterError, match="no configuration"):
            mnf.rank(df, {"input_size": 40}, samples=5)


def test_baselines_are_the_studys_per_series():
    """neuralforecast.baselines is mae_ort.study.baselines.evaluate on each series' split: its last test_points
    points, every series min-max scaled on its own training part; a season per series from a dict."""
    from mae_ort.data import Scaler, TrainTestSplit
    from mae_ort.study.baselines import as_records, evaluate

    df = _long(50, ("a", "b"))
    df["y"] = df["y"] * np.where(df["unique_id"] == "a", 10.0, 3.0)
    got = mnf.baselines(df, 12, look_backs=4, season={"a": 6, "b": 7}, statistical=False)
    for uid, season in (("a", 6), ("b", 7)):
        v = df[df.unique_id == uid]["y"].to_numpy()
        train = prepare(v[:38], scale="minmax")
        test = prepare(Scaler("minmax", train.params["targets"]).apply(v[38:, None]))
        want = pd.DataFrame(as_records(evaluate(TrainTestSplit(train, test), look_backs=[4], season=season,
                                                statistical=False)))
        part = got[got.unique_id == uid].drop(columns="unique_id").reset_index(drop=True)
        pd.testing.assert_frame_equal(part, want)
        persistence = np.abs(np.diff(v[37:])).mean() / (v[:38].max() - v[:38].min())
        assert part["test_mae"][1] == pytest.approx(persistence, rel=1e-9)
    assert got[got.name == "seasonal_naive"]["model"].tolist() == ["the value 6 steps back", "the value 7 steps back"]


def test_missing_neuralforecast_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "neuralforecast.models", None)
    with pytest.raises(RuntimeUnavailableError, match=r"mae-ort\[neuralforecast\]"):
        mnf.rank(_long(30), {"input_size": 3})


def test_rank_with_a_store_keeps_one_row_per_network_and_series(tmp_path):
    db = tmp_path / "nf.sqlite"
    grid = {"model": ["LSTM", "GRU"], "encoder_hidden_size": 3, "input_size": 4, "decoder_hidden_size": 4}
    plain = mnf.rank(_long(30, ("a", "b")), grid, samples=10, seed=2, threads=1)
    stored = mnf.rank(_long(30, ("a", "b")), grid, samples=10, seed=2, threads=1, store=db)
    np.testing.assert_allclose(stored["log_p"].to_numpy(float), plain["log_p"].to_numpy(float), rtol=1e-9)
    frame = mae_ort.open_store(db).frame()
    assert len(frame) == 4 and frame["series"].nunique() == 2
