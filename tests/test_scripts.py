"""The shell scripts stop cleanly: Ctrl-C (the whole process group) or SIGTERM (the script alone) stops the running
step, which keeps what it finished; one line, exit code 130 / 143, nothing left running (issue 21)."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess

import pytest

from tests.processes import assert_all_gone, count, descendants, hold_env, needs_proc, wait_for

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _venv_ready(extras: str) -> bool:
    """Whether scripts/setup.sh EXTRAS would return at once (no install during a test)."""
    want = hashlib.sha256(open(os.path.join(ROOT, "pyproject.toml"), "rb").read()).hexdigest()[:16] + " " + extras
    try:
        with open(os.path.join(ROOT, ".venv", ".mae-ort-setup")) as fh:
            return want in fh.read().splitlines()
    except OSError:
        return False


@needs_proc
@pytest.mark.kills
@pytest.mark.skipif(not _venv_ready("dev"), reason="scripts/setup.sh dev would install packages")
@pytest.mark.parametrize("sig, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_reproduce_paper_stops_with_one_line_and_nothing_left_running(tmp_path, sig, code):
    db = tmp_path / "r.sqlite"
    env = dict(os.environ, DB=str(db), OUT=str(tmp_path / "report"), PER_STUDY="4", TF_CPP_MIN_LOG_LEVEL="3",
               **hold_env(1, "SELECT COUNT(*) FROM sampling"))  # the screen holds after its first rows
    # As from a terminal: SIGINT at its default.  A test run started in the background (`cmd &`, nohup, some CI
    # runners) inherits SIGINT ignored, and a shell started with a signal ignored can never trap it.
    proc = subprocess.Popen(["bash", os.path.join(ROOT, "scripts", "reproduce_paper.sh"), "small"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    wait_for(proc, lambda: count(db, "SELECT COUNT(*) FROM sampling") >= 1, "the first screened row")
    kids = descendants(proc.pid)
    if sig == signal.SIGINT:
        os.killpg(proc.pid, sig)  # Ctrl-C at a terminal
    else:
        proc.send_signal(sig)  # `kill PID`: the script alone; it passes the signal to the running step
    out, err = proc.communicate(timeout=120)
    lines = [line for line in err.splitlines() if line.strip() and not line.startswith("== ")]  # step headers
    assert proc.returncode == code and len(lines) == 1, err
    assert lines[0].startswith("interrupted: ") and "rerun the same command to resume" in lines[0]
    assert "Traceback" not in err
    assert_all_gone(kids)
    assert 1 <= count(db, "SELECT COUNT(*) FROM sampling") < 12  # 3 studies of 4 rows
    assert not (tmp_path / "report").exists() or not os.listdir(tmp_path / "report")


# -- scripts/trainer_convergence.py: the replay of early stopping ------------------------------------------


def _convergence():
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parent.parent / "scripts" / "trainer_convergence.py"
    spec = importlib.util.spec_from_file_location("trainer_convergence", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_replay_by_hand():
    replay = _convergence().replay
    val = [5.0, 3.0, 2.95, 3.5, 2.0, 2.5, 2.6, 2.7, 1.0]
    test = [0.9, 0.5, 0.45, 0.6, 0.3, 0.4, 0.4, 0.4, 0.1]
    # min_delta 0.1: epoch 3 (2.95) is not an improvement on 3.0; patience 2 stops after epoch 4 (wait 1, 2 ->
    # epochs 3 and 4 do not improve), keeping epoch 2
    assert replay(val, test, budget=9, patience=2, min_delta=0.1) == {"test_mae": 0.5, "epochs_run": 4,
                                                                        "best_epoch": 2}
    # patience 4 reaches epoch 5 (2.0); epochs 6-8 do not improve, epoch 9 (1.0) does before patience runs out
    assert replay(val, test, budget=9, patience=4, min_delta=0.1) == {"test_mae": 0.1, "epochs_run": 9,
                                                                        "best_epoch": 9}
    assert replay(val, test, budget=6, patience=4, min_delta=0.1) == {"test_mae": 0.3, "epochs_run": 6,
                                                                        "best_epoch": 5}


@pytest.mark.keras
def test_replay_stops_where_keras_early_stopping_does():
    import numpy as np

    keras = pytest.importorskip("keras")
    replay = _convergence().replay
    rng = np.random.default_rng(0)
    for trial in range(40):
        val = list(np.abs(1.0 + np.cumsum(rng.normal(-0.01, 0.05, size=60))))
        patience, min_delta = int(rng.integers(1, 12)), float(rng.choice([0.0, 1e-3, 2e-2]))

        class Model:
            stop_training = False

        es = keras.callbacks.EarlyStopping(monitor="val_loss", patience=patience, min_delta=min_delta, mode="min")
        es.set_model(Model())
        es.on_train_begin()
        ran = 0
        for e, v in enumerate(val):
            es.on_epoch_end(e, {"val_loss": v})
            ran = e + 1
            if es.model.stop_training:
                break
        got = replay(val, list(range(60)), budget=60, patience=patience, min_delta=min_delta)
        assert (got["epochs_run"], got["best_epoch"]) == (ran, es.best_epoch + 1), trial


def test_merge_rows_replaces_only_the_same_keys(tmp_path):
    import pandas as pd

    merge_rows = _convergence().merge_rows
    path = tmp_path / "t.csv"
    keys = ["series", "target_form", "budget"]
    merge_rows(path, pd.DataFrame({"series": ["co2", "eunite"], "target_form": "level", "budget": 150,
                                   "mae": [1.0, 2.0]}), keys)
    merge_rows(path, pd.DataFrame({"series": ["eunite"], "target_form": ["delta"], "budget": [150], "mae": [3.0]}),
               keys)
    got = merge_rows(path, pd.DataFrame({"series": ["co2"], "target_form": ["level"], "budget": [150],
                                         "mae": [4.0]}), keys)
    back = pd.read_csv(path)
    assert back.to_dict("list") == got.to_dict("list") == {
        "series": ["co2", "eunite", "eunite"], "target_form": ["level", "delta", "level"], "budget": [150] * 3,
        "mae": [4.0, 3.0, 2.0]}


# -- scripts/choose_form.py and scripts/default_score.py: the rules of the evidence (issue 29) ---------------


def _script(name: str):
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parent.parent / "scripts" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _trained(rows):
    """A hand-made trained.csv: (trainer, depth, look_back, mae) at 100 epochs; None: the training did not finish."""
    import pandas as pd

    return pd.DataFrame([dict(trainer=t, depth=d, epochs=100, look_back=lb, mae=float("nan") if m is None else m)
                         for t, d, lb, m in rows])


def _baselines(persistence, ridge):
    import pandas as pd

    return pd.DataFrame([dict(name="train_mean", test_mae=0.5, look_back=None),
                         dict(name="persistence", test_mae=persistence, look_back=None)]
                        + [dict(name="ridge_ar", test_mae=v, look_back=lb) for lb, v in ridge.items()])


def test_choose_form_counts_the_studies_whose_best_network_beats_persistence_and_the_ridge():
    import pandas as pd

    cf = _script("choose_form")
    bl = _baselines(0.10, {1: 0.12, 4: 0.09})  # the ridge's best look-back among the study's: 0.09 at 4
    # level: 1 layer best 0.08 beats both; 2 layers best 0.095 beats persistence, not the ridge (0.09)
    level = cf.study_rows(_trained([("forecast", 1, 1, 0.08), ("forecast", 1, 4, 0.3),
                                    ("forecast", 2, 1, 0.095), ("forecast", 2, 4, None)]), bl, "level")
    assert list(level.wins) == [True, False] and list(level.finished) == [2, 1]
    assert level.ridge.tolist() == [0.09, 0.09] and level.best.tolist() == [0.08, 0.095]
    # the ridge only at the study's own look-backs: at look-back 1 alone its best is 0.12, which 0.095 beats
    only1 = cf.study_rows(_trained([("forecast", 2, 1, 0.095)]), bl, "level")
    assert only1.ridge.tolist() == [0.12] and only1.wins.tolist() == [True]
    # delta wins in no study: level is chosen although delta's median is lower
    delta = cf.study_rows(_trained([("forecast", 1, 1, 0.11), ("forecast", 2, 1, 0.105)]), bl, "delta")
    form, why = cf.choose_form(pd.concat([level, delta]))
    assert form == "level" and "level in 1 of 2" in why and "delta in 0 of 2" in why
    # a tie (one win each): the lower median test MAE decides
    # level's study medians: 0.19 (of 0.08, 0.3) and 0.095, median 0.1425
    delta2 = cf.study_rows(_trained([("forecast", 1, 1, 0.07), ("forecast", 2, 1, 0.3)]), bl, "delta")
    assert cf.choose_form(pd.concat([level, delta2]))[0] == "level"  # delta's median 0.185
    delta3 = cf.study_rows(_trained([("forecast", 1, 1, 0.07), ("forecast", 2, 1, 0.105)]), bl, "delta")
    form, why = cf.choose_form(pd.concat([level, delta3]))
    assert form == "delta" and "tie" in why and "0.0875 against 0.1425" in why


def test_choose_form_a_study_where_nothing_finished_never_wins(tmp_path):
    cf = _script("choose_form")
    rows = cf.study_rows(_trained([("forecast", 1, 1, None), ("forecast", 1, 2, None)]),
                         _baselines(0.1, {1: 0.2}), "delta")
    assert rows.finished.tolist() == [0] and rows.wins.tolist() == [False]
    empty = cf.load(tmp_path / "missing", "level")  # no report at all: no study
    assert empty.empty


def _report(folder, trained, baselines, evidence=None):
    folder.mkdir(parents=True)
    trained.to_csv(folder / "trained.csv", index=False)
    baselines.to_csv(folder / "baselines.csv", index=False)
    if evidence is not None:
        evidence.to_csv(folder / "evidence.csv", index=False)


def _evidence(trainer, depth, good):
    import pandas as pd

    return pd.DataFrame([dict(trainer=trainer, depth=depth, epochs=100, score=s, scope="pooled", method="spearman",
                              value=g, good=g) for s, g in good.items()]
                        + [dict(trainer=trainer, depth=depth, epochs=100, score="readout", scope="within look-back",
                                method="spearman", value=-1.0, good=-1.0)])  # not pooled: never used


def test_default_score_rule_on_a_hand_made_evidence_table(tmp_path, capsys):
    import pandas as pd

    ds = _script("default_score")
    # series a: both studies' best networks beat persistence (0.1); series b: none does (persistence 0.01);
    # series c: no network finished; series d: an old report without baselines
    ev_a = pd.concat([_evidence("forecast", 1, {"log_p": -0.2, "readout": -0.6, "lookback_ridge": -0.5}),
                      _evidence("forecast", 2, {"log_p": -0.3, "readout": 0.1, "lookback_ridge": -0.4})])
    _report(tmp_path / "report-a", _trained([("forecast", 1, 1, 0.05), ("forecast", 2, 2, 0.09)]),
            _baselines(0.1, {}), ev_a)
    # b would make readout the best if it counted
    _report(tmp_path / "report-b", _trained([("forecast", 1, 1, 0.05)]), _baselines(0.01, {}),
            _evidence("forecast", 1, {"log_p": 0.0, "readout": -0.99, "lookback_ridge": 0.5}))
    _report(tmp_path / "report-c", _trained([("forecast", 1, 1, None)]), _baselines(0.01, {}),
            _evidence("forecast", 1, {"readout": -0.99}))
    (tmp_path / "report-d").mkdir()
    # the forms, trained once each: a has level losing and delta winning both studies; b: both lose
    _report(tmp_path / "report-a" / "form-level", _trained([("forecast", 1, 1, 0.2), ("forecast", 2, 1, 0.08)]),
            _baselines(0.1, {}))
    _report(tmp_path / "report-a" / "form-delta", _trained([("forecast", 1, 1, 0.05), ("forecast", 2, 1, 0.09)]),
            _baselines(0.1, {}))
    score, form = ds.main([str(tmp_path / f"report-{s}") for s in "abcd"])
    out = capsys.readouterr().out
    # medians over a's two studies: lookback_ridge (0.5+0.4)/2 = 0.45, readout (0.6-0.1)/2 = 0.25, log_p 0.25
    assert score == "lookback_ridge" and form == "delta"
    assert "no network finished training" in out and "report-c" in out
    assert "skipped" in out and "report-d" in out and "no trained.csv or baselines.csv" in out
    assert "level beats persistence in 1 of 2 studies, delta in 2 of 2" in out
    assert out.strip().splitlines()[-2:] == ["default ranking score: lookback_ridge", "default target form: delta"]


def test_default_form_tie_goes_to_the_lower_error_relative_to_persistence():
    import pandas as pd

    ds = _script("default_score")
    lv = ds.study_table(_trained([("forecast", 1, 1, 0.08)]), _baselines(0.1, {})).assign(form="level")
    dl = ds.study_table(_trained([("forecast", 1, 1, 0.06)]), _baselines(0.1, {})).assign(form="delta")
    form, why = ds.pick_form(pd.concat([lv, dl]))
    assert form == "delta" and "0.800 (level) against 0.600 (delta)" in why
    with pytest.raises(ValueError, match="no study whose best trained network beats persistence"):
        ds.pick_score(lv.assign(beats=False, report="x"), pd.DataFrame(columns=["report", "trainer", "depth",
                                                                                 "epochs", "scope", "method",
                                                                                 "score", "good"]))


def test_reproduce_real_refuses_an_unknown_series():
    r = subprocess.run(["bash", os.path.join(ROOT, "scripts", "reproduce_real.sh"), "sine"], capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 2 and r.stderr.strip().startswith("usage: bash scripts/reproduce_real.sh")
    r = subprocess.run(["bash", os.path.join(ROOT, "scripts", "reproduce_real.sh"), "waste", "--dox"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "usage:" in r.stderr


@pytest.mark.slow
@pytest.mark.keras
@pytest.mark.skipif(not _venv_ready("dev"), reason="scripts/setup.sh dev would install packages")
def test_reproduce_real_runs_end_to_end_at_tiny_sizes_and_resumes(tmp_path):
    """About 15 minutes on the 2-core machine (each training pays TensorFlow's start and compilation)."""
    env = dict(os.environ, RUN=str(tmp_path / "run"), DOCS_DIR=str(tmp_path / "docs"), PER_STUDY="2", SAMPLES="8",
               EPOCHS="2", REPEATS="2", TF_CPP_MIN_LOG_LEVEL="3")
    cmd = ["bash", os.path.join(ROOT, "scripts", "reproduce_real.sh"), "waste", "--docs"]
    r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=3000)
    assert r.returncode == 0, r.stderr[-3000:]
    docs = tmp_path / "docs"
    for f in ("README.md", "baselines.csv", "evidence.csv", "trained.csv", "level.sqlite", "delta.sqlite",
              "timing.md", "form-choice.md", "form-level/trained.csv", "form-delta/baselines.csv"):
        assert (docs / f).exists(), f
    text = (docs / "README.md").read_text()
    assert "**Target form**" in text and "forecast quality" in text and "Relative to persistence" in text
    form = "delta" if "delta" in text.split("**Target form**")[1].split(":", 2)[1] else "level"
    assert f"({form} target," in text.splitlines()[0]
    # a fresh clone: runs/ gone, the committed databases resume; nothing is trained again
    import shutil

    shutil.rmtree(tmp_path / "run")
    r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=3000)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "0 now" in r.stderr and " new," not in r.stderr.replace("0 new,", "")
