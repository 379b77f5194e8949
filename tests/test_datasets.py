"""The real series of ``data/``: each loads, has the length ``data/README.md`` states and holds no NaN (issue 29)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mae_ort.data import prepare
from tests.conftest import DATA

# file -> (input column, rows, how data/README.md writes the row count, period of the date column or None)
SERIES = {
    "eunite-training.csv": ("MaxLoads", 730, "730 days", None),
    "eunite-testing.csv": ("MaxLoads", 31, "31 days", None),
    "waste-2013.csv": ("C-A100", 259, "259 readings", None),
    "co2-weekly.csv": ("co2", 2284, "2,284 weeks", "7D"),
    "elnino-monthly.csv": ("sst", 732, "732 months", "MS"),
    "seattle-hourly-2010.csv": ("temp", 8760, "8,760 hours", "h"),
}


@pytest.mark.parametrize("name", SERIES)
def test_each_series_loads_with_its_documented_length(name):
    column, rows, written, period = SERIES[name]
    frame = pd.read_csv(DATA / name)
    assert len(frame) == rows and not frame.isna().any().any()
    s = prepare(DATA / name, input=column, target=column)
    assert s.length == rows and np.isfinite(s.inputs).all()
    np.testing.assert_array_equal(s.inputs[:, 0], frame[column].to_numpy())
    line = next(line for line in (DATA / "README.md").read_text().splitlines() if line.startswith(f"| `{name}`"))
    assert f"| {written}" in line
    if period is not None:  # one row per step of the calendar: no gap, no repeat
        dates = pd.to_datetime(frame["date"])
        expected = pd.date_range(dates.iloc[0], periods=rows, freq=period)
        assert (dates.to_numpy() == expected.to_numpy()).all()


def test_the_filled_values_are_flagged_and_interpolated():
    seattle = pd.read_csv(DATA / "seattle-hourly-2010.csv")
    filled = seattle.index[seattle["interpolated"] == 1]
    assert list(seattle.loc[filled, "date"]) == ["2010-03-14 03:00"]  # the daylight-saving hour the source skips
    i = filled[0]
    assert seattle.loc[i, "temp"] == pytest.approx((seattle.loc[i - 1, "temp"] + seattle.loc[i + 1, "temp"]) / 2)
    co2 = pd.read_csv(DATA / "co2-weekly.csv")
    assert co2["interpolated"].sum() == 59 and set(co2["interpolated"]) == {0, 1}


def test_el_nino_is_the_year_by_month_table_read_row_by_row():
    frame = pd.read_csv(DATA / "elnino-monthly.csv")
    table = frame["sst"].to_numpy().reshape(61, 12)  # years down, months across, as statsmodels ships it
    assert frame["date"].iloc[0] == "1950-01-01" and frame["date"].iloc[-1] == "2010-12-01"
    months = table.mean(axis=0)  # Niño 1+2: warmest in February-April, coolest in August-October
    assert months[1:4].min() > months[7:10].max()
