"""``screen`` of a long-format CSV (``--id-col``) and ``rank --across-series``: output, stored rows, exit codes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mae_ort.results.store import open_store
from mae_ort.screening.many import best_per_series, rank_across_series
from tests.conftest import one_line_error, run_cli

run = run_cli
TINY = ["--units", "2:3", "--layers", "1", "--look-back", "1,3", "--samples", "5", "--workers", "1", "--quiet"]


def _table(lengths=(30, 40, 35)):
    rng = np.random.default_rng(5)
    return pd.concat([pd.DataFrame({"unique_id": f"s{i}", "ds": pd.date_range("2024-01-01", periods=n, freq="D"),
                                    "y": 100 * i + np.cumsum(rng.standard_normal(n))})
                      for i, n in enumerate(lengths)], ignore_index=True)


@pytest.fixture
def long_csv(tmp_path):
    path = tmp_path / "long.csv"
    _table().to_csv(path, index=False)
    return path


def test_screen_a_long_csv_then_rank_across_series(tmp_path, capsys, long_csv):
    db = tmp_path / "r.sqlite"
    code, out, err = run(capsys, "screen", *TINY, "--csv", long_csv, "--scale", "minmax", "--db", db)
    assert code == 0, err
    assert "12 rows of grid on 3 series" in out and "12 new" in out and "across 3 series" in out
    with open_store(db) as st:
        frame = st.frame()
        assert st.count() == 12 and sorted(st.settings_frame()["series"]) == ["s0", "s1", "s2"]
    code, out, err = run(capsys, "rank", "--db", db, "--across-series", "--by", "log_p")
    assert code == 0, err
    best = best_per_series(frame)
    lines = out.splitlines()
    for r in best.itertuples():  # one line per series, its best row's id last
        assert any(line.split()[0] == r.series and line.split()[-1] == str(r.id) for line in lines)
    ranked = rank_across_series(frame)
    table_at = next(i for i, line in enumerate(lines) if line.startswith("across 3 series"))
    body = lines[table_at + 2:table_at + 2 + len(ranked)]
    assert [float(line.split()[-7]) for line in body] == pytest.approx(list(ranked["mean_rank"]), rel=1e-5)
    code, out, _ = run(capsys, "screen", *TINY, "--csv", long_csv, "--scale", "minmax", "--db", db)
    assert code == 0 and "0 new, 12 already done" in out  # resumed


def test_the_id_column_can_be_named(tmp_path, capsys):
    path = tmp_path / "shops.csv"
    _table().rename(columns={"unique_id": "shop", "ds": "day", "y": "sales"}).to_csv(path, index=False)
    db = tmp_path / "r.sqlite"
    code, out, err = run(capsys, "screen", *TINY, "--csv", path, "--id-col", "shop", "--index-col", "day",
                         "--target", "sales", "--db", db)
    assert code == 0, err
    assert "on 3 series" in out


def test_gaps_and_short_series_warn_in_one_line_each(tmp_path, capsys):
    table = _table()
    table = table.drop(index=[40, 41])  # s1 loses two days
    short = pd.DataFrame({"unique_id": "tiny", "ds": pd.date_range("2024-01-01", periods=3), "y": [1.0, 2.0, 3.0]})
    path = tmp_path / "long.csv"
    pd.concat([table, short]).to_csv(path, index=False)
    code, out, err = run(capsys, "screen", *TINY, "--csv", path, "--scale", "minmax", "--db", tmp_path / "r.sqlite")
    assert code == 0, err
    warned = [line for line in err.splitlines() if line.startswith("warning:")]
    assert len(warned) == 2 and "series 's1' has unevenly spaced timestamps" in warned[0]
    assert "series 'tiny' has 3 points" in warned[1]
    assert "skipped (too short): tiny" in out


@pytest.mark.parametrize("edit, args, fragment", [
    ("dup", [], "series 's2' has duplicate timestamps in 'ds'"),
    ("short", [], "no series of the long table has the 4 points"),
    (None, ["--race", "2", "--samples", "auto"], "race= ranks the rows of one series"),
    (None, ["--id-col", "shop"], "no id column 'shop'"),
])
def test_bad_long_tables_are_one_line_exit_2_and_store_nothing(tmp_path, capsys, edit, args, fragment):
    table = _table()
    if edit == "dup":
        table = pd.concat([table, table.iloc[[80]]])
    elif edit == "short":
        table = table.groupby("unique_id").head(3)
    path = tmp_path / "long.csv"
    table.to_csv(path, index=False)
    db = tmp_path / "r.sqlite"
    code, _, err = run(capsys, "screen", *TINY, "--csv", path, "--db", db, *args)
    assert fragment in one_line_error(code, err)
    assert not db.exists()


def test_id_col_needs_a_csv(tmp_path, capsys):
    code, _, err = run(capsys, "screen", *TINY, "--id-col", "unique_id", "--db", tmp_path / "r.sqlite")
    assert "--id-col needs --csv" in one_line_error(code, err)
