"""The rule that picks the default ranking score from the committed reports (issue 20).

``python scripts/default_score.py [docs/report-*]``

Over every study (trainer, depth) of the reports at its largest budget whose trained networks beat
the best trivial predictor (predicting 0, the training mean or persistence) on average, as each
report's verdict says, take each score's signed Spearman correlation with the trained test MAE
(+1: the score ranks the networks perfectly; ``-good`` of ``evidence.csv``); the default is the
score with the best median over those studies.  Prints the table and the choice.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pandas as pd

STUDY = re.compile(r"\*\*(\d+)-layer study, (\w+) trainer, (\d+) epochs[^*]*\*\*: the networks (beat|do not beat)")


def studies(folder: Path) -> pd.DataFrame:
    """Signed pooled Spearman of every score in each study of one report, and whether the networks learned."""
    ev = pd.read_csv(folder / "evidence.csv")
    ev = ev[(ev.scope == "pooled") & (ev.method == "spearman")]
    learned = {(int(d), t, int(e)): b == "beat" for d, t, e, b in STUDY.findall((folder / "README.md").read_text())}
    rows = []
    for (trainer, depth), g in ev.groupby(["trainer", "depth"]):
        e = int(g.epochs.max())
        for r in g[g.epochs == e].itertuples():
            rows.append({"report": folder.name, "trainer": trainer, "depth": int(depth), "epochs": e,
                         "score": r.score, "signed_spearman": -float(r.good), "n": int(r.n),
                         "learned": learned.get((int(depth), trainer, e))})
    return pd.DataFrame(rows)


def main(argv: list[str]) -> str:
    folders = [Path(a) for a in argv] or sorted(Path("docs").glob("report-*"))
    df = pd.concat([studies(f) for f in folders if (f / "evidence.csv").exists()], ignore_index=True)
    used = df[df.learned == True]  # noqa: E712  (None: the verdict did not say)
    table = used.pivot_table(index=["report", "trainer", "depth"], columns="score", values="signed_spearman")
    med = table.median().sort_values(ascending=False)
    pd.set_option("display.width", 200)
    print(table.round(2).to_string())
    print("\nmedian signed Spearman over the studies whose networks beat the trivial predictors:")
    print(med.round(3).to_string())
    best = str(med.index[0])
    print(f"\ndefault ranking score: {best}")
    return best


if __name__ == "__main__":
    main(sys.argv[1:])
