"""The rule that picks the target form a series' repeated trainings use (issue 29).

``python scripts/choose_form.py LEVEL_REPORT DELTA_REPORT [--out FILE]``

Every architecture of a series was screened and trained once under both target forms (``level``: the network
forecasts the next value; ``delta``: its change, added to the last value), each form into its own database and
report (``mae-ort report`` writes ``trained.csv`` and ``baselines.csv``).  Per study (depth) and form, the best
trained network *wins* when its test MAE is below both persistence's and the linear autoregression's (ridge on the
look-back window, at its best look-back among the study's: the strongest one a forecaster would fit).  The chosen
form wins in more studies; on a tie, the one whose studies have the lower median test MAE (the median over its
studies of each study's median over its finished trainings).  A study where no network finished training counts
as no win.  Prints the table and, on its last line, the form; ``--out`` also writes the table and the reason as
Markdown.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import pandas as pd

FORMS = ("level", "delta")


def study_rows(trained: pd.DataFrame, baselines: pd.DataFrame, form: str) -> pd.DataFrame:
    """One row per study (depth) of one form's report at its largest budget: ``n`` trained architectures,
    ``finished`` (a finite test MAE), ``best`` and ``median`` test MAE, ``persistence`` and ``ridge`` (the linear
    autoregression at its best look-back among the study's), and ``wins`` (best below both)."""
    pers = baselines[baselines.name == "persistence"].test_mae
    pers = float(pers.iloc[0]) if len(pers) and pd.notna(pers.iloc[0]) else math.nan
    ridge = baselines[baselines.name == "ridge_ar"].dropna(subset=["test_mae"])
    rows = []
    for depth, g in trained.groupby("depth", sort=True):
        g = g[g.epochs == g.epochs.max()]
        m = g["mae"].to_numpy(dtype=float)
        ok = m[np.isfinite(m)]
        r = ridge[ridge.look_back.isin(set(int(v) for v in g.look_back))].test_mae
        r = float(r.min()) if len(r) else math.nan
        best = float(ok.min()) if ok.size else math.nan
        rows.append(dict(form=form, depth=int(depth), n=len(g), finished=int(ok.size), best=best,
                         median=float(np.median(ok)) if ok.size else math.nan, persistence=pers, ridge=r,
                         wins=bool(ok.size) and best < pers and (not math.isfinite(r) or best < r)))
    return pd.DataFrame(rows, columns=["form", "depth", "n", "finished", "best", "median", "persistence", "ridge",
                                       "wins"])


def choose_form(rows: pd.DataFrame) -> tuple[str, str]:
    """The form whose best trained networks beat persistence and the linear autoregression in more studies; on a
    tie, the one with the lower median over its studies of their ``median`` test MAE (``level`` when that ties too).

    ``rows`` holds :func:`study_rows` of both forms.  Returns the form and a one-sentence reason.
    """
    if rows.empty:
        raise ValueError("no study of either form to choose from")
    wins = {f: int(rows[rows.form == f].wins.sum()) for f in FORMS}
    studies = {f: int((rows.form == f).sum()) for f in FORMS}
    med = {f: float(np.nanmedian(rows[rows.form == f]["median"].to_numpy(dtype=float)))
           if np.isfinite(rows[rows.form == f]["median"].to_numpy(dtype=float)).any() else math.inf for f in FORMS}
    said = ", ".join(f"{f} in {wins[f]} of {studies[f]}" for f in FORMS)
    if wins["level"] != wins["delta"]:
        form = max(FORMS, key=lambda f: wins[f])
        return form, (f"{form}: its best trained network beats persistence and the linear autoregression in more "
                      f"studies ({said})")
    form = "delta" if med["delta"] < med["level"] else "level"
    return form, (f"{form}: a tie in the studies whose best trained network beats persistence and the linear "
                  f"autoregression ({said}); {form} has the lower median test MAE ({med[form]:.4g} against "
                  f"{med['delta' if form == 'level' else 'level']:.4g})")


def load(folder: Path, form: str) -> pd.DataFrame:
    """:func:`study_rows` of one form's report folder (``trained.csv``, ``baselines.csv``); no ``trained.csv`` (the
    report could not be written: nothing trained): no study."""
    folder = Path(folder)
    if not (folder / "trained.csv").exists():
        return study_rows(pd.DataFrame(columns=["depth", "epochs", "mae", "look_back"]), pd.DataFrame(
            columns=["name", "test_mae", "look_back"]), form)
    trained = pd.read_csv(folder / "trained.csv")
    bl = folder / "baselines.csv"
    baselines = pd.read_csv(bl) if bl.exists() else pd.DataFrame(columns=["name", "test_mae", "look_back"])
    return study_rows(trained, baselines, form)


def markdown(rows: pd.DataFrame, reason: str) -> str:
    """The table of both forms' studies and the choice, as Markdown for the report's notes."""
    head = "| form | layers | trained | best test MAE | median | persistence | linear AR (best look-back) | wins |"
    lines = [head, "|---|---|---|---|---|---|---|---|"]
    for r in rows.itertuples():
        lines.append(f"| {r.form} | {r.depth} | {r.finished} of {r.n} | {r.best:.4f} | {r.median:.4f} | "
                     f"{r.persistence:.4f} | {r.ridge:.4f} | {'yes' if r.wins else 'no'} |")
    return ("**Target form** (every architecture trained once under both forms; `scripts/choose_form.py`): "
            f"{reason}. The repeated trainings below use it.\n\n" + "\n".join(lines) + "\n")


def main(argv: list[str]) -> str:
    out = None
    if "--out" in argv:
        i = argv.index("--out")
        out, argv = argv[i + 1], argv[:i] + argv[i + 2:]
    if len(argv) != 2:
        print("usage: python scripts/choose_form.py LEVEL_REPORT DELTA_REPORT [--out FILE]", file=sys.stderr)
        raise SystemExit(2)
    rows = pd.concat([load(Path(argv[0]), "level"), load(Path(argv[1]), "delta")], ignore_index=True)
    if rows.empty:
        print("choose_form: neither report has a trained network", file=sys.stderr)
        raise SystemExit(2)
    form, reason = choose_form(rows)
    print(rows.round(4).to_string(index=False))
    print(reason)
    if out:
        Path(out).write_text(markdown(rows, reason))
    print(form)
    return form


if __name__ == "__main__":
    main(sys.argv[1:])
