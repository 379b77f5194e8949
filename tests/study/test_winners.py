"""train_top / mae-ort train: the k best rows by a score trained, the best saved as .keras and plain ONNX."""

from __future__ import annotations

import numpy as np
import pytest

from mae_ort.cli import main
from mae_ort.data import sine_split
from mae_ort.errors import InvalidParameterError

pytest.importorskip("keras")

SPLIT = sine_split(120, 20)


@pytest.fixture
def db(tmp_path):
    from mae_ort.screening import grid, screen

    path = tmp_path / "r.sqlite"
    screen(grid(units="2:4", layers="1", look_back="1,3", preset="paper"), SPLIT.train, store=str(path),
           samples=10, workers=1)
    return path


def test_train_top_trains_the_best_by_log_p_and_saves_a_runnable_onnx(db, tmp_path):
    import onnxruntime as ort

    from mae_ort.results import open_store
    from mae_ort.study.winners import train_top

    with open_store(db) as st:
        df = st.frame()
    want = list(df.sort_values("log_p", ascending=False).id[:2])
    res = train_top(db, SPLIT, k=2, epochs="2", out=tmp_path / "best")
    assert list(res.table.sampling_id) == want and list(res.table["rank"]) == [1, 2]
    # chosen by the validation loss, never by the test MAE
    assert res.best["chosen_by"] == "val_loss" and res.best["val_loss"] == res.table.val_loss.min()
    assert res.paths["keras"].stat().st_size > 0 and (tmp_path / "best" / "models").is_dir()
    sess = ort.InferenceSession(str(res.paths["onnx"]), providers=["CPUExecutionProvider"])
    te = SPLIT.test_windows(int(res.best["look_back"]))
    pred = sess.run(["y_pred"], {"X": te.X})[0]
    assert pred.shape == te.y.shape
    # its test MAE is the stored one (the ONNX graph computes the trained network)
    assert float(np.mean(np.abs(pred - te.y))) == pytest.approx(res.best["test_mae"], abs=1e-5)
    again = train_top(db, SPLIT, k=2, epochs="2")  # resumes: nothing trained again, same answer
    assert list(again.table.test_mae) == list(res.table.test_mae)
    # the baselines on the same test points, the ridge at the best network's look-back, in best.json
    import json

    from mae_ort.study.baselines import evaluate

    saved = json.loads((tmp_path / "best" / "best.json").read_text())
    want = {b.name: b for b in evaluate(SPLIT, look_backs=(int(res.best["look_back"]),))}
    got = {r["name"]: r for r in saved["baselines"]}
    assert set(got) == set(want) == {"train_mean", "persistence", "ridge_ar", "ets", "arima"}
    assert got["persistence"]["test_mae"] == pytest.approx(0.3804, abs=1e-4)  # the sine's, as the report says
    assert got["ridge_ar"]["look_back"] == res.best["look_back"]
    beater = min((b for b in want.values() if np.isfinite(b.test_mae)), key=lambda b: b.test_mae)
    assert saved["best_baseline"]["name"] == beater.name
    if beater.test_mae < res.best["test_mae"]:  # 2 epochs: the network is far from the sine's ridge (0.0000)
        assert res.beaten_by().name == beater.name


def test_cli_train_says_in_one_line_when_a_baseline_beats_the_best(tmp_path, capsys, monkeypatch):
    from mae_ort.screening import grid, screen
    from mae_ort.study import baselines

    monkeypatch.setattr(baselines, "statsmodels_available", lambda: False)  # ETS/ARIMA: tested in test_baselines
    db = tmp_path / "sine.sqlite"  # the command's default data: the paper's sine
    screen(grid(units="2", layers="1", look_back="3", preset="paper"), sine_split().train, store=str(db), samples=5,
           workers=1)
    code = main(["train", "--db", str(db), "--top", "1", "--epochs", "1", "--trainer", "modern", "--quiet",
                 "--season", "10"])
    out, err = capsys.readouterr()
    assert code == 0 and err.count("mae-ort[baselines]") == 1
    line = [x for x in out.splitlines() if x.startswith("a baseline beats the best network:")]
    best = float(out.split("test MAE ")[1].split()[0])
    assert len(line) == 1 and line[0].endswith(f"against the network's {best:.6g}")  # 1 epoch: untrained
    assert "seasonal naive" in out and "baselines on the same test points:" in out


def test_train_top_table_has_the_validation_loss_of_each_training(db):
    """``val_loss`` is the trainer's own best early-stopping loss: train() of the same row and seed gives it."""
    from mae_ort.model.architecture import Architecture
    from mae_ort.results import open_store
    from mae_ort.study.train import TrainSettings, train
    from mae_ort.study.winners import train_top

    res = train_top(db, SPLIT, k=2, epochs="3", trainer="modern")
    assert {"val_loss", "epochs_run", "train_seconds"} <= set(res.table.columns)
    first = res.table.iloc[0]
    with open_store(db) as st:
        row = st.frame().set_index("id").loc[int(first.sampling_id)]
    again = train(SPLIT, Architecture.from_row(row), look_back=int(row.look_back), epochs=3, seed=0,
                  settings=TrainSettings.preset("modern")).budgets[-1]
    assert first.val_loss == pytest.approx(again.monitor_loss, rel=1e-4)
    assert first.test_mae == pytest.approx(again.test_mae, rel=1e-4)
    assert first.epochs_run == again.epochs_run == 3 and first.train_seconds > 0


def test_train_top_refuses_more_rows_than_stored(db):
    from mae_ort.study.winners import train_top

    with pytest.raises(InvalidParameterError, match="asks for 99 rows; the database holds 6"):
        train_top(db, SPLIT, k=99)


def test_cli_train_is_one_line_on_bad_input(capsys, tmp_path):
    from mae_ort.screening import grid, screen

    db = tmp_path / "sine.sqlite"
    screen(grid(units="2:3", layers="1", look_back="1", preset="paper"), sine_split().train, store=str(db), samples=5,
           workers=1)
    code = main(["train", "--db", str(db), "--top", "99"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "--top" in err


def test_train_top_without_a_validation_split_chooses_by_the_training_mae(db):
    """No early-stopping split: the lowest training MAE chooses (still never the test MAE)."""
    from mae_ort.study.train import TrainSettings
    from mae_ort.study.winners import train_top

    settings = TrainSettings.preset("modern", validation_split=0.0, patience=None, restore_best=False)
    res = train_top(db, SPLIT, k=2, epochs="2", settings=settings)
    assert res.best["chosen_by"] == "train_mae" and not np.isfinite(res.table.val_loss).any()
    assert res.best["train_mae"] == res.table.train_mae.min()


# -- the change target: best.keras and best.onnx forecast the level ---------------------------------------
@pytest.mark.keras
@pytest.mark.parametrize("target_is_input", [True, False])
def test_train_top_delta_saves_level_forecasters_that_agree(tmp_path, target_is_input):
    import keras
    import onnxruntime as ort

    from mae_ort.data import csv_split
    from mae_ort.model.keras_interop import custom_objects
    from mae_ort.screening import grid, screen
    from mae_ort.study.train import model_inputs
    from mae_ort.study.winners import train_top

    rng = np.random.default_rng(1)
    t = np.arange(140)
    csv = tmp_path / "two.csv"
    import pandas as pd

    pd.DataFrame({"a": np.sin(0.3 * t) + 0.05 * rng.standard_normal(140),
                  "b": np.cos(0.3 * t)}).to_csv(csv, index=False)
    split = csv_split(csv, test_points=20, input=["a", "b"] if target_is_input else ["b"], target="a")
    db = tmp_path / "d.sqlite"
    screen(grid(units="2:3", layers="1", look_back="3", head_activation="linear"), split.train, store=str(db),
           samples=5, workers=1, target_form="delta")
    res = train_top(db, split, k=1, epochs="2", out=tmp_path / "best", trainer="modern")
    info = __import__("json").loads(res.paths["json"].read_text())
    assert info["target_form"] == "delta" and info["onnx_inputs"] == (["X"] if target_is_input else ["X", "last"])
    te = split.test_windows(3)  # level windows: y is the level, last the target's previous value
    model = keras.models.load_model(res.paths["keras"], compile=False, custom_objects=custom_objects())
    want = np.asarray(model.predict_on_batch(model_inputs(model, te)), dtype=np.float64)
    sess = ort.InferenceSession(str(res.paths["onnx"]), providers=["CPUExecutionProvider"])
    feeds = {"X": te.X} if target_is_input else {"X": te.X, "last": te.last}
    got = sess.run(["y_pred"], feeds)[0].astype(np.float64)
    np.testing.assert_allclose(got, want, atol=1e-5)
    # they forecast the level: their MAE against the level is the stored test MAE
    assert float(np.mean(np.abs(got - te.y))) == pytest.approx(res.best["test_mae"], abs=1e-5)
    # and the saved network is last value + change: with its head zeroed, persistence
    from mae_ort.model.keras_interop import NETWORK_NAME

    head = model.get_layer(NETWORK_NAME).get_layer("head")
    head.set_weights([np.zeros_like(v) for v in head.get_weights()])
    zeroed = np.asarray(model.predict_on_batch(model_inputs(model, te)), dtype=np.float64)
    np.testing.assert_allclose(zeroed, te.last, atol=1e-6)


def test_cli_train_and_validate_refuse_a_target_form_the_rows_lack(capsys, tmp_path):
    from mae_ort.screening import grid, screen

    db = tmp_path / "sine.sqlite"
    screen(grid(units="2:3", layers="1", look_back="1", preset="paper"), sine_split().train, store=str(db), samples=5,
           workers=1)
    for cmd in ("train", "validate"):
        code = main([cmd, "--db", str(db), "--target-form", "delta"])
        err = capsys.readouterr().err
        assert code == 2 and err.count("\n") == 1 and "not 'delta'" in err, err
