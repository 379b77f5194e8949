"""Many series in one screen against one ``screen`` call per series, timed in the same run (issue 31).

``python -m bench.many_series [--series 100] [--points 500] [--units 2:9] [--look-back 1,10] [--samples 100]
[--workers 1] [--repeats 3]``

Case: ``--series`` seeded noisy sines of ``--points`` points each (a long table: ``unique_id``, ``ds``,
``y``; min-max scaled per series), the grid of one-layer LSTMs ``--units`` x ``--look-back``.  Two ways,
timed interleaved (:func:`bench.timing.interleaved_medians`, medians; each call writes a fresh SQLite file):

* ``separate``: one :func:`mae_ort.screen` call per series, every call on the same database file (the loop a
  user writes without a long-format screen);
* ``long``: one :func:`mae_ort.screen` of the whole table (:mod:`mae_ort.screening.many`).

The rows of both are checked to hold the same MAEs.  Writes ``bench/many_series.json`` (or ``--out``) and
prints one Markdown line.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from itertools import count
from pathlib import Path

import numpy as np
import pandas as pd

from bench.machine import library_versions, machine_info
from bench.timing import interleaved_medians
from mae_ort.long_format import read_long
from mae_ort.screening import grid, screen

HERE = Path(__file__).resolve().parent


def long_table(series: int, points: int, seed: int = 0) -> pd.DataFrame:
    """``series`` noisy sines of ``points`` daily points each, in Nixtla's long format."""
    rng = np.random.default_rng(seed)
    t = np.arange(points)
    parts = [pd.DataFrame({"unique_id": f"s{i:03d}", "ds": pd.date_range("2020-01-01", periods=points, freq="D"),
                           "y": np.sin(2 * np.pi * t / rng.uniform(5, 50) + rng.uniform(0, 2 * np.pi))
                           + rng.normal(0, rng.uniform(0.05, 0.5), points)}) for i in range(series)]
    return pd.concat(parts, ignore_index=True)


def measure(series: int = 100, points: int = 500, units: str = "2:9", look_back: str = "1,10", samples: int = 100,
            workers: int = 1, repeats: int = 3, seed: int = 0) -> dict:
    """Median seconds and rows per second of both ways (see the module docstring)."""
    table = read_long(long_table(series, points, seed), scale="minmax")
    space = grid(units=units, layers="1", look_back=look_back)
    rows = len(list(space.keys())) * len(table)
    kw = dict(samples=samples, seed=seed, workers=workers)
    folder = Path(tempfile.mkdtemp(prefix="bench-many-"))
    n = count()
    last: dict = {}

    def separate():
        db = folder / f"separate-{next(n)}.sqlite"
        last["separate"] = pd.concat([screen(space, s, store=db, **kw) for s in table], ignore_index=True)

    def long():
        last["long"] = screen(space, table, store=folder / f"long-{next(n)}.sqlite", **kw)

    medians, times = interleaved_medians({"separate": separate, "long": long}, repeats)
    a, b = last["separate"], last["long"]
    same = len(a) == len(b) == rows and all(np.array_equal(x, y) for x, y in zip(a["maes"], b["maes"]))
    for p in folder.iterdir():
        p.unlink()
    folder.rmdir()
    return {
        "case": {"series": series, "points": points, "space": space.describe(), "rows": rows, "samples": samples,
                 "workers": workers, "repeats": repeats, "seed": seed},
        "median_seconds": medians,
        "seconds": times,
        "rows_per_second": {k: rows / v for k, v in medians.items()},
        "speedup_long_over_separate": medians["separate"] / medians["long"],
        "same_maes": bool(same),
        "machine": machine_info(),
        "versions": library_versions(with_keras=False),
    }


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--series", type=int, default=100)
    ap.add_argument("--points", type=int, default=500)
    ap.add_argument("--units", default="2:9")
    ap.add_argument("--look-back", default="1,10")
    ap.add_argument("--samples", type=int, default=100)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=str(HERE / "many_series.json"))
    a = ap.parse_args(argv)
    result = measure(a.series, a.points, a.units, a.look_back, a.samples, a.workers, a.repeats, a.seed)
    result["command"] = "python -m bench.many_series " + " ".join(argv if argv is not None else
                                                                  __import__("sys").argv[1:])
    Path(a.out).write_text(json.dumps(result, indent=1) + "\n")
    r, c = result["rows_per_second"], result["case"]
    print(f"| {c['series']} series x {c['points']} points, {c['rows']} rows, {c['samples']} samples, "
          f"{c['workers']} worker(s) | separate {r['separate']:.1f} rows/s | long {r['long']:.1f} rows/s | "
          f"x{result['speedup_long_over_separate']:.2f} | same MAEs: {result['same_maes']} | "
          f"{result['machine']['cpu']} |")
    return result


if __name__ == "__main__":
    main()
