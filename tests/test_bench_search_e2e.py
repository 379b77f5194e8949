"""bench/search_e2e.py: the verdict and the table from hand-made results; a tiny end-to-end run (slow)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import search_e2e as E  # noqa: E402


def _run(side, budget, mae, seconds, epochs=(100, 100)):
    trainings = [{"trial": i, "units": "7", "look_back": 1, "val_loss": 1.0, "test_mae": mae, "epochs_run": e,
                  "seconds": 1.0} for i, e in enumerate(epochs)]
    return {"side": side, "budget": budget, "seconds": seconds, "trainings": trainings,
            "trained_epochs": sum(epochs), "trials": len(epochs),
            "chosen": {"units": "7", "look_back": 1, "val_loss": 1.0, "test_mae": mae}}


def _doc():
    seeds = [
        {"seed": 0, "runs": [_run("A", "epochs", 0.10, 100), _run("B", "epochs", 0.20, 90),
                             _run("B", "time", 0.05, 110, (100, 100, 60))]},
        {"seed": 1, "runs": [_run("A", "epochs", 0.30, 200), _run("B", "epochs", 0.30, 150),
                             _run("B", "time", 0.10, 210)]},
    ]
    return {"config": {"series": "sine", "top": 2}, "seeds": seeds, "test_points": 200,
            "baselines": {"persistence": 0.38, "train_mean": 0.64, "zero": 0.64}}


def test_verdict_counts_per_seed_wins_and_compares_means():
    text = E.verdict(E._summary_rows(_doc()["seeds"]), {})
    # same trainings: A mean 0.2, B mean 0.25; A lower on seed 0, tied on seed 1
    assert "At the same number of trainings, **no side wins on every seed**; A (MRS search + train top) has the " \
           "lower mean (test MAE 0.2 for A against 0.25 for B, means); per seed A is lower on 1, B on 0, tied on " \
           "1 of 2" in text
    # same wall time: B mean 0.075, lower on both seeds
    assert "At the same wall time, **B (TPE on training) wins** on every seed (test MAE 0.2 for A against 0.075 " \
           "for B, means); per seed A is lower on 0, B on 2, tied on 0 of 2" in text


def test_render_has_one_line_per_side_and_budget_with_means():
    md = E.render(_doc())
    lines = [ln for ln in md.splitlines() if ln.startswith("| A") or ln.startswith("| B")]
    assert len(lines) == 3
    a = lines[0]
    assert "**0.2000** (0.1000, 0.3000)" in a and "| 150 (100, 200) |" in a and "| 200 |" in a
    assert "**0.0750** (0.0500, 0.1000)" in lines[2] and "| 230 |" in lines[2] and "| 2.5 |" in lines[2]
    assert "persistence 0.3800, the training mean 0.6400" in md


@pytest.mark.slow
def test_tiny_run_chooses_by_validation_loss_and_writes_its_files(tmp_path):
    pytest.importorskip("keras")
    argv = ["--series", "sine", "--smoke", "--seeds", "0", "--trials", "4", "--samples", "5", "--top", "2",
            "--epochs", "2", "--layers", "1", "--units", "2:3", "--look-back", "1:2", "--out", str(tmp_path)]
    assert E.main(argv) == 0
    doc = json.loads((tmp_path / "e2e-sine.json").read_text())
    a, b_epochs, b_time = doc["seeds"][0]["runs"]
    for run in (a, b_epochs, b_time):
        best = min(run["trainings"], key=lambda t: t["val_loss"])
        assert run["chosen"]["val_loss"] == best["val_loss"] and run["chosen"]["test_mae"] == best["test_mae"]
    assert len(a["trainings"]) == len(b_epochs["trainings"]) == 2
    assert b_time["trainings"][:2] == b_epochs["trainings"] and b_time["seconds"] >= b_epochs["seconds"]
    assert a["seconds"] == pytest.approx(a["search_seconds"] + a["train_seconds"])
    assert (tmp_path / "e2e-sine.csv").read_text().count("\n") == 4
    assert "### sine" in (tmp_path / "e2e-sine.md").read_text()
