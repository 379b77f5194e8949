"""Validation: picking screened rows, training them into the same database, resuming, CLI errors."""

from __future__ import annotations

import sqlite3

import numpy as np
import pytest

from mae_ort.cli import main
from mae_ort.data import sine_split
from mae_ort.errors import MaeOrtError
from mae_ort.study.train import TrainSettings

SPLIT = sine_split(120, 20)  # short series: fast trainings
FAST = TrainSettings(learning_rate=1e-2, batch_size=32)


@pytest.fixture
def db(tmp_path):
    """A database screened on SPLIT's training part: [3] and [3,2] at look-backs 1 and 2."""
    from mae_ort.screening.space import grid
    from mae_ort.screening.sweep import screen

    path = tmp_path / "r.sqlite"
    screen(grid(units="2:3", layers="1:2", look_back="1,2"), SPLIT.train, store=str(path), samples=10, workers=1)
    return path


def run(capsys, *args):
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


# -- without Keras ---------------------------------------------------------------------------------------


def test_candidates_are_the_rows_of_the_training_part(db):
    from mae_ort.study.validation import candidates

    df = candidates(db, SPLIT)
    assert len(df) == 12 and set(df.depth) == {1, 2}
    assert len(candidates(db, SPLIT, depth=2, look_back=[1])) == 4
    with pytest.raises(MaeOrtError, match="no screened rows for the training part"):
        candidates(db, sine_split())  # 1000-point sine: not screened here


def test_pick_is_reproducible_and_nested(db):
    from mae_ort.study.validation import candidates, pick_rows

    df = candidates(db, SPLIT)
    a, b = pick_rows(df, 5, seed=3), pick_rows(df, 5, seed=3)
    assert list(a.id) == list(b.id) and len(a) == 5
    assert set(pick_rows(df, 3, seed=3).id) <= set(a.id)
    assert set(pick_rows(df, 5, seed=4).id) != set(a.id)
    assert len(pick_rows(df, "all")) == 12 and len(pick_rows(df, 100)) == 12


def test_trained_rows_are_immutable(db):
    from mae_ort.results.store import open_store

    row = {"sampling_id": 1, "split_key": "s", "train_key": "t", "seed": 0, "epochs": 1, "max_epochs": 1,
           "test_mae": 0.5, "epochs_run": 1, "best_epoch": 1, "train_seconds": 0.1, "split": "{}",
           "train_settings": "{}"}
    with open_store(db, create=False) as st:
        assert st.add_trained([row]) == 1
        assert st.add_trained([{**row, "test_mae": 0.1}]) == 0  # first write wins
        df = st.trained_frame(sampling_ids=[1])
    assert list(df.test_mae) == [0.5]


def test_importing_the_commands_first_registers_them():
    import subprocess
    import sys

    code = ("import sys, mae_ort.cli.study; from mae_ort.cli import cli; "
            "assert {'validate', 'report'} <= set(cli.commands); assert 'tensorflow' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_cli_missing_db_is_one_line(capsys, tmp_path):
    code, out, err = run(capsys, "validate", "--db", str(tmp_path / "none.sqlite"), "--pick", "2")
    assert code == 2 and err.count("\n") == 1 and "no results database" in err


def test_cli_no_screened_rows_is_one_line(capsys, tmp_path):
    from mae_ort.results.store import open_store

    path = tmp_path / "empty.sqlite"
    open_store(str(path)).close()
    code, out, err = run(capsys, "validate", "--db", str(path), "--pick", "2")
    assert code == 2 and err.count("\n") == 1 and "no screened rows" in err


@pytest.mark.parametrize("epochs", ["1,x", "0,10", ""])
def test_cli_bad_epochs_is_one_line(capsys, db, epochs):
    code, out, err = run(capsys, "validate", "--db", str(db), "--epochs", epochs)
    assert code == 2 and err.count("\n") == 1 and "epochs'" in err  # names the option (--epochs) or the parameter


def test_cli_other_bad_input(capsys, db):
    code, _, err = run(capsys, "validate", "--db", str(db), "--pick", "many")
    assert code == 2 and "'pick'" in err
    code, _, err = run(capsys, "validate", "--db", str(db), "--csv", "data/eunite-training.csv")
    assert code == 2 and "--test-csv" in err and err.count("\n") == 1
    code, _, err = run(capsys, "validate", "--db", str(db), "--dropout", "1.5")
    assert code == 2 and "'dropout'" in err


@pytest.mark.parametrize("repeats", ["0", "-1", "two"])
def test_cli_bad_repeats_is_one_line(capsys, db, repeats):
    code, out, err = run(capsys, "validate", "--db", str(db), "--pick", "2", "--repeats", repeats)
    assert code == 2 and err.count("\n") == 1 and "repeats" in err
    conn = sqlite3.connect(db)
    assert conn.execute("SELECT COUNT(*) FROM trained").fetchone()[0] == 0  # nothing stored
    conn.close()


def _fake_training(calls):
    """A stand-in for one training (no Keras): records (sampling id, seed), returns an MAE made of both."""
    def train_one(task, split=None, threads=None):
        calls.append((task["sampling_id"], task["seed"]))
        budgets = [dict(epochs=e, test_mae=task["sampling_id"] + task["seed"] / 100 + e / 1e4, test_mae_recursive=None,
                        train_mae=0.1, monitor_loss=0.1, epochs_run=e, best_epoch=e, seconds=0.0)
                   for e in task["epochs"]]
        return {"sampling_id": task["sampling_id"], "seed": task["seed"], "budgets": budgets, "stopped_epoch": None,
                "seconds": 0.0, "threads": threads}
    return train_one


def test_repeats_train_every_seed_once_and_resume(db, monkeypatch):
    from mae_ort.study import validation

    calls: list = []
    monkeypatch.setattr(validation, "_train_one", _fake_training(calls))
    df = validation.validate(db, SPLIT, pick=3, epochs="1,5", seed=7, settings=FAST, repeats=2)
    ids = sorted(set(df.sampling_id))
    assert len(ids) == 3 and sorted(calls) == sorted((i, s) for i in ids for s in (7, 8))  # seeds seed, seed + 1
    assert df.attrs["trained"] == 6 and df.attrs["skipped"] == 0 and df.attrs["repeats"] == 2
    assert len(df) == 3 * 2 * 2 and sorted(set(df.seed)) == [7, 8]  # every row keeps its seed
    np.testing.assert_allclose(df.test_mae, df.sampling_id + df.seed / 100 + df.epochs / 1e4)

    # a third repeat trains the third seed only; the finished (architecture, seed) trainings are not redone
    calls.clear()
    more = validation.validate(db, SPLIT, pick=3, epochs="1,5", seed=7, settings=FAST, repeats=3)
    assert sorted(calls) == sorted((i, 9) for i in ids)
    assert more.attrs["trained"] == 3 and more.attrs["skipped"] == 6 and len(more) == 3 * 3 * 2
    calls.clear()
    again = validation.validate(db, SPLIT, pick=3, epochs="1,5", seed=7, settings=FAST, repeats=3)
    assert calls == [] and again.attrs["trained"] == 0 and again.attrs["skipped"] == 9
    conn = sqlite3.connect(db)
    assert conn.execute("SELECT COUNT(*) FROM trained").fetchone()[0] == 3 * 3 * 2
    conn.close()


def test_cli_summary_is_of_the_median_over_seeds(capsys, tmp_path, monkeypatch):
    from mae_ort.screening.space import grid
    from mae_ort.screening.sweep import screen
    from mae_ort.study import validation

    db = tmp_path / "cli.sqlite"  # screened on the command line's default series, the paper's sine
    screen(grid(units="2:4", layers="1", look_back="1"), sine_split().train, store=str(db), samples=5, workers=1)
    monkeypatch.setattr(validation, "_train_one", _fake_training([]))
    code, out, err = run(capsys, "validate", "--db", str(db), "--pick", "3", "--epochs", "2", "--depth", "1",
                         "--repeats", "3", "--seed", "4", "--quiet")
    assert code == 0, err
    df = validation.joined(db)
    medians = df.groupby("sampling_id").test_mae.median()  # seeds 4, 5, 6: the median is seed 5's
    np.testing.assert_allclose(medians, medians.index + 5 / 100 + 2 / 1e4)
    line = next(x for x in out.splitlines() if "depth 1" in x)
    assert "(median over 3 seeds)" in line and f"mean {medians.mean():.4f}" in line


# -- with Keras ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def keras():
    return pytest.importorskip("keras")


@pytest.mark.keras
def test_validate_stores_linked_rows_and_resumes(keras, db, monkeypatch):
    from mae_ort.study import validation

    df = validation.validate(db, SPLIT, pick=2, epochs="1,2", seed=0, settings=FAST, depth=1)
    assert df.attrs["trained"] == 2 and df.attrs["skipped"] == 0
    assert len(df) == 4 and sorted(set(df.epochs)) == [1, 2]
    conn = sqlite3.connect(db)
    rows = conn.execute("SELECT t.sampling_id, s.units, t.epochs, t.test_mae FROM trained t "
                        "JOIN sampling s ON s.id = t.sampling_id").fetchall()
    conn.close()
    assert len(rows) == 4 and all(np.isfinite(r[3]) for r in rows)
    assert set(df.sampling_id) == {r[0] for r in rows}
    # the joined statistics are the screened row's
    assert np.isfinite(df.log_p_exact).all() and (df.scored_id == df.sampling_id).all()

    # rerun: nothing is trained again
    def boom(*a, **k):
        raise AssertionError("retrained a finished architecture")

    monkeypatch.setattr(validation, "_train_one", boom)
    again = validation.validate(db, SPLIT, pick=2, epochs="1,2", seed=0, settings=FAST, depth=1)
    assert again.attrs["trained"] == 0 and again.attrs["skipped"] == 2
    np.testing.assert_array_equal(again.test_mae, df.test_mae)


@pytest.mark.keras
def test_interrupted_validation_resumes_with_the_rest(keras, db):
    from mae_ort.study import validation

    def stop_after_first(done, total, message):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        validation.validate(db, SPLIT, pick=2, epochs=1, seed=1, settings=FAST, depth=1, look_back=1,
                            progress=stop_after_first)
    conn = sqlite3.connect(db)
    assert conn.execute("SELECT COUNT(*) FROM trained").fetchone()[0] == 1  # the finished one was kept
    conn.close()
    df = validation.validate(db, SPLIT, pick=2, epochs=1, seed=1, settings=FAST, depth=1, look_back=1)
    assert df.attrs["trained"] == 1 and df.attrs["skipped"] == 1 and len(df) == 2


@pytest.mark.keras
def test_sigterm_keeps_finished_architectures(keras, db):
    import os
    import signal

    from mae_ort.errors import Interrupted
    from mae_ort.study import validation

    def terminate_after_first(done, total, message):
        os.kill(os.getpid(), signal.SIGTERM)

    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(Interrupted) as info:
        validation.validate(db, SPLIT, pick=2, epochs=1, seed=2, settings=FAST, depth=1, look_back=1,
                            progress=terminate_after_first)
    assert info.value.signum == signal.SIGTERM
    assert signal.getsignal(signal.SIGTERM) is before  # the handler is restored
    conn = sqlite3.connect(db)
    assert conn.execute("SELECT COUNT(*) FROM trained WHERE seed=2").fetchone()[0] == 1
    conn.close()
    df = validation.validate(db, SPLIT, pick=2, epochs=1, seed=2, settings=FAST, depth=1, look_back=1)
    assert df.attrs["trained"] == 1 and df.attrs["skipped"] == 1


def test_cli_sigterm_exits_143_with_one_line(capsys, db, monkeypatch):
    import signal

    from mae_ort.errors import Interrupted
    from mae_ort.study import validation

    def stopped(*a, **k):
        raise Interrupted(signal.SIGTERM)

    monkeypatch.setattr(validation, "validate", stopped)
    assert main(["validate", "--db", str(db)]) == 143
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("interrupted: ") and "rerun the same command to resume" in lines[0]


@pytest.mark.keras
def test_sample_on_test_links_rows_sampled_on_the_test_part(keras, db):
    from mae_ort.study import validation

    df = validation.validate(db, SPLIT, pick=1, epochs=1, seed=0, settings=FAST, depth=1, look_back=2,
                             sample_on="test")
    assert len(df) == 1 and df.scored_id.iloc[0] != df.sampling_id.iloc[0]
    assert df.series.iloc[0] == SPLIT.test.name and df.units.iloc[0] in ("2", "3")
    train_side = validation.joined(db, sampling_ids=list(df.sampling_id))
    assert train_side["mean"].iloc[0] != df["mean"].iloc[0]


def test_cli_wrong_series_is_one_line(capsys, db):
    # --test-points 20 with the 1000-point sine: not this database's series
    code, out, err = run(capsys, "validate", "--db", str(db), "--pick", "1", "--epochs", "1", "--test-points", "20")
    assert code == 2 and "no screened rows" in err and err.count("\n") == 1


@pytest.mark.slow
@pytest.mark.keras
def test_jobs_train_in_separate_processes(keras, db):
    from mae_ort.study import validation

    df = validation.validate(db, SPLIT, pick=3, epochs=1, seed=2, settings=FAST, jobs=2)
    assert df.attrs["trained"] == 3 and len(df) == 3
    conn = sqlite3.connect(db)
    assert {r[0] for r in conn.execute("SELECT threads FROM trained")} == {1}
    conn.close()


# -- the change target -------------------------------------------------------------------------------------
def test_target_form_chooses_the_screened_settings(db, tmp_path):
    from mae_ort.screening.space import grid
    from mae_ort.screening.sweep import screen
    from mae_ort.study.validation import candidates

    with pytest.raises(MaeOrtError, match="forecast the level target form, not 'delta'; screen with --target-form"):
        candidates(db, SPLIT, target_form="delta")
    screen(grid(units="2:3", layers="1", look_back="1,2", head_activation="linear"), SPLIT.train, store=str(db),
           samples=10, workers=1, target_form="delta")
    with pytest.raises(MaeOrtError, match="target_form=delta"):  # two settings now: the listing says which is which
        candidates(db, SPLIT)
    assert set(candidates(db, SPLIT, target_form="delta").target_form) == {"delta"}
    assert set(candidates(db, SPLIT, target_form="level").target_form) == {"level"}


@pytest.mark.keras
def test_validate_trains_delta_rows_as_delta_in_both_test_modes(keras, tmp_path):
    from mae_ort.screening.space import grid
    from mae_ort.screening.sweep import screen
    from mae_ort.study import validation
    from mae_ort.study.train import train

    path = tmp_path / "d.sqlite"
    screen(grid(units="2", layers="1", look_back="2", head_activation="linear"), SPLIT.train, store=str(path),
           samples=5, workers=1, target_form="delta")
    df = validation.validate(path, SPLIT, pick=1, epochs="2", seed=0, settings=FAST, test_mode="recursive")
    assert len(df) == 1 and df.target_form.iloc[0] == "delta"
    want = train(SPLIT, validation.Architecture((2,), head_activation="linear"), look_back=2, epochs="2", seed=0,
                 settings=FAST, target_form="delta").budgets[-1]
    assert df.test_mae.iloc[0] == pytest.approx(want.test_mae, abs=1e-6)
    assert df.test_mae_recursive.iloc[0] == pytest.approx(want.test_mae_recursive, abs=1e-6)
    level = train(SPLIT, validation.Architecture((2,), head_activation="linear"), look_back=2, epochs="2", seed=0,
                  settings=FAST).budgets[-1]
    assert level.test_mae != pytest.approx(want.test_mae, abs=1e-6)  # a different network: trained on the change


@pytest.mark.keras
def test_cli_validate_summary_has_the_baselines_and_stores_the_season(keras, tmp_path, capsys, monkeypatch):
    import json

    from mae_ort.screening.space import grid
    from mae_ort.screening.sweep import screen
    from mae_ort.study import baselines
    from mae_ort.study.validation import joined

    monkeypatch.setattr(baselines, "statsmodels_available", lambda: False)  # ETS/ARIMA: tested in test_baselines
    db = tmp_path / "sine.sqlite"  # the command's default data: the paper's sine
    screen(grid(units="2", layers="1", look_back="1,3"), sine_split().train, store=str(db), samples=5, workers=1)
    code, out, err = run(capsys, "validate", "--db", str(db), "--pick", "all", "--epochs", "1", "--trainer", "modern",
                         "--quiet", "--season", "10")
    assert code == 0 and err.count("mae-ort[baselines]") == 1
    assert "of 2 beat the linear autoregression at their look-back" in out
    assert ("baselines on the same test points (one step ahead, fitted on the training part): the training mean "
            "0.6155; persistence 0.3804; seasonal naive 0.0000; linear autoregression (ridge) (look-back 1) 0.3804"
            in out)
    assert {json.loads(s)["season"] for s in joined(db).split} == {10}  # for the report
