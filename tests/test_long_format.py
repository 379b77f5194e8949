"""Long-format tables: one series per id, each prepared on its own; duplicate timestamps refused, gaps warned."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from mae_ort.data import prepare
from mae_ort.errors import DataError
from mae_ort.long_format import GapWarning, LongTable, long_id_column, read_long


def _long(lengths=(6, 8), freq="D", start="2024-01-01"):
    rng = np.random.default_rng(1)
    parts = [pd.DataFrame({"unique_id": f"s{i}", "ds": pd.date_range(start, periods=n, freq=freq),
                           "y": rng.normal(10 * i, 1 + i, n)}) for i, n in enumerate(lengths)]
    return pd.concat(parts, ignore_index=True), parts


def test_each_series_is_prepared_and_scaled_on_its_own():
    table, parts = _long()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = read_long(table, scale="minmax")
    assert isinstance(got, LongTable) and got.names == ["s0", "s1"] and len(got) == 2
    assert got.id_col == "unique_id" and got.index_col == "ds"
    for s, part in zip(got, parts):
        ref = prepare(part[["y"]], scale="minmax", name=s.name)
        assert np.array_equal(s.inputs, ref.inputs) and np.array_equal(s.targets, ref.targets)
        assert s.fingerprint() == ref.fingerprint()  # the same rows as a screen of that series alone
        assert s.inputs.min() == 0.0 and s.inputs.max() == 1.0


def test_lines_are_sorted_by_time_within_each_series_and_names_can_be_chosen():
    table, parts = _long()
    shuffled = table.sample(frac=1.0, random_state=3).rename(columns={"unique_id": "shop", "ds": "day",
                                                                      "y": "sales"})
    got = read_long(shuffled, id_col="shop", index_col="day", target="sales")
    by_name = {s.name: s for s in got}
    for i, part in enumerate(parts):
        assert np.array_equal(by_name[f"s{i}"].targets[:, 0], part["y"].to_numpy())


def test_duplicate_timestamps_are_refused_naming_the_series():
    table, _ = _long()
    bad = pd.concat([table, table[table.unique_id == "s1"].iloc[[2]]], ignore_index=True)
    with pytest.raises(DataError, match=r"series 's1' has duplicate timestamps in 'ds' \(1 repeated, the first "
                                        r"2024-01-03\)"):
        read_long(bad)


def test_gaps_warn_naming_the_series_and_keep_it():
    table, _ = _long(lengths=(10, 10))
    gappy = table.drop(index=[13, 14])  # two days of s1
    with pytest.warns(GapWarning, match=r"series 's1' has unevenly spaced timestamps in 'ds' \(gaps, e.g. "
                                        r"2024-01-03 to 2024-01-06\)") as caught:
        got = read_long(gappy)
    assert [str(w.message).split("'")[1] for w in caught] == ["s1"]
    assert [s.length for s in got] == [10, 8]


def test_weekday_only_readings_are_regular_and_a_missing_weekday_only_warns():
    table, _ = _long(lengths=(12, 12), freq="B")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert [s.length for s in read_long(table)] == [12, 12]
    with pytest.warns(GapWarning, match="series 's0'"):
        got = read_long(table.drop(index=[4]))
    assert [s.length for s in got] == [11, 12]


def test_numeric_time_steps_and_text_dates():
    table = pd.DataFrame({"unique_id": ["a"] * 5 + ["b"] * 5, "ds": [1, 2, 3, 4, 5, 1, 2, 4, 5, 6],
                          "y": np.arange(10.0)})
    with pytest.warns(GapWarning, match="series 'b'") as caught:
        read_long(table)
    assert len(caught) == 1
    text = table.assign(ds=[f"2024-02-0{d}" for d in table["ds"]])
    with pytest.warns(GapWarning, match="series 'b'"):
        read_long(text)


def test_bad_series_and_columns_are_one_line_errors():
    table, _ = _long()
    nan = table.copy()
    nan.loc[9, "y"] = np.nan
    with pytest.raises(DataError, match=r"^series 's1' of the long table: .*NaN"):
        read_long(nan)
    with pytest.raises(DataError, match=r"no id column 'shop'"):
        read_long(table, id_col="shop")
    missing = table.copy()
    missing.loc[3, "unique_id"] = None
    with pytest.raises(DataError, match="id column 'unique_id' is missing at row 3"):
        read_long(missing)
    with pytest.raises(DataError, match="neither dates nor numbers"):
        read_long(table.assign(ds="soon"))


def test_a_long_table_is_recognised_by_its_id_column(tmp_path):
    table, _ = _long()
    path = tmp_path / "long.csv"
    table.to_csv(path, index=False)
    assert long_id_column(table) == "unique_id" and long_id_column(str(path)) == "unique_id"
    assert long_id_column(table[["ds", "y"]]) is None and long_id_column(np.zeros(3)) is None
    assert long_id_column(table[["ds", "y"]], "ds") == "ds"
    from_file = read_long(path)
    assert [s.fingerprint() for s in from_file] == [s.fingerprint() for s in read_long(table)]
