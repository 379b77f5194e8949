"""The rule that picks the default ranking score and the default target form from the committed reports (issue 29).

``python scripts/default_score.py [docs/report-*]``

A *study* is one trainer and depth of a report at its largest budget.  Its best trained network is the one with the
lowest test MAE, each network's MAE being the median over its seeds (``mae`` of ``trained.csv``); the study *counts*
when that network beats persistence (``baselines.csv``).  A study where no network finished training is skipped and
said so; a report without ``baselines.csv`` (written before the baselines existed, e.g. the paper's sine) is skipped
and said so.

* **Default ranking score**: over the counting studies of the reports (the series' final, repeated trainings), each
  score's signed Spearman correlation with the trained test MAE (``-good`` of ``evidence.csv``, pooled: +1 ranks the
  networks perfectly); the default is the score with the best median.
* **Default target form**: over the counting studies of every report's ``form-level/`` and ``form-delta/``
  (every architecture trained once under each form, ``scripts/reproduce_real.sh``), the form with more counting
  studies; on a tie, the one whose counting studies' best networks have the lower median error relative to
  persistence's (best MAE / persistence MAE).

Prints the tables and the two choices (the last two lines: ``default ranking score: ...``, ``default target
form: ...``).
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import pandas as pd


def study_table(trained: pd.DataFrame, baselines: pd.DataFrame) -> pd.DataFrame:
    """One row per study (trainer, depth) at its largest budget: ``finished`` networks, ``best`` (lowest median test
    MAE over the seeds), ``persistence``, ``relative`` (best / persistence) and ``beats`` (best below persistence;
    False where no network finished)."""
    pers = baselines[baselines.name == "persistence"].test_mae
    pers = float(pers.iloc[0]) if len(pers) and pd.notna(pers.iloc[0]) else math.nan
    rows = []
    for (trainer, depth), g in trained.groupby(["trainer", "depth"], sort=True):
        e = int(g.epochs.max())
        m = g[g.epochs == e]["mae"].to_numpy(dtype=float)
        ok = m[np.isfinite(m)]
        best = float(ok.min()) if ok.size else math.nan
        rows.append(dict(trainer=trainer, depth=int(depth), epochs=e, finished=int(ok.size), best=best,
                         persistence=pers, relative=best / pers if pers > 0 else math.nan,
                         beats=bool(ok.size) and best < pers))
    return pd.DataFrame(rows, columns=["trainer", "depth", "epochs", "finished", "best", "persistence", "relative",
                                       "beats"])


def read_report(folder: Path, say=print) -> pd.DataFrame | None:
    """:func:`study_table` of one report folder, or None (said why) when it lacks its trained rows or baselines.
    Studies where no network finished are said and kept (they never count)."""
    folder = Path(folder)
    missing = [f for f in ("trained.csv", "baselines.csv") if not (folder / f).exists()]
    if missing:
        say(f"skipped {folder}: no {' or '.join(missing)}")
        return None
    t = study_table(pd.read_csv(folder / "trained.csv"), pd.read_csv(folder / "baselines.csv"))
    for r in t[t.finished == 0].itertuples():
        say(f"skipped {folder} {r.depth}-layer study ({r.trainer} trainer): no network finished training")
    return t.assign(report=str(folder))


def pick_score(studies: pd.DataFrame, evidence: pd.DataFrame) -> tuple[str, pd.Series]:
    """The score with the best median signed pooled Spearman over the counting studies.

    ``studies``: :func:`study_table` rows with ``report``; ``evidence``: the reports' ``evidence.csv`` rows with
    ``report``.  Returns the score and every score's median (best first).  Raises ValueError when no study counts.
    """
    used = studies[studies.beats]
    if used.empty:
        raise ValueError("no study whose best trained network beats persistence: no evidence to choose a score")
    ev = evidence[(evidence.scope == "pooled") & (evidence.method == "spearman")]
    ev = ev.merge(used[["report", "trainer", "depth", "epochs"]], on=["report", "trainer", "depth", "epochs"])
    signed = ev.assign(signed=-ev.good.astype(float)).dropna(subset=["signed"])
    med = signed.groupby("score").signed.median().sort_values(ascending=False, kind="stable")
    if med.empty:
        raise ValueError("the counting studies have no score correlations")
    return str(med.index[0]), med


def pick_form(forms: pd.DataFrame) -> tuple[str, str]:
    """The target form with more counting studies in ``forms`` (:func:`study_table` rows with a ``form`` column);
    on a tie the lower median ``relative`` over its counting studies (``level`` when that ties too, or when no
    study counts).  Returns the form and a one-line reason."""
    n = {f: int(forms[(forms.form == f) & forms.beats].shape[0]) for f in ("level", "delta")}
    total = {f: int((forms.form == f).sum()) for f in ("level", "delta")}
    said = f"level beats persistence in {n['level']} of {total['level']} studies, delta in {n['delta']} of " \
           f"{total['delta']}"
    if n["level"] != n["delta"]:
        return max(n, key=n.get), said
    rel = {f: float(forms[(forms.form == f) & forms.beats].relative.median()) if n[f] else math.inf
           for f in ("level", "delta")}
    form = "delta" if rel["delta"] < rel["level"] else "level"
    return form, said + f"; tie: median error relative to persistence {rel['level']:.3f} (level) against " \
        f"{rel['delta']:.3f} (delta)"


def main(argv: list[str]) -> tuple[str, str]:
    folders = [Path(a) for a in argv] or sorted(p for p in Path("docs").glob("report-*") if p.is_dir())
    studies, evidence, forms = [], [], []
    for f in folders:
        t = read_report(f)
        if t is not None:
            studies.append(t)
            evidence.append(pd.read_csv(f / "evidence.csv").assign(report=str(f)))
        for form in ("level", "delta"):
            if (f / f"form-{form}").is_dir():
                ft = read_report(f / f"form-{form}")
                if ft is not None:
                    forms.append(ft.assign(form=form))
    if not studies:
        print("no report with trained rows and baselines", file=sys.stderr)
        raise SystemExit(2)
    st = pd.concat(studies, ignore_index=True)
    pd.set_option("display.width", 200)
    print(st.round(4).to_string(index=False))
    score, med = pick_score(st, pd.concat(evidence, ignore_index=True))
    print("\nmedian signed Spearman over the studies whose best trained network beats persistence:")
    print(med.round(3).to_string())
    if forms:
        fm = pd.concat(forms, ignore_index=True)
        form, why = pick_form(fm)
    else:
        form, why = "level", "no form-level/ or form-delta/ reports: the paper's form"
    print(f"\ntarget form: {why}")
    print(f"default ranking score: {score}")
    print(f"default target form: {form}")
    return score, form


if __name__ == "__main__":
    main(sys.argv[1:])
