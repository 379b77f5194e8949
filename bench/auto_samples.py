"""``samples="auto"`` and racing against a fixed S: samples drawn, wall time, agreement of the ranking.

``python -m bench.auto_samples [--out runs-auto] [--space paper-2layer] [--workers 2] [--race 50] [--top 50]``

Screens ``--space`` (the paper's model, sine series, threshold 0.01, bounds 0..2, seed 0, as
``scripts/reproduce_paper.sh`` does) three times, each with ``mae-ort screen`` in its own process
and into its own database under ``--out``: ``fixed`` (``--samples 100``), ``auto``
(``--samples auto``, the defaults) and ``race`` (``--samples auto --race K``).  A database that
exists already is not screened again (its wall time is read from ``--out/runs.json``), so a
killed run resumes and ``--compare-only`` just compares.

Compared with the fixed run, over all rows: samples drawn (total, median, min, max a row) and
Kendall's tau of ``log p`` (``scipy.stats.kendalltau``, tau-b); the overlap of the top ``--top``
rows by ``log p`` (ties by ``log_p_exact``, then the mean: ``mae-ort rank``'s order).  For scale,
the same numbers for fixed S = 25 and S = 50, computed from the first samples of the fixed run's
own MAEs (the same weights: sample ``s`` does not depend on S).  Writes ``--out/auto_samples.json``
and prints a Markdown section for ``bench/RESULTS.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from mae_ort._system import loadavg, machine_line
from mae_ort.model.keys import KEY_COLUMNS

SAMPLING = ["--threshold", "0.01", "--lower", "0", "--upper", "2", "--seed", "0", "--seeding", "2"]
ORDER = ["log_p", "log_p_exact", "mean"]  # mae-ort rank's order (log p and its exact value down, the mean up)


def _screen(name: str, db: Path, space: str, workers: int, extra: list[str], runs: dict, log: Path) -> None:
    """Screen into ``db`` unless it exists; record the wall time and the load averages in ``runs``."""
    if db.exists():
        return
    cmd = [sys.executable, "-m", "mae_ort", "screen", "--space", space, *SAMPLING, *extra, "--workers",
           str(workers), "--db", str(db), "--quiet", "--top", "0"]
    load0, t0 = loadavg(), time.perf_counter()
    with open(log, "a") as fh:
        fh.write(" ".join(cmd) + "\n")
        fh.flush()
        subprocess.run(cmd, check=True, stdout=fh, stderr=subprocess.STDOUT)
    runs[name] = {"command": " ".join(cmd[1:]), "seconds": time.perf_counter() - t0, "load_start": load0,
                  "load_end": loadavg()}


def _frame(db: Path):
    from mae_ort import open_store

    with open_store(db, readonly=True) as st:
        df = st.frame(maes=True)
    df["key"] = list(zip(*(df[c] for c in KEY_COLUMNS)))
    return df.set_index("key")


def _top(df, k: int) -> set:
    return set(df.sort_values(ORDER, ascending=[False, False, True], na_position="last").head(k).index)


def _refit(fixed, n: int):
    """The fixed run's rows refitted on their first ``n`` MAEs (a fixed S = n with the same weights)."""
    import warnings

    from mae_ort.sampling.stats import fit_truncnorm

    out = fixed[["units", "look_back"]].copy()
    fits = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for m in fixed["maes"]:
            fits.append(fit_truncnorm(m[:n], threshold=0.01, lower=0.0, upper=2.0))
    out["log_p"] = [f.log_p for f in fits]
    out["log_p_exact"] = [f.log_p_exact for f in fits]
    out["mean"] = [f.mean for f in fits]
    out["drawn"] = n
    return out


def compare(fixed, other, top: int) -> dict:
    """Samples drawn and agreement with ``fixed`` (same rows)."""
    from scipy.stats import kendalltau

    both = fixed.index.intersection(other.index)
    f, o = fixed.loc[both], other.loc[both]
    tau = kendalltau(f["log_p"].to_numpy(), o["log_p"].to_numpy())
    drawn = o["drawn"].to_numpy()
    res = {"rows": int(len(both)), "drawn_total": int(drawn.sum()), "drawn_median": float(np.median(drawn)),
           "drawn_min": int(drawn.min()), "drawn_max": int(drawn.max()), "kendall_tau": float(tau.statistic),
           f"top{top}_overlap": len(_top(f, top) & _top(o, top))}
    if "status" in o:
        res["status"] = {str(k): int(v) for k, v in o["status"].value_counts().sort_index().items()}
    return res


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="runs-auto")
    ap.add_argument("--space", default="paper-2layer")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--race", type=int, default=50)
    ap.add_argument("--top", type=int, default=50)
    ap.add_argument("--compare-only", action="store_true")
    a = ap.parse_args(argv)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    runs_path = out / "runs.json"
    runs = json.loads(runs_path.read_text()) if runs_path.exists() else {}
    plan = [("fixed", ["--samples", "100"]), ("auto", ["--samples", "auto"])]
    if a.race:
        plan.append(("race", ["--samples", "auto", "--race", str(a.race)]))
    for name, extra in plan:
        if not a.compare_only:
            _screen(name, out / f"{name}.sqlite", a.space, a.workers, extra, runs, out / "screen.log")
            runs_path.write_text(json.dumps(runs, indent=1))
    fixed = _frame(out / "fixed.sqlite")
    result = {"machine": machine_line(), "cpus": os.cpu_count(), "space": a.space, "top": a.top, "runs": runs,
              "compare": {}}
    for n in (25, 50):
        result["compare"][f"fixed S={n} (first {n} of the fixed run's MAEs)"] = compare(fixed, _refit(fixed, n), a.top)
    frames = {name: _frame(out / f"{name}.sqlite") for name, _ in plan[1:] if (out / f"{name}.sqlite").exists()}
    for name, df in frames.items():
        result["compare"][name] = compare(fixed, df, a.top)
    if "auto" in frames and "race" in frames:  # the race against the same rule without it: rows raced out of the top
        c = compare(frames["auto"], frames["race"], a.top)
        result["race_vs_auto"] = {"kendall_tau": c["kendall_tau"], f"top{a.top}_overlap": c[f"top{a.top}_overlap"]}
    (out / "auto_samples.json").write_text(json.dumps(result, indent=1))
    print(render(result))
    return result


def render(r: dict) -> str:
    """The Markdown section for ``bench/RESULTS.md``."""
    top = r["top"]
    lines = [f"`python -m bench.auto_samples` on {r['machine']}, `{r['space']}` (paper model, sine, threshold 0.01, "
             "bounds 0..2, seed 0), each screen with 2 workers in its own process, one after the other.", "",
             "| run | wall s | load avg start → end |", "|---|---|---|"]
    for name, run in r["runs"].items():
        lines.append(f"| {name}: `{run['command'].split(' screen ')[-1]}` | {run['seconds']:.0f} | "
                     f"{run['load_start']} → {run['load_end']} |")
    rows = next(iter(r["compare"].values()))["rows"]
    lines += ["", f"Against the fixed S = 100 run ({rows:,} rows, 100 samples each: {100 * rows:,} samples):", "",
              f"| | samples drawn | per row median (min..max) | Kendall τ of log p | top-{top} overlap | status |",
              "|---|---|---|---|---|---|"]
    for name, c in r["compare"].items():
        status = ", ".join(f"{k} {v}" for k, v in c.get("status", {}).items())
        lines.append(f"| {name} | {c['drawn_total']:,} | {c['drawn_median']:g} ({c['drawn_min']}..{c['drawn_max']}) | "
                     f"{c['kendall_tau']:.3f} | {c[f'top{top}_overlap']}/{top} | {status} |")
    if "race_vs_auto" in r:
        v = r["race_vs_auto"]
        lines += ["", f"The race against `auto` (the same rule without a race): Kendall τ {v['kendall_tau']:.3f}, "
                      f"top-{top} overlap {v[f'top{top}_overlap']}/{top}."]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
