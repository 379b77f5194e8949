"""Many series in one screen: the same rows as one screen per series, resumable, on workers and Dask; the
per-series best and the mean rank across series against hand-computed cases; bad input."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from mae_ort.errors import DataError, InvalidParameterError
from mae_ort.long_format import read_long
from mae_ort.results.store import open_store
from mae_ort.screening.many import SkippedSeriesWarning, best_per_series, rank_across_series
from mae_ort.screening.space import grid
from mae_ort.screening.sweep import screen

SAMPLES = 6
SPACE = dict(units="2:3", layers="1", look_back="1,3")  # 4 rows a series


def _parts(lengths=(40, 50, 45)):
    rng = np.random.default_rng(7)
    return [pd.DataFrame({"unique_id": f"s{i}", "ds": pd.date_range("2024-01-01", periods=n, freq="D"),
                          "y": np.sin(np.arange(n) / (2.0 + i)) + 0.2 * rng.standard_normal(n)})
            for i, n in enumerate(lengths)]


@pytest.fixture(scope="module")
def parts():
    return _parts()


@pytest.fixture(scope="module")
def table(parts):
    return pd.concat(parts, ignore_index=True)


@pytest.fixture(scope="module")
def separate(parts):
    """Three separate screens, one per series (scaled as the long screen scales each)."""
    return [screen(grid(**SPACE), part[["y"]], samples=SAMPLES, seed=2, workers=1)
            for part in parts]


def _long_screen(table, **kw):
    return screen(grid(**SPACE), table, samples=SAMPLES, seed=2, **{"workers": 1, **kw})


def _same(df, separate):
    assert list(df["series"].unique()) == ["s0", "s1", "s2"]
    for i, one in enumerate(separate):
        got = df[df["series"] == f"s{i}"].reset_index(drop=True)
        assert list(got["units"]) == list(one["units"]) and list(got["look_back"]) == list(one["look_back"])
        for a, b in zip(got["maes"], one["maes"]):
            np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(got["log_p"], one["log_p"])
        assert set(got["settings_id"]) == set(one["settings_id"])  # the same settings: the series' fingerprint


def test_a_long_table_gives_the_rows_of_one_screen_per_series(tmp_path, table, separate):
    db = tmp_path / "r.sqlite"
    df = _long_screen(table, store=db)
    _same(df, separate)
    assert df.attrs["new_rows"] == 12 and df.attrs["series"] == ["s0", "s1", "s2"] and df.attrs["skipped"] == []
    with open_store(db) as st:
        assert st.count() == 12 and sorted(st.settings_frame()["series"]) == ["s0", "s1", "s2"]
    again = _long_screen(table, store=db)  # a rerun finds everything done
    assert again.attrs["new_rows"] == 0 and len(again) == 12


def test_a_csv_path_and_a_long_table_object_screen_alike(tmp_path, table, separate):
    path = tmp_path / "long.csv"
    table.to_csv(path, index=False)
    _same(_long_screen(str(path)), separate)
    _same(_long_screen(read_long(table)), separate)
    renamed = table.rename(columns={"unique_id": "shop"})
    _same(screen(grid(**SPACE), renamed, id_col="shop", samples=SAMPLES, seed=2, workers=1), separate)


def test_an_interrupted_long_screen_resumes_where_it_stopped(tmp_path, table, separate):
    db = tmp_path / "r.sqlite"
    calls = []

    def stop(done, total):
        calls.append(done)
        if done >= 5:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        _long_screen(table, store=db, batch_flops=0, share=False, progress=stop)  # one row a task
    with open_store(db) as st:
        stored = st.count()
    assert stored == 5
    df = _long_screen(table, store=db, batch_flops=0, share=False)
    assert df.attrs["new_rows"] == 12 - stored
    _same(df, separate)


def test_worker_processes_give_the_same_rows(table, separate):
    _same(_long_screen(table, workers=2, batch_flops=0), separate)


def test_dask_gives_the_same_rows(tmp_path, table, separate):
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None,
                                  silence_logs=40) as cluster:
        df = _long_screen(table, store=tmp_path / "r.sqlite", scheduler=cluster.scheduler_address)
    _same(df, separate)


def test_a_series_too_short_is_skipped_with_a_warning_naming_it(table, separate):
    short = pd.DataFrame({"unique_id": "tiny", "ds": pd.date_range("2024-01-01", periods=3), "y": [1.0, 2.0, 0.5]})
    with pytest.warns(SkippedSeriesWarning, match=r"series 'tiny' has 3 points; look_back=3 needs at least 4: it "
                                                  r"is skipped"):
        df = _long_screen(pd.concat([table, short], ignore_index=True))
    assert df.attrs["skipped"] == ["tiny"]
    _same(df, separate)


def test_identical_series_are_screened_once_and_returned_under_each_id(table, separate):
    copy = table[table["unique_id"] == "s1"].assign(unique_id="s1-copy")
    with pytest.warns(SkippedSeriesWarning, match="series 's1-copy' is identical to series 's1'"):
        df = _long_screen(pd.concat([table, copy], ignore_index=True))
    a = df[df["series"] == "s1"].reset_index(drop=True)
    b = df[df["series"] == "s1-copy"].reset_index(drop=True)
    np.testing.assert_array_equal(a["log_p"], b["log_p"])
    assert df.attrs["new_rows"] == 12


def test_refusals_store_nothing(tmp_path, table):
    db = tmp_path / "r.sqlite"
    dup = pd.concat([table, table.iloc[[50]]], ignore_index=True)
    with pytest.raises(DataError, match="series 's1' has duplicate timestamps"):
        _long_screen(dup, store=db)
    short = table.groupby("unique_id").head(3)
    with pytest.raises(DataError, match="no series of the long table has the 4 points that look_back=3 needs"):
        _long_screen(short, store=db)
    with pytest.raises(InvalidParameterError, match="race= ranks the rows of one series"):
        screen(grid(**SPACE), table, store=db, samples="auto", race=2, workers=1)
    assert not db.exists()


# -- reading: a hand-computed case ------------------------------------------------------------

def _frame(values: dict) -> pd.DataFrame:
    """Rows of three architectures (units 1, 2, 3 at look-back 1) on series with the given log p values."""
    rows = []
    rid = 0
    for s, vals in values.items():
        for units, v in zip(("1", "2", "3"), vals):
            rid += 1
            rows.append(dict(id=rid, settings_id=f"sid-{s}", series=s, cell="lstm", activation="tanh",
                             recurrent_activation="sigmoid", head_activation="tanh", units=units, look_back=1,
                             log_p=v, log_p_exact=True, mean=0.5, samples=10, threshold=0.01, lower=0.0, upper=2.0,
                             fit="moments", init="normal:0,1", sweep_seed=0, seeding=2, auto=""))
    return pd.DataFrame(rows)


def test_best_per_series_and_mean_rank_by_hand():
    # log p (higher is better):     units 1  units 2  units 3
    #   a                            -1       -2       -3      ranks 1, 2, 3
    #   b                            -5       -4       -4      ranks 3, 1.5, 1.5 (a tie shares 1 and 2)
    #   c                            -2       -1       -9      ranks 2, 1, 3
    df = _frame({"a": [-1, -2, -3], "b": [-5, -4, -4], "c": [-2, -1, -9]})
    best = best_per_series(df)
    assert list(best["series"]) == ["a", "b", "c"] and list(best["units"]) == ["1", "2", "2"]  # b: the earlier row
    ranked = rank_across_series(df)
    # mean ranks: units 2: (2 + 1.5 + 1) / 3 = 1.5; units 1: (1 + 3 + 2) / 3 = 2; units 3: (3 + 1.5 + 3) / 3 = 2.5
    assert list(ranked["units"]) == ["2", "1", "3"] and list(ranked["rank"]) == [1, 2, 3]
    np.testing.assert_allclose(ranked["mean_rank"], [1.5, 2.0, 2.5])
    sd = [math.sqrt(((2 - 1.5) ** 2 + 0 + (1 - 1.5) ** 2) / 2), 1.0, math.sqrt((0.25 + 1 + 0.25) / 2)]
    np.testing.assert_allclose(ranked["sd_rank"], sd)
    assert list(ranked["best_rank"]) == [1.0, 1.0, 1.5] and list(ranked["worst_rank"]) == [2.0, 3.0, 3.0]
    assert list(ranked["n_best"]) == [1, 1, 0] and list(ranked["n_series"]) == [3, 3, 3]
    np.testing.assert_allclose(ranked["mean_log_p"], [-7 / 3, -8 / 3, -16 / 3])
    assert ranked.attrs["left_out"] == 0
    # by an error (ascending): the order of each series reverses
    asc = rank_across_series(df.assign(err=-df["log_p"]), "err", ascending=True)
    np.testing.assert_allclose(asc.set_index("units").loc[["1", "2", "3"], "mean_rank"], [2.0, 1.5, 2.5])


def test_architectures_some_series_lack_are_left_out_and_configurations_kept_apart():
    df = _frame({"a": [-1, -2, -3], "b": [-5, -4, -4]})
    partial = df.drop(index=[5])  # b lacks units 3
    ranked = rank_across_series(partial)
    assert list(ranked["units"]) == ["1", "2"] and ranked.attrs["left_out"] == 1
    np.testing.assert_allclose(ranked["mean_rank"], [1.5, 1.5])  # a: 1, 2; b: 2, 1
    mixed = pd.concat([df, df.assign(samples=20, settings_id=df["settings_id"] + "x")], ignore_index=True)
    with pytest.raises(DataError, match="several settings"):
        rank_across_series(mixed)


def test_one_name_with_two_settings_counts_as_two_series():
    df = _frame({"a": [-1, -2, -3], "b": [-5, -4, -4]})
    df.loc[df["series"] == "b", "series"] = "a"  # the same label, other data (another settings id)
    best = best_per_series(df)
    assert list(best["series"]) == ["a (sid-a)", "a (sid-b)"]
    assert rank_across_series(df)["n_series"].tolist() == [2, 2, 2]
