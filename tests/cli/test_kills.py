"""Kills lose nothing (issue 21): ``screen``, ``search``, ``validate`` and ``train`` are SIGKILLed three times each at
different points (each run held by :mod:`mae_ort._hold` at the commit that reaches its kill point, so no kill
depends on timing), resumed, and end with the rows of an uninterrupted run
(bit for bit for sampled MAEs; trained rows complete or absent), no duplicate key, ``PRAGMA integrity_check`` ok,
no process left behind, and progress made by every resume before the next kill."""

from __future__ import annotations

import json
import signal
import sqlite3
import zipfile
from pathlib import Path

import numpy as np
import pytest

from mae_ort.results.store import open_store
from tests.processes import assert_all_gone, count, descendants, integrity_ok, needs_proc, start, wait_for

pytestmark = [needs_proc, pytest.mark.kills]

#: 144 rows of two layers (6-11 units) at 4 look-backs, 10 samples: a few seconds on 2 cores, stored in small batches
SPACE = dict(units="6:11", layers="2", look_back="2,4,6,8")
ROWS = 144
SAMPLING = ["--samples", "10", "--seed", "0"]
KEY = "settings_id, cell, activation, recurrent_activation, head_activation, units, look_back"


@pytest.fixture(scope="module")
def reference():
    """The space screened once, uninterrupted, in this process: ``{natural key: row}``."""
    from mae_ort.screening.space import grid
    from mae_ort.screening.sweep import screen

    df = screen(grid(**SPACE), samples=10, seed=0, workers=1)
    return {_key(r): r for r in df.itertuples(index=False)}


def _key(r) -> tuple:
    return (r.settings_id, r.cell, r.activation, r.recurrent_activation, r.head_activation, r.units, int(r.look_back))


def _space_args() -> list[str]:
    return ["--units", SPACE["units"], "--layers", SPACE["layers"], "--look-back", SPACE["look_back"]]


def _kill_and_resume(args, db: Path, progress_sql: str, points, total: int, check) -> list[int]:
    """Run ``mae-ort ARGS`` and SIGKILL it once the progress count reaches each of ``points`` (and at least one
    more than the last kill left: every resume makes progress), checking the database after each kill; then run
    it to the end.  Each killed run is held at the commit that reaches its point, so the kill never races a
    commit.  Returns the counts after each kill."""
    left = []
    for point in points:
        before = left[-1] if left else 0
        target = max(before + 1, point)
        proc = start(*args, hold=(target, progress_sql))
        wait_for(proc, lambda: count(db, progress_sql) >= target, f"progress to {target} after {len(left)} kill(s)",
                 timeout=300)
        kids = descendants(proc.pid)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        assert_all_gone(kids)  # the workers notice that their parent died
        integrity_ok(db)
        n = count(db, progress_sql)
        assert target <= n < total, (point, n)
        check(db)
        left.append(n)
    proc = start(*args)
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err
    integrity_ok(db)
    check(db)
    assert count(db, progress_sql) >= total
    return left


def _no_duplicate(db: Path, table: str, key: str) -> None:
    con = sqlite3.connect(db)
    try:
        assert con.execute(f"SELECT COUNT(*) FROM (SELECT 1 FROM {table} GROUP BY {key} HAVING COUNT(*) > 1)"
                           ).fetchone()[0] == 0
    finally:
        con.close()


def _sampled_rows_match(db: Path, reference) -> int:
    """Every stored row is complete and equals the uninterrupted run's bit for bit; returns the row count."""
    _no_duplicate(db, "sampling", KEY)
    with open_store(db, create=False, readonly=True) as st:
        df = st.frame(maes=True)
    for r in df.itertuples(index=False):
        ref = reference[_key(r)]  # a KeyError: other settings, or a row of no uninterrupted run
        assert r.maes.tobytes() == ref.maes.tobytes(), _key(r)
        assert (r.p, r.log_p, r.log_p_exact) == (ref.p, ref.log_p, ref.log_p_exact)
    return len(df)


def test_screen_killed_three_times_resumes_to_the_uninterrupted_rows(tmp_path, reference):
    db = tmp_path / "s.sqlite"
    args = ["screen", *_space_args(), *SAMPLING, "--workers", "2", "--quiet", "--top", "0", "--db", db]
    left = _kill_and_resume(args, db, "SELECT COUNT(*) FROM sampling", (1, ROWS // 3, 2 * ROWS // 3), ROWS,
                            lambda db: _sampled_rows_match(db, reference))
    assert left == sorted(set(left))  # each resume stored new rows before the next kill
    assert _sampled_rows_match(db, reference) == ROWS == len(reference)


def test_search_killed_three_times_resumes_without_losing_a_trial(tmp_path, reference):
    db = tmp_path / "s.sqlite"
    trials = 30
    args = ["search", *_space_args(), *SAMPLING, "--trials", trials, "--sampler", "random", "--objective", "log_p",
            "--quiet", "--top", "0", "--db", db]
    complete = "SELECT COUNT(*) FROM trials WHERE state='COMPLETE'"
    left = _kill_and_resume(args, db, complete, (1, 10, 20), trials, lambda db: _sampled_rows_match(db, reference))
    assert left == sorted(set(left))
    con = sqlite3.connect(db)
    try:
        assert con.execute("SELECT COUNT(*) FROM trials WHERE state='RUNNING'").fetchone()[0] == 0  # stale ones failed
        assert con.execute("SELECT COUNT(*) FROM (SELECT 1 FROM trials GROUP BY study_id, number "
                           "HAVING COUNT(*) > 1)").fetchone()[0] == 0
        rows = {i for (i,) in con.execute("SELECT id FROM sampling")}
        used = [json.loads(v) for (v,) in con.execute(
            "SELECT a.value_json FROM trial_user_attributes a JOIN trials t ON t.trial_id = a.trial_id "
            "WHERE t.state='COMPLETE' AND a.key='row_id'")]
    finally:
        con.close()
    assert len(used) >= trials and set(used) <= rows  # every finished trial's row is stored
    _sampled_rows_match(db, reference)


# -- training: each architecture's rows land together or not at all -----------------------------------------
ARCHS = 5


@pytest.fixture
def screened(tmp_path):
    """A database of ARCHS one-layer rows (2-6 units, look-back 2) on the sine's training part."""
    pytest.importorskip("keras")
    from mae_ort.data import sine_split
    from mae_ort.screening.space import grid
    from mae_ort.screening.sweep import screen

    db = tmp_path / "t.sqlite"
    screen(grid(units=f"2:{1 + ARCHS}", layers="1", look_back="2"), sine_split().train, store=db, samples=5,
           workers=1)
    return db


def _trained_complete(db: Path, budgets=(1, 2)) -> int:
    """No duplicate key and every architecture has every budget or none; returns the architectures trained."""
    _no_duplicate(db, "trained", "sampling_id, split_key, train_key, seed, epochs")
    con = sqlite3.connect(db)
    try:
        got = con.execute("SELECT sampling_id, group_concat(epochs) FROM trained GROUP BY sampling_id, split_key, "
                          "train_key, seed").fetchall()
        nulls = con.execute("SELECT COUNT(*) FROM trained WHERE test_mae IS NULL OR train_seconds IS NULL"
                            ).fetchone()[0]
    finally:
        con.close()
    for sid, epochs in got:
        assert sorted(int(e) for e in epochs.split(",")) == list(budgets), (sid, epochs)
    assert nulls == 0
    return len(got)


TRAINED = "SELECT COUNT(DISTINCT sampling_id) FROM trained"


@pytest.mark.keras
def test_validate_killed_three_times_keeps_whole_architectures(screened):
    args = ["validate", "--db", screened, "--pick", "all", "--epochs", "1,2", "--trainer", "modern", "--seed", "0",
            "--quiet"]
    left = _kill_and_resume(args, screened, TRAINED, (1, 2, 3), ARCHS, _trained_complete)
    assert left == sorted(set(left))
    assert _trained_complete(screened) == ARCHS


@pytest.mark.keras
def test_train_killed_three_times_keeps_whole_architectures_and_whole_models(screened, tmp_path):
    out = tmp_path / "out"

    def check(db):
        _trained_complete(db)
        for f in (out / "models").glob("*.keras"):  # a model file under its own name is whole
            if not f.name.startswith("."):
                with zipfile.ZipFile(f) as z:
                    assert z.testzip() is None

    args = ["train", "--db", screened, "--top", ARCHS - 1, "--epochs", "1,2", "--trainer", "modern", "--seed", "0",
            "--out", out, "--quiet"]
    left = _kill_and_resume(args, screened, TRAINED, (1, 2, 3), ARCHS - 1, check)
    assert left == sorted(set(left))
    assert _trained_complete(screened) == ARCHS - 1
    assert {p.name for p in out.iterdir()} >= {"best.keras", "best.onnx", "best.json", "models"}
    assert not [p for p in [*out.iterdir(), *(out / "models").iterdir()] if "partial" in p.name]  # stale ones gone
    best = json.loads((out / "best.json").read_text())
    assert np.isfinite(best["test_mae"])
