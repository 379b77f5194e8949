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
