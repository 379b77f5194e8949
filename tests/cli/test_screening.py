"""The screen, rank, export and plot commands: output, files, exit codes and one-line errors."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mae_ort.cli import COMMANDS, cli
from mae_ort.results.store import open_store
from tests.conftest import one_line_error, run_cli

TINY = ["--units", "3:4", "--layers", "1:2", "--look-back", "1,2", "--samples", "5", "--workers", "1", "--quiet"]
TINY_ROWS = 12


run = run_cli


@pytest.fixture
def db(tmp_path, capsys):
    path = tmp_path / "r.sqlite"
    code, out, err = run(capsys, "screen", *TINY, "--db", path)
    assert code == 0, err
    return path


def test_the_registry_lists_every_command_once():
    names = [name for name, _ in COMMANDS]
    assert len(names) == len(set(names))
    assert set(names) == set(cli.commands)
    assert {"sample", "screen", "rank", "export", "plot", "validate", "report"} <= set(names)


def test_screen_reports_and_resumes(tmp_path, capsys):
    path = tmp_path / "r.sqlite"
    code, out, _ = run(capsys, "screen", *TINY, "--db", path)
    assert code == 0
    assert f"{TINY_ROWS} rows of grid" in out and f"{TINY_ROWS} new" in out and "rank" in out
    code, out, _ = run(capsys, "screen", *TINY, "--db", path)
    assert code == 0 and "0 new" in out and f"{TINY_ROWS} already done" in out
    assert open_store(path).count() == TINY_ROWS


def test_screen_preset_subset_and_list(tmp_path, capsys):
    path = tmp_path / "r.sqlite"
    code, out, err = run(capsys, "screen", "--space", "paper-2layer", "--look-back", "1", "--sample", "3",
                         "--seed", "1", "--samples", "5", "--workers", "1", "--db", path)
    assert code == 0, err
    assert "random 3 of 625" in err  # the space's description, on stderr
    df = open_store(path).frame()
    assert len(df) == 3 and set(df.recurrent_activation) == {"hard_sigmoid_keras2"} and set(df.look_back) == {1}
    rows = tmp_path / "rows.csv"
    rows.write_text('units,look_back\n"4,3",2\n5,1\n')
    code, out, err = run(capsys, "screen", "--list", rows, "--samples", "5", "--workers", "1", "--quiet", "--db", path)
    assert code == 0, err
    assert open_store(path).count() == 5


def test_screen_progress_lines_when_not_a_terminal(tmp_path, capsys):
    code, out, err = run(capsys, "screen", *TINY[:-1], "--db", tmp_path / "r.sqlite")
    assert code == 0
    assert f"{TINY_ROWS}/{TINY_ROWS} rows" in err and "rows/s" in err


def test_rank(db, capsys):
    code, out, _ = run(capsys, "rank", "--db", db, "--top", "3")
    assert code == 0
    lines = out.strip().splitlines()
    # The whole model in one column (issue 10: the gates were not shown), and the n_outside count.
    assert lines[0].split()[:3] == ["rank", "model", "look_back"] and len(lines) == 4
    assert "n_outside" in lines[0].split()
    df = open_store(db).frame()
    best = df.sort_values("log_p", ascending=False).iloc[0]
    assert lines[1].split()[1:5] == [f"lstm[{best.units}]", "tanh/sigmoid", "->", "tanh"]
    code, out, _ = run(capsys, "rank", "--db", db, "--look-back", "2", "--depth", "2", "--by", "mean")
    assert code == 0 and len(out.strip().splitlines()) == 1 + 4
    code, out, _ = run(capsys, "rank", "--db", db, "--list-settings")
    assert code == 0 and "settings_id" in out and str(TINY_ROWS) in out


def test_export_parquet_and_csv(db, tmp_path, capsys):
    pq = tmp_path / "r.parquet"
    code, out, _ = run(capsys, "export", "--db", db, "--out", pq)
    assert code == 0 and f"wrote {TINY_ROWS} rows" in out
    back = pd.read_parquet(pq)
    ref = open_store(db).frame(maes=True)
    assert len(back) == TINY_ROWS and "log_p" in back and "u2" in back
    np.testing.assert_array_equal(np.asarray(back.maes.iloc[0], dtype=float), ref.maes.iloc[0])
    csv = tmp_path / "r.csv"
    code, _, _ = run(capsys, "export", "--db", db, "--out", csv)
    back = pd.read_csv(csv)
    assert code == 0 and len(back) == TINY_ROWS
    np.testing.assert_array_equal(json.loads(back.maes.iloc[0]), ref.maes.iloc[0])
    code, _, _ = run(capsys, "export", "--db", db, "--out", tmp_path / "s.csv", "--no-maes", "--look-back", "1")
    small = pd.read_csv(tmp_path / "s.csv")
    assert code == 0 and "maes" not in small and set(small.look_back) == {1}
    assert not list(tmp_path.glob("*.partial"))


def test_plot(db, tmp_path, capsys):
    for name in ("p-vs-units", "p-vs-units-2layer", "heatmap"):
        out = tmp_path / f"{name}.png"
        code, stdout, err = run(capsys, "plot", "--db", db, "--figure", name, "--out", out)
        assert code == 0, err
        assert out.read_bytes()[:4] == b"\x89PNG"
    code, _, err = run(capsys, "plot", "--db", db, "--figure", "heatmap", "--axes", "u1,look_back", "--depth", "2",
                       "--out", tmp_path / "h2.png")
    assert code == 0, err


@pytest.mark.parametrize("args, fragment", [
    (["screen", "--units", "7:", "--db", "{db}"], "'units'"),
    (["screen", "--units", "31:7", "--db", "{db}"], "ends below its start"),
    (["screen", "--units", "3", "--look-back", "0", "--db", "{db}"], "'look_back'"),
    (["screen", "--db", "{db}"], "say what to screen"),
    (["screen", "--space", "paper-9layer", "--db", "{db}"], "paper-9layer"),
    (["screen", "--list", "{tmp}/none.csv", "--db", "{db}"], "no such file"),
    (["screen", "--list", "{tmp}/empty.csv", "--db", "{db}"], "lists no rows"),
    (["screen", "--list", "{tmp}/empty.csv", "--units", "3", "--db", "{db}"], "--list gives the rows"),
    (["screen", "--units", "3", "--look-back", "5000", "--db", "{db}"], "look_back=5000"),
    (["screen", "--units", "3", "--samples", "1", "--db", "{db}"], "'samples'"),
    (["screen", "--units", "3", "--samples", "auto:tol=0", "--db", "{db}"], "'tolerance' parameter"),
    (["screen", "--units", "3", "--samples", "auto:tol=-0.5", "--db", "{db}"], "'tolerance' parameter"),
    (["screen", "--units", "3", "--samples", "auto:max=1", "--db", "{db}"], "'maximum' parameter"),
    (["screen", "--units", "3", "--samples", "lots", "--db", "{db}"], "'lots' is not an int, 'auto'"),
    (["screen", "--units", "3", "--samples", "auto", "--race", "0", "--db", "{db}"], "'race' parameter"),
    (["screen", "--units", "3", "--race", "5", "--db", "{db}"], "race=5 needs samples='auto'"),
    (["screen", "--units", "3", "--samples", "auto", "--fit", "mle", "--db", "{db}"], "needs fit='moments'"),
    (["screen", "--units", "3", "--target-form", "delta", "--head-activation", "sigmoid", "--db", "{db}"],
     "cannot be 'sigmoid' with target_form='delta'"),
    (["screen", "--space", "paper-1layer", "--look-back", "1", "--target-form", "delta", "--head-activation",
      "hard_sigmoid_keras2", "--db", "{db}"], "cannot be 'hard_sigmoid_keras2'"),
    (["screen", "--units", "3", "--scheduler", "tcp://127.0.0.1:1", "--connect-timeout", "1", "--db", "{db}"],
     "cannot reach the Dask scheduler"),
    (["rank", "--db", "{tmp}/missing.sqlite"], "no results database"),
    (["export", "--db", "{tmp}/missing.sqlite", "--out", "{tmp}/x.csv"], "no results database"),
    (["plot", "--db", "{tmp}/missing.sqlite", "--figure", "heatmap", "--out", "{tmp}/x.png"], "no results database"),
    (["rank", "--db", "{tmp}/notes.sqlite"], "not a SQLite database"),
    (["rank", "--db", "{tmp}/future.sqlite"], "schema version 99"),
    (["export", "--db", "{tmp}/future.sqlite", "--out", "{tmp}/x.txt"], "must end in .parquet or .csv"),
    (["plot", "--db", "{tmp}/future.sqlite", "--figure", "heatmap", "--out", "{tmp}/x.jpg"], "must be a .png"),
])
def test_bad_input_is_one_line_and_exit_2(tmp_path, capsys, args, fragment):
    (tmp_path / "empty.csv").write_text("units,look_back\n")
    (tmp_path / "notes.sqlite").write_text("not a database")
    future = tmp_path / "future.sqlite"
    open_store(future).close()
    con = sqlite3.connect(future)
    con.execute("UPDATE meta SET value='99' WHERE key='schema_version'")
    con.commit()
    con.close()
    db = tmp_path / "r.sqlite"
    args = [a.format(db=db, tmp=tmp_path) for a in args]
    code, out, err = run(capsys, *args)
    line = one_line_error(code, err)
    assert fragment in line
    if args[0] == "screen" and db.exists():
        assert open_store(db).count() == 0  # nothing computed, nothing lost


def test_filters_and_settings_choice(db, tmp_path, capsys):
    code, _, err = run(capsys, "screen", *TINY, "--seed", "1", "--db", db)
    assert code == 0, err
    code, _, err = run(capsys, "plot", "--db", db, "--figure", "p-vs-units", "--out", tmp_path / "f.png")
    assert "--settings" in one_line_error(code, err)
    sid = open_store(db).settings_frame().settings_id.iloc[0]
    code, out, err = run(capsys, "plot", "--db", db, "--settings", sid[:6], "--figure", "p-vs-units",
                         "--out", tmp_path / "f.png")
    assert code == 0, err
    code, out, err = run(capsys, "rank", "--db", db)
    assert code == 0 and "settings_id" in out  # rows of both settings, told apart
    code, _, err = run(capsys, "rank", "--db", db, "--settings", "zzz")
    assert "no settings 'zzz'" in one_line_error(code, err)
    code, _, err = run(capsys, "rank", "--db", db, "--look-back", "9")
    assert "match the filters" in one_line_error(code, err)


def test_sample_seed_keeps_the_subset_across_sweep_seeds(tmp_path, capsys):
    path = tmp_path / "r.sqlite"
    common = ["screen", "--space", "paper-2layer", "--look-back", "1", "--sample", "3", "--sample-seed", "5",
              "--samples", "5", "--workers", "1", "--quiet", "--top", "0", "--db", path]
    assert run(capsys, *common, "--seed", "1")[0] == 0
    assert run(capsys, *common, "--seed", "2")[0] == 0
    df = open_store(path).frame()
    by_seed = df.groupby("sweep_seed").units.apply(frozenset)
    assert len(by_seed) == 2 and by_seed.iloc[0] == by_seed.iloc[1]


# -- issue 10 --------------------------------------------------------------------------------------

PAPER = ["--space", "paper-2layer", "--look-back", "1", "--sample", "3", "--samples", "5", "--workers", "1", "--quiet"]
KERAS3 = ["--units", "3:4", "--layers", "1", "--look-back", "1,2", "--cell", "lstm", "--samples", "5", "--workers",
          "1", "--quiet"]


@pytest.fixture
def mixed(tmp_path, capsys):
    """The README's sequence: the paper's model and Keras 3's in one database, under one settings id."""
    path = tmp_path / "mixed.sqlite"
    assert run(capsys, "screen", *PAPER, "--db", path)[0] == 0
    assert run(capsys, "screen", *KERAS3, "--db", path)[0] == 0
    frame = open_store(path).frame()
    assert frame.settings_id.nunique() == 1 and set(frame.recurrent_activation) == {"hard_sigmoid_keras2", "sigmoid"}
    return path


def test_rank_shows_each_rows_model_and_filters_by_model(mixed, capsys):
    code, out, _ = run(capsys, "rank", "--db", mixed)
    assert code == 0
    body = out.strip().splitlines()[1:]
    assert len(body) == 7
    assert sum("tanh/hard_sigmoid_keras2 -> tanh" in line for line in body) == 3
    assert sum("tanh/sigmoid -> tanh" in line for line in body) == 4
    for option, kept, gate in ((["--preset", "paper"], 3, "hard_sigmoid_keras2"),
                               (["--preset", "keras3"], 4, "/sigmoid"),
                               (["--recurrent-activation", "sigmoid"], 4, "/sigmoid"),
                               (["--preset", "paper", "--depth", "2"], 3, "hard_sigmoid_keras2")):
        code, out, err = run(capsys, "rank", "--db", mixed, *option)
        body = out.strip().splitlines()[1:]
        assert code == 0 and len(body) == kept and all(gate in line for line in body), (option, out, err)
    code, _, err = run(capsys, "rank", "--db", mixed, "--preset", "paper", "--cell", "gru")
    line = one_line_error(code, err)
    assert "gru tanh/hard_sigmoid_keras2 -> tanh" in line and "--preset paper" in line and "--preset keras3" in line


def test_export_filters_by_model(mixed, tmp_path, capsys):
    out = tmp_path / "paper.csv"
    code, stdout, err = run(capsys, "export", "--db", mixed, "--preset", "paper", "--out", out, "--no-maes")
    assert code == 0, err
    back = pd.read_csv(out)
    assert len(back) == 3 and set(back.recurrent_activation) == {"hard_sigmoid_keras2"}
    code, _, err = run(capsys, "export", "--db", mixed, "--head-activation", "linear", "--out", tmp_path / "n.csv")
    assert "no rows" in one_line_error(code, err) and not (tmp_path / "n.csv").exists()


def test_plot_of_a_mixed_database_names_the_models_and_the_option(mixed, tmp_path, capsys):
    png = tmp_path / "f.png"
    code, _, err = run(capsys, "plot", "--db", mixed, "--figure", "p-vs-units", "--out", png)
    line = one_line_error(code, err)
    assert "2 models" in line and "lstm tanh/hard_sigmoid_keras2 -> tanh (--preset paper)" in line
    assert "lstm tanh/sigmoid -> tanh (--preset keras3)" in line and not png.exists()
    code, _, err = run(capsys, "plot", "--db", mixed, "--preset", "keras3", "--figure", "p-vs-units", "--out", png)
    assert code == 0, err
    assert png.read_bytes()[:4] == b"\x89PNG"


def test_screen_warns_once_in_one_line_when_maes_leave_the_bounds(tmp_path, capsys):
    path = tmp_path / "r.sqlite"
    # The sine's MAEs of random tanh networks are about 0.8: with upper 0.5 every one lies above it.
    code, out, err = run(capsys, "screen", *TINY, "--upper", "0.5", "--db", path)
    assert code == 0, err
    warned = [line for line in err.splitlines() if line.startswith("warning:")]
    assert len(warned) == 1, err
    assert f"{TINY_ROWS} of {TINY_ROWS} rows have MAEs outside the truncation bounds [0, 0.5]" in warned[0]
    assert f"{TINY_ROWS} with every MAE above 0.5" in warned[0] and "--upper" in warned[0]
    suggested = float(warned[0].split("--upper ")[1].split(")")[0])
    df = open_store(path).frame(maes=True)
    assert suggested >= max(float(m.max()) for m in df.maes)
    code, out, err = run(capsys, "rank", "--db", path)
    assert code == 0 and "n_outside" in out.splitlines()[0]
    assert f"{TINY_ROWS} of {TINY_ROWS} rows have MAEs outside" in err
    assert all(line.split()[-2] == "5" for line in out.strip().splitlines()[1:])  # n_outside: all 5 samples
    # Default bounds on the same rows: no warning at all.
    code, out, err = run(capsys, "screen", *TINY, "--db", path)
    assert code == 0 and "warning" not in err


@pytest.mark.parametrize("args, fragment", [
    (["--units", "1:100000000", "--layers", "1"], "100,000,000 or more values"),
    (["--units", "7:31", "--layers", "1:50"], "rows; a screen enumerates them all"),
    (["--units", "7:31", "--layers", "1:50", "--sample", "10"], "a random subset"),
])
def test_a_space_too_large_is_refused_at_once(tmp_path, capsys, args, fragment):
    import time

    db = tmp_path / "r.sqlite"
    t0 = time.perf_counter()
    code, _, err = run(capsys, "screen", *args, "--db", db)
    line = one_line_error(code, err)
    assert fragment in line and "at most 10,000,000" in line and "MAX_ROWS" in line
    assert time.perf_counter() - t0 < 10 and not db.exists()


@pytest.mark.parametrize("address", ["tcp://127.0.0.1:1", "tcp://127.0.0.1"])
def test_a_bad_scheduler_is_one_line_and_leaves_no_file(tmp_path, address):
    pytest.importorskip("distributed")
    import subprocess
    import sys

    db = tmp_path / "r.sqlite"
    proc = subprocess.run([sys.executable, "-c", "import sys; from mae_ort.cli import main; sys.exit(main())",
                           "screen", "--units", "3", "--look-back", "1", "--scheduler", address,
                           "--connect-timeout", "1", "--db", str(db)], capture_output=True, text=True, timeout=120)
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert proc.returncode == 2 and len(lines) == 1, proc.stderr  # no "Exception ignored in: Client.__del__"
    assert lines[0].startswith("error: cannot reach the Dask scheduler") and "nothing was computed" in lines[0]
    assert not list(tmp_path.iterdir())  # no empty database left behind


@pytest.mark.parametrize("command", ["export", "plot"])
def test_an_unwritable_out_is_refused_before_any_work(db, tmp_path, capsys, command):
    (tmp_path / "file").write_text("x")
    (tmp_path / "folder.png").mkdir()
    ext = ".csv" if command == "export" else ".png"
    extra = ["--figure", "p-vs-units"] if command == "plot" else []
    cases = [(tmp_path / "no" / f"x{ext}", "does not exist"), (tmp_path / "file" / f"x{ext}", "is not a folder"),
             (Path("/proc") / f"x{ext}", "cannot write '/proc/x")]
    if command == "plot":
        cases.append((tmp_path / "folder.png", "it is a folder"))
    for out, fragment in cases:
        # a missing database is not even opened: the output is checked first
        code, _, err = run(capsys, command, "--db", tmp_path / "missing.sqlite", *extra, "--out", out)
        line = one_line_error(code, err)
        assert fragment in line and "cannot write" in line, line
    folder = tmp_path / "out"
    folder.mkdir()
    code, _, err = run(capsys, command, "--db", db, *extra, "--out", folder / f"ok{ext}")
    assert code == 0, err
    assert [p.name for p in folder.iterdir()] == [f"ok{ext}"]  # no probe or partial file left


@pytest.mark.parametrize("args, fragment", [
    (["export", "--look-back", "x", "--out", "{tmp}/x.csv"], "'--look-back' parameter of export"),
    (["plot", "--look-back", "x", "--figure", "heatmap", "--out", "{tmp}/x.png"], "'--look-back' parameter of plot"),
    (["rank", "--depth", "0"], "'--depth' parameter of rank"),
    (["plot", "--figure", "heatmap", "--value", "nope", "--out", "{tmp}/x.png"], "'value' parameter of heatmap"),
    (["plot", "--figure", "p-vs-units", "--y", "nope", "--out", "{tmp}/x.png"], "'y' parameter of p-vs-units"),
    (["plot", "--figure", "heatmap", "--depth", "1,2", "--out", "{tmp}/x.png"], "'--depth' option of a heat map"),
])
def test_errors_name_the_option_and_the_command(db, tmp_path, capsys, args, fragment):
    args = [a.format(tmp=tmp_path) for a in args]
    code, _, err = run(capsys, args[0], "--db", db, *args[1:])
    assert fragment in one_line_error(code, err)


def _snapshot(folder: Path) -> dict:
    return {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in sorted(folder.iterdir())}


def _read_everything(path: Path, out: Path, capsys) -> None:
    assert run(capsys, "rank", "--db", path)[0] == 0
    assert run(capsys, "rank", "--db", path, "--list-settings")[0] == 0
    code, _, err = run(capsys, "export", "--db", path, "--out", out / "x.parquet")
    assert code == 0, err
    code, _, err = run(capsys, "plot", "--db", path, "--figure", "heatmap", "--out", out / "x.png")
    assert code == 0, err


def test_reading_commands_read_a_read_only_folder(db, tmp_path, capsys):
    import os
    import shutil
    import stat

    ro = tmp_path / "ro"
    ro.mkdir()
    shutil.copy2(db, ro / "r.sqlite")
    out = tmp_path / "out"
    out.mkdir()
    (ro / "r.sqlite").chmod(stat.S_IRUSR | stat.S_IRGRP)
    ro.chmod(stat.S_IRUSR | stat.S_IXUSR)
    try:
        before = _snapshot(ro)
        _read_everything(ro / "r.sqlite", out, capsys)
        if not os.access(ro, os.W_OK):  # an ordinary user: the folder really is read-only
            assert _snapshot(ro) == before
        else:  # root ignores the permissions: check instead that nothing was written to the database
            assert _snapshot(ro)["r.sqlite"] == before["r.sqlite"]
    finally:
        ro.chmod(stat.S_IRWXU)


def test_reading_commands_leave_the_database_file_unchanged(db, tmp_path, capsys):
    import shutil

    fresh = tmp_path / "fresh"
    fresh.mkdir()
    shutil.copy2(db, fresh / "r.sqlite")
    before = _snapshot(fresh)
    _read_everything(fresh / "r.sqlite", tmp_path, capsys)
    assert _snapshot(fresh)["r.sqlite"] == before["r.sqlite"]  # the same bytes, the same mtime


def test_reading_commands_create_no_side_files(db, tmp_path, capsys):
    import shutil

    fresh = tmp_path / "fresh"
    fresh.mkdir()
    shutil.copy2(db, fresh / "r.sqlite")
    _read_everything(fresh / "r.sqlite", tmp_path, capsys)
    assert [p.name for p in fresh.iterdir()] == ["r.sqlite"]


def test_screen_auto_and_race_report_what_they_drew(tmp_path, capsys):
    path = tmp_path / "r.sqlite"
    args = ["--units", "3:8", "--layers", "1", "--look-back", "1,2", "--preset", "paper", "--workers", "1", "--quiet",
            "--db", path]
    code, out, err = run(capsys, "screen", *args, "--samples", "auto:round=10,max=40,tol=1e-9,rel=0,mean=inf",
                         "--race", "2", "--top", "3")
    assert code == 0, err
    df = open_store(path).frame()
    assert len(df) == 12 and set(df.status) == {"maximum", "raced"}
    assert f"samples drawn: {df.drawn.sum()} (" in out and "raced" in out
    assert "drawn" in out.splitlines()[2] and "status" in out.splitlines()[2]  # the table's header
    code, out, err = run(capsys, "rank", "--db", path, "--top", "3")
    assert code == 0 and "status" in out


@pytest.fixture
def scored_db(tmp_path, capsys):
    path = tmp_path / "s.sqlite"
    code, _, err = run(capsys, "screen", "--units", "3:5", "--layers", "1", "--look-back", "2,6", "--samples", "8",
                       "--workers", "1", "--quiet", "--top", "0", "--scores", "all", "--db", path)
    assert code == 0, err
    return path


def test_rank_by_every_score(scored_db, capsys):
    from mae_ort.sampling.scores import RANKABLE, STORED_SCORES

    df = open_store(scored_db).frame(maes=True)
    # what each score is, computed here from the stored rows; min and the quantiles of the stored MAEs
    values = {n: df[n] for n in ("log_p", "log_p_exact", "p", "mean", "sd")}
    values.update({n: df[f"score_{n}"] for n in STORED_SCORES})
    values.update(min=df.maes.map(np.min), q05=df.maes.map(lambda m: np.quantile(m, 0.05)),
                  q10=df.maes.map(lambda m: np.quantile(m, 0.10)))
    assert set(values) == set(RANKABLE)
    # the direction of each, as the literature behind it says (written out here, not read from the table)
    larger_first = {"log_p", "log_p_exact", "p", "mean", "sd", "hidden_cov", "naswot"}
    for name in RANKABLE:
        code, out, err = run(capsys, "rank", "--db", scored_db, "--by", name, "--top", "4")
        assert code == 0 and not err, (name, err)
        ids = [int(line.split()[-1]) for line in out.strip().splitlines()[1:]]
        got = values[name].set_axis(df.id)[ids].to_numpy()
        want = np.sort(values[name].to_numpy())
        want = (want[::-1] if name in larger_first else want)[:4]
        np.testing.assert_allclose(got, want, rtol=1e-12, err_msg=name)


def test_rank_by_an_unknown_score_lists_every_accepted_one(db, capsys):
    from mae_ort.sampling.scores import RANKABLE

    line = one_line_error(*run(capsys, "rank", "--db", db, "--by", "median")[::2])
    assert "'median'" in line and all(n in line for n in RANKABLE)
    line = one_line_error(*run(capsys, "rank", "--db", db, "--by", "naswot")[::2])  # known, not stored here
    assert "no stored naswot score" in line and "--scores naswot" in line


def test_screen_target_form_delta_stores_its_own_settings(tmp_path, capsys):
    """--target-form delta: a linear head by default, settings of their own beside the level rows, and the same
    MAEs as mae_ort.sample(target_form='delta')."""
    import mae_ort

    path = tmp_path / "r.sqlite"
    code, _, err = run(capsys, "screen", *TINY, "--db", path)
    assert code == 0, err
    code, out, err = run(capsys, "screen", *TINY, "--target-form", "delta", "--db", path)
    assert code == 0, err
    assert f"{TINY_ROWS} new" in out
    with open_store(path) as st:
        sets = st.settings_frame()
        df = st.frame(maes=True)
    assert sorted(sets.target_form) == ["delta", "level"]
    delta = df[df.target_form == "delta"]
    assert len(delta) == TINY_ROWS and set(delta.head_activation) == {"linear"}
    assert set(df[df.target_form == "level"].head_activation) == {"tanh"}
    r = delta.iloc[0]
    one = mae_ort.sample(mae_ort.sine(), arch=[int(u) for u in r.units.split(",")], look_back=int(r.look_back),
                         samples=len(r.maes), seed=int(r.sweep_seed), target_form="delta")
    np.testing.assert_allclose(r.maes, one.maes, rtol=1e-5)
