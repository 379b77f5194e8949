"""Shared layer prefixes in a sweep: the same rows with and without sharing, timed in the same run.

``python -m bench.sweep_share [--widths 7:31:6] [--samples 100] [--workers 2] [--full-prefixes 4]``

1. The complete sub-grid of ``paper-3layer`` with widths ``--widths`` per layer and all four
   look-backs (default 7,13,19,25,31: 500 rows), screened twice into fresh in-memory stores:
   ``share=False`` (every row alone, as the sweep ran before sharing existed) and
   ``share=True``; the MAEs of both are checked to be identical.
2. A projection of the full ``paper-3layer`` sweep (62,500 rows): ``--full-prefixes`` random
   (u1, u2) prefixes with all 25 last-layer widths and all four look-backs, timed with
   sharing; seconds per row x 62,500.
3. Peak RSS of this process (the sweep runs in worker processes: each reports its own).

Writes ``bench/sweep_share.json`` and prints a Markdown section for ``bench/RESULTS.md``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from mae_ort._system import blas_info, library_versions, loadavg, machine_line, peak_rss_bytes
from mae_ort.screening import RowList, grid, preset_space, screen

HERE = Path(__file__).resolve().parent


def _timed(space, **kw):
    t0 = time.perf_counter()
    df = screen(space, store=None, **kw)
    return time.perf_counter() - t0, df


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--widths", default="7:31:6")
    ap.add_argument("--samples", type=int, default=100)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--full-prefixes", type=int, default=4)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=str(HERE / "sweep_share.json"))
    a = ap.parse_args(argv)
    sub = grid(units=a.widths, layers="3", look_back="1,10,20,30", preset="paper", name="paper-3layer sub-grid")
    kw = dict(samples=a.samples, seed=a.seed, workers=a.workers)
    screen(grid(units="7", layers="3", look_back="1,10", preset="paper"), store=None, samples=4, workers=1)  # JIT
    load0 = loadavg()
    t_alone, alone = _timed(sub, share=False, **kw)
    t_shared, shared = _timed(sub, share=True, **kw)
    same = all(np.array_equal(x, y) for x, y in zip(alone.maes, shared.maes))
    rng = np.random.default_rng(a.seed)
    full = preset_space("paper-3layer")
    widths = list(range(7, 32))
    prefixes = {(int(rng.choice(widths)), int(rng.choice(widths))) for _ in range(a.full_prefixes * 3)}
    prefixes = sorted(prefixes)[:a.full_prefixes]
    rows = [r for r in full if r.arch.units[:2] in prefixes]
    t_full, _ = _timed(RowList(rows, name="full-width prefixes"), share=True, **kw)
    per_row = t_full / len(rows)
    res = {
        "machine": machine_line(), "blas": blas_info(), "versions": library_versions(with_keras=False),
        "loadavg_start": load0, "loadavg_end": loadavg(), "samples": a.samples, "workers": a.workers,
        "subgrid_rows": len(sub), "subgrid_seconds_alone": t_alone, "subgrid_seconds_shared": t_shared,
        "speedup": t_alone / t_shared, "identical_maes": bool(same),
        "full_prefix_rows": len(rows), "full_prefixes": prefixes, "full_seconds": t_full,
        "projected_full_hours": per_row * len(full) / 3600.0, "parent_peak_rss_bytes": peak_rss_bytes(),
    }
    Path(a.out).write_text(json.dumps(res, indent=2))
    print(f"""## Shared layer prefixes in a sweep (issue 13)

`python -m bench.sweep_share` on {res['machine']} (BLAS {res['blas'].get('internal_api')}
{res['blas'].get('architecture')}), {a.workers} workers, {a.samples} samples, load average
{load0} at the start and {res['loadavg_end']} at the end.

| | rows | seconds | rows/s |
|---|---|---|---|
| sub-grid ({a.widths} per layer, 4 look-backs), every row alone | {len(sub)} | {t_alone:.1f} | \
{len(sub) / t_alone:.2f} |
| the same rows, shared prefixes | {len(sub)} | {t_shared:.1f} | {len(sub) / t_shared:.2f} |
| {len(prefixes)} full-width prefixes (25 last widths x 4 look-backs each), shared | {len(rows)} | {t_full:.1f} | \
{len(rows) / t_full:.2f} |

Speed-up on the sub-grid: **{res['speedup']:.2f}x** (identical MAEs: {same}). Projected full `paper-3layer`
sweep (62,500 rows): **{res['projected_full_hours']:.2f} h**.
""")
    return res


if __name__ == "__main__":
    main()
