"""search --objective readout and train --top --by readout: the stored readout score as what is optimised."""

from __future__ import annotations

import warnings

import optuna
import pytest

from mae_ort.data import sine_split
from mae_ort.errors import DataError
from mae_ort.results.store import open_store
from mae_ort.screening import grid, screen
from mae_ort.study.winners import train_top
from tests.conftest import one_line_error, run_cli

TINY = ["--units", "3:6", "--layers", "1", "--look-back", "1,4", "--samples", "6", "--quiet"]


def test_search_minimises_the_stored_readout(tmp_path, capsys):
    db = tmp_path / "r.sqlite"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        screen(grid(units="3:6", look_back="1,4"), store=db, samples=6, workers=1)  # rows without the score
    code, out, err = run_cli(capsys, "search", *TINY, "--trials", "8", "--sampler", "random", "--objective",
                             "readout", "--db", db, "--study", "ro")
    assert code == 0, err
    study = optuna.load_study(study_name="ro", storage=f"sqlite:///{db}")
    assert study.direction == optuna.study.StudyDirection.MINIMIZE
    with open_store(db) as st:
        f = st.frame().set_index("id")
    for t in study.trials:  # the reused rows got their readout (a pass of its own), the trial's value is it
        assert t.value == pytest.approx(f.loc[t.user_attrs["row_id"], "score_readout"])
        assert t.user_attrs["readout"] == pytest.approx(t.value)
    assert f.drawn.tolist() == [6] * len(f)  # MAEs untouched: no row resampled


def test_train_top_by_a_missing_score_says_how_to_compute_it(tmp_path, capsys):
    db = tmp_path / "r.sqlite"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        screen(grid(units="3:4", look_back="1"), store=db, samples=4, workers=1)
    with pytest.raises(DataError, match="--scores readout_keras"):
        train_top(db, k=1, by="readout_keras", split=sine_split(), epochs=1)
    line = one_line_error(*run_cli(capsys, "train", "--db", db, "--top", "1", "--by", "readout", "--epochs",
                                   "1")[::2])
    assert "no stored readout score" in line
