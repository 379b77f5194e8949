"""Regenerate the series of ``data/`` that come from data shipped inside Python wheels (issue 29).

``python scripts/fetch_datasets.py [--check]``

Needs ``statsmodels`` and ``vega_datasets`` in the running Python (``pip install statsmodels vega_datasets``);
neither is a dependency of mae-ort and nothing is downloaded at run time: both wheels carry their data
files.  The committed CSVs were written by this script from statsmodels 0.15.0 and vega_datasets 0.9.0.
``--check`` writes nothing and exits 1 when a committed file differs from what the script would write.

- ``data/co2-weekly.csv``: ``statsmodels.datasets.co2`` (weekly Mauna Loa CO2, 1958-03-29 to 2001-12-29), with
  the 59 missing weeks filled by linear interpolation (written to 0.1 ppm, as the source) and flagged in
  ``interpolated``.
- ``data/elnino-monthly.csv``: ``statsmodels.datasets.elnino`` (61 years x 12 month columns of Niño 1+2
  sea-surface temperature, 1950-2010) laid out as one monthly series: ``date`` (first day of the month), ``sst``.
- ``data/seattle-hourly-2010.csv``: ``vega_datasets``' local ``seattle-temps.csv`` (hourly temperature, °F,
  8,759 rows).  The file's clock skips 2010-03-14 03:00 (the daylight-saving change); that hour is filled by
  linear interpolation between its neighbours and flagged in ``interpolated``, so that every day is 24 rows.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

DATA = Path(__file__).resolve().parents[1] / "data"


def co2() -> pd.DataFrame:
    """Weekly CO2 (ppm) with the missing weeks interpolated linearly and flagged."""
    from statsmodels.datasets import co2 as source

    raw = source.load_pandas().data["co2"]
    filled = [f"{v:.1f}" for v in raw.interpolate(method="linear")]
    return pd.DataFrame({"date": raw.index.strftime("%Y-%m-%d"), "co2": filled,
                         "interpolated": raw.isna().astype(int).to_numpy()})


def elnino() -> pd.DataFrame:
    """Monthly Niño 1+2 sea-surface temperature (°C), one row per month in time order."""
    from statsmodels.datasets import elnino as source

    wide = source.load_pandas().data
    months = [c for c in wide.columns if c != "YEAR"]
    long = wide.melt(id_vars="YEAR", value_vars=months, var_name="month", value_name="sst")
    long["month"] = long["month"].map({m: i + 1 for i, m in enumerate(months)})
    long = long.sort_values(["YEAR", "month"], kind="stable")
    dates = pd.to_datetime({"year": long["YEAR"].astype(int), "month": long["month"], "day": 1})
    return pd.DataFrame({"date": dates.dt.strftime("%Y-%m-%d").to_numpy(), "sst": long["sst"].to_numpy()})


def seattle() -> pd.DataFrame:
    """Hourly Seattle temperature (°F) of 2010 on a full local-clock grid; filled hours flagged."""
    from vega_datasets import local_data

    raw = local_data.seattle_temps().set_index("date")["temp"]
    grid = pd.date_range(raw.index[0], raw.index[-1], freq="h")
    full = raw.reindex(grid)
    return pd.DataFrame({"date": grid.strftime("%Y-%m-%d %H:%M"),
                         "temp": [f"{v:.1f}" for v in full.interpolate(method="linear")],
                         "interpolated": full.isna().astype(int).to_numpy()})


FILES = {"co2-weekly.csv": co2, "elnino-monthly.csv": elnino, "seattle-hourly-2010.csv": seattle}


def main(argv: list[str] | None = None) -> int:
    """Write (or with ``--check`` compare) every file of :data:`FILES`; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare with the committed files, write nothing")
    args = parser.parse_args(argv)
    status = 0
    for name, build in FILES.items():
        text = build().to_csv(index=False, lineterminator="\n")
        path = DATA / name
        if args.check:
            same = path.exists() and path.read_text() == text
            print(f"{name}: {'same' if same else 'DIFFERS'}")
            status |= 0 if same else 1
        else:
            path.write_text(text)
            print(f"{name}: {text.count(chr(10)) - 1} rows written")
    return status


if __name__ == "__main__":
    sys.exit(main())
