"""Keras training path: budgets recorded in one training, test modes, splits, settings."""

from __future__ import annotations

import numpy as np
import pytest

from mae_ort.data import csv_split, prepare, sine, sine_split
from mae_ort.errors import InvalidParameterError
from mae_ort.model.architecture import Architecture
from mae_ort.study.train import (
    TrainSettings,
    one_step_mae,
    parse_epochs,
    recursive_mae,
    train,
)

# -- no Keras needed ---------------------------------------------------------------------


def test_sine_split_is_the_papers():
    sp = sine_split()
    assert sp.train.length == 1000 and sp.test.length == 200
    # the training part is what `mae-ort sample`/`screen` score by default
    assert sp.train.fingerprint() == prepare(sine(), name="sine").fingerprint()
    full = sine(1200)
    np.testing.assert_array_equal(sp.test.targets[:, 0], full[1000:])
    assert sp.recursive_ok


def test_test_windows_take_history_from_the_training_part():
    sp = sine_split(100, 20)
    te = sp.test_windows(5)
    assert te.n == 20 and te.look_back == 5
    np.testing.assert_allclose(te.X[0, :, 0], sp.train.inputs[-5:, 0].astype(np.float32))
    np.testing.assert_allclose(te.y[:, 0], sp.test.targets[:, 0].astype(np.float32))
    np.testing.assert_allclose(te.X[-1, -1, 0], np.float32(sp.test.inputs[-2, 0]))


def test_csv_split_scales_the_test_file_with_the_training_part(eunite_csv):
    test_csv = eunite_csv.parent / "eunite-testing.csv"
    sp = csv_split(eunite_csv, test_csv, input="MaxLoads", scale="minmax")
    assert sp.train.length == 730 and sp.test.length == 31
    assert sp.train.fingerprint() == prepare(eunite_csv, input="MaxLoads", scale="minmax").fingerprint()
    import pandas as pd

    raw_train = pd.read_csv(eunite_csv)["MaxLoads"].to_numpy(float)
    raw_test = pd.read_csv(test_csv)["MaxLoads"].to_numpy(float)
    want = (raw_test - raw_train.min()) / (raw_train.max() - raw_train.min())
    np.testing.assert_allclose(sp.test.targets[:, 0], want)


def test_csv_split_by_points(eunite_csv):
    sp = csv_split(eunite_csv, input="MaxLoads", scale="minmax", test_points=30)
    assert sp.train.length == 700 and sp.test.length == 30
    assert sp.train.targets.min() == 0.0 and sp.train.targets.max() == 1.0
    with pytest.raises(InvalidParameterError):
        csv_split(eunite_csv, input="MaxLoads")


def test_recursive_needs_inputs_equal_targets(eunite_csv):
    sp = csv_split(eunite_csv, input=["MaxLoads", "Temperature"], target="MaxLoads", scale="minmax", test_points=30)
    assert not sp.recursive_ok
    with pytest.raises(InvalidParameterError, match="inputs must be the targets"):
        train(sp, Architecture((3,)), look_back=2, epochs=1, recursive=True)


@pytest.mark.parametrize("text, want", [("1,10,100", (1, 10, 100)), ("10, 1", (1, 10)), ([2, 2, 1], (1, 2)), (5, (5,))])
def test_parse_epochs(text, want):
    assert parse_epochs(text) == want


@pytest.mark.parametrize("bad", ["", "1,x", "0,10", "-1", [1.5], True, None])
def test_parse_epochs_rejects(bad):
    with pytest.raises(InvalidParameterError, match="'epochs'"):
        parse_epochs(bad)


def test_settings_defaults_are_the_paper_trainer():
    s = TrainSettings()
    assert (s.optimizer, s.learning_rate, s.loss, s.dropout, s.batch_size, s.validation_split, s.shuffle,
            s.patience, s.min_delta, s.restore_best) == ("adam", 5e-5, "mse", 0.3, 5, 0.3, False, 50, 1e-4, True)
    assert s == TrainSettings.preset("paper") and s.trainer() == "paper"
    assert s.key() == TrainSettings().key() != TrainSettings(learning_rate=1e-3).key()
    assert TrainSettings(init="uniform:-0.5,0.5").init == "uniform:-0.5,0.5"


def test_trainer_presets_and_overrides():
    ref = TrainSettings.preset("reference")
    assert ref.batch_size == 512 and ref.trainer() == "reference"
    assert TrainSettings.preset("reference", batch_size=5) == TrainSettings()
    modern = TrainSettings.preset("modern", patience=None, batch_size=64)
    assert (modern.learning_rate, modern.shuffle, modern.batch_size, modern.patience) == (1e-3, True, 64, None)
    assert modern.trainer() == "custom" and TrainSettings.preset("modern").trainer() == "modern"
    assert len({TrainSettings.preset(n).key() for n in ("paper", "reference", "modern", "forecast")}) == 4
    forecast = TrainSettings.preset("forecast")  # for real series (scripts/trainer_convergence.py)
    assert (forecast.learning_rate, forecast.batch_size, forecast.patience, forecast.dropout) == (5e-3, 16, 20, 0.0)
    assert forecast.trainer() == "forecast" and TrainSettings.preset("paper") == TrainSettings()
    with pytest.raises(InvalidParameterError, match="'trainer'"):
        TrainSettings.preset("fast")
    with pytest.raises(InvalidParameterError, match="unknown training setting"):
        TrainSettings.preset("paper", epochs=3)


@pytest.mark.parametrize("kw", [dict(dropout=1.0), dict(learning_rate=0), dict(batch_size=0), dict(optimizer="lbfgs"),
                                dict(validation_split=1.0), dict(patience=-1), dict(init="cauchy")])
def test_settings_reject(kw):
    with pytest.raises(InvalidParameterError):
        TrainSettings(**kw)


# -- Keras --------------------------------------------------------------------------------
keras_only = pytest.mark.keras


@pytest.fixture(scope="module")
def keras():
    return pytest.importorskip("keras")


@pytest.fixture(scope="module")
def small_split():
    return sine_split(120, 20)


@pytest.fixture(scope="module")
def run12(keras, small_split):
    """One training of [3] for budgets 1 and 2, model kept."""
    s = TrainSettings(learning_rate=1e-2, batch_size=32)
    return train(small_split, Architecture((3,)), look_back=3, epochs="1,2", seed=7, settings=s, keep_model=True)


@keras_only
def test_budgets_recorded_in_one_training(run12, small_split):
    r = run12
    assert [b.epochs for b in r.budgets] == [1, 2] and len(r.history["loss"]) == 2
    assert r.budgets[0].test_mae != r.budgets[1].test_mae  # the network changed between budgets
    # independent computation: the model after 2 epochs, evaluated afresh
    te = small_split.test_windows(3)
    pred = np.asarray(r.model(te.X, training=False), dtype=np.float64)
    assert r.budgets[1].test_mae == pytest.approx(float(np.mean(np.abs(pred - te.y))), abs=1e-7)
    assert r.budgets[1].train_mae == pytest.approx(one_step_mae(r.model, small_split.train_windows(3)), abs=1e-7)


@keras_only
def test_budget_one_equals_a_separate_one_epoch_training(run12, small_split):
    s = TrainSettings(learning_rate=1e-2, batch_size=32)
    one = train(small_split, Architecture((3,)), look_back=3, epochs=1, seed=7, settings=s)
    assert one.budgets[0].test_mae == pytest.approx(run12.budgets[0].test_mae, abs=1e-6)
    assert one.budgets[0].test_mae_recursive == pytest.approx(run12.budgets[0].test_mae_recursive, abs=1e-6)


@keras_only
def test_recursive_equals_a_hand_written_loop(run12, small_split):
    model, lb = run12.model, 3
    window = list(small_split.train.inputs[-lb:, 0])
    preds = []
    for _ in range(small_split.test.length):
        x = np.asarray(window[-lb:], dtype=np.float32).reshape(1, lb, 1)
        y = float(np.asarray(model(x, training=False))[0, 0])
        preds.append(y)
        window.append(y)
    want = float(np.mean(np.abs(np.asarray(preds) - small_split.test.targets[:, 0])))
    assert run12.budgets[1].test_mae_recursive == pytest.approx(want, abs=1e-6)
    got = recursive_mae(model, small_split.train.inputs[-lb:], small_split.test.targets)
    assert got == pytest.approx(want, abs=1e-6)
    # blind prediction differs from one-step prediction
    assert run12.budgets[1].test_mae_recursive != pytest.approx(run12.budgets[1].test_mae, abs=1e-6)


@keras_only
def test_early_stopping_fills_later_budgets_with_the_restored_model(keras, small_split):
    # min_delta so large that nothing counts as an improvement: stops after epoch 2, keeps epoch 1
    s = TrainSettings(patience=0, min_delta=10.0, dropout=0.0, batch_size=32)
    r = train(small_split, Architecture((3,)), look_back=2, epochs="1,2,5", seed=1, settings=s, recursive=False)
    assert r.stopped_epoch == 2
    maes = [b.test_mae for b in r.budgets]
    assert maes[0] == pytest.approx(maes[1], abs=1e-7) and maes[2] == pytest.approx(maes[0], abs=1e-7)
    assert [b.epochs_run for b in r.budgets] == [1, 2, 2] and all(b.best_epoch == 1 for b in r.budgets)
    assert r.budgets[0].test_mae_recursive is None


@keras_only
def test_training_model_is_the_samplers_model_plus_dropout(keras):
    from mae_ort.study.train import build_model

    arch = Architecture((3, 2), recurrent_activation="hard_sigmoid_keras2")
    m = build_model(arch, look_back=4, n_in=1, n_out=1, settings=TrainSettings(dropout=0.3))
    kinds = [type(l).__name__ for l in m.layers]
    assert kinds == ["LSTM", "Dropout", "LSTM", "Dropout", "Dense"]
    from mae_ort.model.keras_interop import from_keras

    assert from_keras(m).arch == arch  # dropout is skipped: same function at inference
    init = build_model(arch, look_back=4, n_in=1, n_out=1, settings=TrainSettings(init="uniform:-0.5,0.5"), seed=3)
    w = np.concatenate([np.ravel(v) for v in init.get_weights()])
    assert w.min() >= -0.5 and w.max() <= 0.5 and np.abs(w).min() > 0  # biases drawn too


# -- the change target (target_form="delta") ---------------------------------------------------
@keras_only
@pytest.mark.parametrize("target_is_input", [True, False])
def test_delta_model_is_the_level_network_plus_the_last_value(keras, target_is_input):
    """build_model(target_form="delta") forecasts ``last + network(X)``; with a zero head it is persistence."""
    from mae_ort.data import target_inputs, windows
    from mae_ort.model import reference
    from mae_ort.model.keras_interop import NETWORK_NAME, from_keras
    from mae_ort.study.train import build_model, model_inputs

    rng = np.random.default_rng(0)
    data = np.column_stack([np.sin(0.3 * np.arange(40)), rng.standard_normal(40)])
    series = prepare(data, input=[0, 1] if target_is_input else [1], target=[0])
    w = windows(series, 4)
    arch = Architecture((3, 2), cell="gru", head_activation="linear")
    m = build_model(arch, look_back=4, n_in=w.n_in, n_out=1, settings=TrainSettings(dropout=0.0), seed=2,
                    target_form="delta", last_from=target_inputs(series))
    assert len(m.inputs) == (1 if target_is_input else 2)
    km = from_keras(m.get_layer(NETWORK_NAME))
    assert km.arch == arch
    out = reference.predict(arch, w.X, km.weights)[0]  # the level network's output, float64
    got = np.asarray(m.predict_on_batch(model_inputs(m, w)), dtype=np.float64)
    np.testing.assert_allclose(got, w.last + out, atol=1e-5)
    head = m.get_layer(NETWORK_NAME).get_layer("head")
    head.set_weights([np.zeros_like(v) for v in head.get_weights()])
    persistence = float(np.mean(np.abs(w.y.astype(np.float64) - w.last)))
    assert one_step_mae(m, w) == pytest.approx(persistence, abs=1e-7)


@keras_only
def test_delta_training_tests_the_level_one_step_and_recursive(keras, small_split):
    from mae_ort.model import reference
    from mae_ort.model.keras_interop import NETWORK_NAME, from_keras

    s = TrainSettings.preset("modern", patience=None)
    arch = Architecture((3,), head_activation="linear")
    r = train(small_split, arch, look_back=3, epochs="2", seed=4, settings=s, keep_model=True, target_form="delta")
    assert r.target_form == "delta" and r.to_dict()["target_form"] == "delta"
    W = from_keras(r.model.get_layer(NETWORK_NAME)).weights
    te = small_split.test_windows(3)
    one = te.last + reference.predict(arch, te.X, W)[0]
    assert r.budgets[-1].test_mae == pytest.approx(float(np.mean(np.abs(one - te.y))), abs=1e-5)
    window = list(small_split.train.inputs[-3:, 0])  # blind: each forecast (last + change) fed back
    preds = []
    for _ in range(small_split.test.length):
        x = np.asarray(window[-3:], dtype=np.float32).reshape(1, 3, 1)
        y = float(np.float32(x[0, -1, 0] + reference.predict(arch, x, W)[0, 0, 0]))
        preds.append(y)
        window.append(y)
    want = float(np.mean(np.abs(np.asarray(preds) - small_split.test.targets[:, 0])))
    assert r.budgets[-1].test_mae_recursive == pytest.approx(want, abs=1e-5)
    with pytest.raises(InvalidParameterError, match="cannot be 'sigmoid' with target_form='delta'"):
        train(small_split, Architecture((3,), head_activation="sigmoid"), look_back=3, epochs=1, target_form="delta")
