"""The screen, rank, export and plot commands: output, files, exit codes and one-line errors."""

from __future__ import annotations

import json
import sqlite3

import numpy as np
import pandas as pd
import pytest

from mae_ort.cli import COMMANDS, cli, main
from mae_ort.results.store import open_store

TINY = ["--units", "3:4", "--layers", "1:2", "--look-back", "1,2", "--samples", "5", "--workers", "1", "--quiet"]
TINY_ROWS = 12


def run(capsys, *args):
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def one_line_error(code, err):
    assert code == 2
    lines = [line for line in err.strip().splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:"), err
    return lines[0]


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
    assert lines[0].split()[:3] == ["rank", "units", "look_back"] and len(lines) == 4
    df = open_store(db).frame()
    best = df.sort_values("log_p", ascending=False).iloc[0]
    assert lines[1].split()[1] == best.units
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
