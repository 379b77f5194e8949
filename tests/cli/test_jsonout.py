"""``--json`` (one strict JSON document on stdout, ``null`` for non-finite numbers) and ``--quiet`` (no progress)
on every command that has them (issue 31 item 5)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mae_ort.cli.jsonout import frame_records, jsonable
from mae_ort.results.store import open_store
from tests.conftest import run_cli

TINY = ["--units", "3:4", "--layers", "1:2", "--look-back", "1,2", "--samples", "5", "--workers", "1"]
ROWS = 12


def _loads(text: str):
    """The one JSON document of ``text``, parsed strictly (a NaN or Infinity token fails)."""
    def refuse(token):
        raise AssertionError(f"non-finite number {token} in the JSON output")

    assert text.count("\n") == 1 and text.endswith("\n"), text  # one document, one line
    return json.loads(text, parse_constant=refuse)


def _by_log_p(db: Path) -> pd.DataFrame:
    """The stored rows in rank's default order without a readout score (log p, then exact log p, then mean)."""
    with open_store(db) as st:
        df = st.frame()
    return df.sort_values(["log_p", "log_p_exact", "mean"], ascending=[False, False, True]).reset_index(drop=True)


def test_the_encoder_writes_null_for_every_non_finite_or_missing_number():
    value = {"a": float("nan"), "b": np.float32("inf"), "c": -math.inf, "d": np.int64(3), "e": np.float64(0.5),
             "f": np.array([1.0, np.nan]), "g": (np.bool_(True), pd.NA, pd.NaT), 4: Path("x/y"),
             "h": pd.Timestamp("2020-01-02 03:04"), "i": [{"j": np.nan}]}
    assert jsonable(value) == {"a": None, "b": None, "c": None, "d": 3, "e": 0.5, "f": [1.0, None],
                               "g": [True, None, None], "4": "x/y", "h": "2020-01-02T03:04:00", "i": [{"j": None}]}
    assert type(jsonable(np.int64(3))) is int and type(jsonable(np.float32(0.25))) is float
    frame = pd.DataFrame({"x": [1.0, np.nan], "s": ["a", None], "n": pd.array([1, None], dtype="Int64")})
    assert frame_records(frame) == [{"x": 1.0, "s": "a", "n": 1}, {"x": None, "s": None, "n": None}]
    json.dumps(jsonable(value), allow_nan=False)  # strict JSON: would raise on a NaN left behind


@pytest.fixture
def db(tmp_path, capsys):
    path = tmp_path / "r.sqlite"
    code, out, err = run_cli(capsys, "screen", *TINY, "--quiet", "--db", path)
    assert code == 0, err
    return path


def test_screen_json_is_the_summary_and_the_best_rows(tmp_path, capsys):
    path = tmp_path / "r.sqlite"
    code, out, err = run_cli(capsys, "screen", *TINY, "--top", "3", "--json", "--db", path)
    assert code == 0, err
    doc = _loads(out)
    assert doc["rows"] == doc["new_rows"] == ROWS and doc["already_done"] == 0 and doc["db"] == str(path)
    best = _by_log_p(path)
    assert [r["id"] for r in doc["best"]] == list(best.id[:3]) and [r["rank"] for r in doc["best"]] == [1, 2, 3]
    assert [r["log_p"] for r in doc["best"]] == pytest.approx(list(best.log_p[:3]), rel=1e-12)
    assert doc["best"][0]["model"].startswith(f"lstm[{best.units[0]}]") and doc["by"] == "log_p"
    with open_store(path) as st:
        assert doc["settings_id"] == st.frame().settings_id.iloc[0]
    assert f"{ROWS}/{ROWS} rows" in err  # progress stays on stderr without --quiet
    code, out, err = run_cli(capsys, "screen", *TINY, "--top", "3", "--json", "--quiet", "--db", path)
    doc = _loads(out)
    assert code == 0 and doc["new_rows"] == 0 and doc["already_done"] == ROWS and err == ""


def test_rank_json_holds_the_rows_of_the_table(db, capsys):
    code, text, _ = run_cli(capsys, "rank", "--db", db, "--top", "4")
    code_json, out, _ = run_cli(capsys, "rank", "--db", db, "--top", "4", "--json")
    assert code == code_json == 0
    doc = _loads(out)
    best = _by_log_p(db)
    assert doc["by"] == "log_p" and [r["id"] for r in doc["rows"]] == list(best.id[:4])
    table_ids = [int(line.split()[-1]) for line in text.strip().splitlines()[1:]]
    assert table_ids == [r["id"] for r in doc["rows"]]  # the same rows as the table, in its order
    header = text.splitlines()[0].split()
    assert list(doc["rows"][0]) == header
    for r, (_, want) in zip(doc["rows"], best.head(4).iterrows()):
        assert r["mean"] == pytest.approx(want["mean"], rel=1e-12) and r["look_back"] == want.look_back
    code, out, _ = run_cli(capsys, "rank", "--db", db, "--by", "mean", "--depth", "1", "--top", "2", "--json")
    doc = _loads(out)
    means = sorted(_by_log_p(db).query("depth == 1")["mean"], reverse=True)[:2]  # a larger mean ranks first (SCORES)
    assert doc["by"] == "mean" and [r["mean"] for r in doc["rows"]] == pytest.approx(means, rel=1e-12)
    code, out, _ = run_cli(capsys, "rank", "--db", db, "--list-settings", "--json")
    settings = _loads(out)["settings"]
    assert code == 0 and len(settings) == 1 and settings[0]["rows"] == ROWS


def test_search_json_lists_the_best_trials(tmp_path, capsys):
    optuna = pytest.importorskip("optuna")
    db = tmp_path / "s.sqlite"
    code, out, err = run_cli(capsys, "search", *TINY[:-2], "--trials", "4", "--sampler", "resn", "--db", db,
                             "--study", "j", "--top", "2", "--json", "--quiet")
    assert code == 0, err
    assert err == ""  # --quiet: no progress, no header
    doc = _loads(out)
    study = optuna.load_study(study_name="j", storage=f"sqlite:///{db}")
    sign = -1 if study.direction == optuna.study.StudyDirection.MAXIMIZE else 1
    done = sorted((t for t in study.trials if t.value is not None), key=lambda t: (sign * t.value, t.number))
    assert doc["study"] == "j" and doc["trials"] == 4 and doc["new_trials"] == 4
    assert [r["trial"] for r in doc["best"]] == [t.number for t in done[:2]]
    assert [r["value"] for r in doc["best"]] == pytest.approx([t.value for t in done[:2]], rel=1e-12)


def test_sample_quiet_draws_no_bar_in_a_terminal(monkeypatch):
    """In a terminal sample draws a progress bar (rich) on stderr; --quiet draws none."""
    import io
    import sys

    from mae_ort.cli import main

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    def stderr_in_a_terminal(*extra):
        term = Terminal()
        monkeypatch.setattr(sys, "stderr", term)
        code = main(["sample", "--arch", "8", "--look-back", "10", "--samples", "40", "--runtime", "onnxruntime",
                     *extra])
        monkeypatch.undo()
        assert code == 0
        return term.getvalue()

    err = stderr_in_a_terminal()
    assert "sampling" in err and "samples/s" in err
    assert stderr_in_a_terminal("--quiet") == ""


def test_report_quiet_prints_no_measuring_lines(db, tmp_path, capsys, monkeypatch):
    """report --measure prints a line per measured architecture; with --quiet none (measure_table4 replaced by
    a stand-in that reports two steps: the measuring itself needs TensorFlow and is tested in tests/study)."""
    from mae_ort.study import jobs, report

    calls = []

    def measure(db, *, count, progress=None, **_):
        calls.append(count)
        for i in (1, 2):
            if progress is not None:
                progress(i, 2, f"architecture {i}")
        return 2

    monkeypatch.setattr(jobs, "measure_table4", measure)
    monkeypatch.setattr(report, "write_report", lambda *a, **k: tmp_path / "README.md")
    code, out, err = run_cli(capsys, "report", "--db", db, "--out", tmp_path / "rep", "--measure", "2")
    assert code == 0 and err.count("[table 4 ") == 2 and "wrote" in out
    code, out, err = run_cli(capsys, "report", "--db", db, "--out", tmp_path / "rep", "--measure", "2", "--quiet")
    assert code == 0 and err == "" and "wrote" in out and calls == [2, 2]


def test_train_json_writes_the_result_with_null_for_a_missing_validation_loss(db, tmp_path, capsys, monkeypatch):
    """The document holds train_top's result as it is (train_top replaced by a stand-in here: the training itself
    needs TensorFlow, see the keras test below): its table's rows, the best row, the files, the seconds; the NaN
    validation loss of a trainer without an early-stopping split is null."""
    from mae_ort.study import winners

    table = pd.DataFrame({"rank": [1, 2], "model": ["lstm[3]", "lstm[4]"], "look_back": [1, 2],
                          "sampling_id": [5, 7], "test_mae": [0.25, 0.5], "val_loss": [np.nan, np.nan]})
    paths = {"onnx": tmp_path / "best.onnx"}
    monkeypatch.setattr(winners, "train_top", lambda db, split, **kw: winners.TopResult(
        table=table, best={**table.iloc[0].to_dict(), "chosen_by": "train_mae"}, paths=paths, seconds=1.5))
    code, out, err = run_cli(capsys, "train", "--db", db, "--top", "2", "--json")
    assert code == 0, err
    assert _loads(out) == {"db": str(db), "seconds": 1.5, "paths": {"onnx": str(tmp_path / "best.onnx")},
                           "rows": [{"rank": 1, "model": "lstm[3]", "look_back": 1, "sampling_id": 5, "test_mae": 0.25,
                                     "val_loss": None},
                                    {"rank": 2, "model": "lstm[4]", "look_back": 2, "sampling_id": 7, "test_mae": 0.5,
                                     "val_loss": None}],
                           "best": {"rank": 1, "model": "lstm[3]", "look_back": 1, "sampling_id": 5, "test_mae": 0.25,
                                    "val_loss": None, "chosen_by": "train_mae"}}


@pytest.mark.keras
@pytest.mark.slow
def test_train_json_holds_the_trained_rows_and_the_best(tmp_path, capsys):
    """The real thing (about 100 s on a loaded 2-core machine, so behind ``slow``)."""
    pytest.importorskip("keras")
    from mae_ort.data import sine_split
    from mae_ort.screening import grid, screen
    from mae_ort.study.winners import train_top

    db = tmp_path / "t.sqlite"
    screen(grid(units="2:3", layers="1", look_back="2"), sine_split().train, store=str(db), samples=5, workers=1)
    code, out, err = run_cli(capsys, "train", "--db", db, "--top", "2", "--epochs", "1", "--trainer", "modern",
                             "--out", tmp_path / "best", "--json", "--quiet")
    assert code == 0, err
    doc = _loads(out)
    again = train_top(db, sine_split(), k=2, epochs="1", trainer="modern")  # resumes: the stored trainings
    assert [r["sampling_id"] for r in doc["rows"]] == list(again.table.sampling_id)
    assert [r["test_mae"] for r in doc["rows"]] == pytest.approx(list(again.table.test_mae), rel=1e-12)
    assert doc["best"]["sampling_id"] == again.best["sampling_id"]
    assert Path(doc["paths"]["onnx"]).is_file() and Path(doc["paths"]["keras"]).is_file()
    assert "train:" not in err  # --quiet: no progress lines


def test_screen_onnx_json_ranks_own_models(tmp_path, capsys):
    import onnx

    from tests.sampling.test_own import linear_model

    folder = tmp_path / "models"
    folder.mkdir()
    for lb in (3, 5):
        onnx.save(linear_model(look_back=lb), folder / f"lin{lb}.onnx")
    db = tmp_path / "own.sqlite"
    code, out, err = run_cli(capsys, "screen", "--onnx", folder, "--db", db, "--samples", "10", "--quiet", "--json")
    assert code == 0 and err == "", err
    doc = _loads(out)
    best = _by_log_p(db)
    assert doc["space"] == "own models" and doc["rows"] == doc["new_rows"] == 2 and doc["by"] == "log_p"
    assert [r["id"] for r in doc["best"]] == list(best.id)
    assert {r["model"] for r in doc["best"]} == {"lin3.onnx (4 weights)", "lin5.onnx (6 weights)"}
