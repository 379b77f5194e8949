"""mae_ort.integrations.optuna: MRS as an objective of the user's own study (the store as cache), and enqueue_top."""

from __future__ import annotations

import warnings

import optuna
import pytest
from optuna.trial import TrialState

import mae_ort
from mae_ort.errors import DataError, InvalidParameterError, MaeOrtWarning
from mae_ort.integrations.optuna import enqueue_top, objective
from mae_ort.results.store import open_store
from mae_ort.screening import grid
from mae_ort.search import search
from mae_ort.search.space import SearchSpace

optuna.logging.set_verbosity(optuna.logging.WARNING)

SAMPLES = 5
GRID = grid(units="3:5", layers="1:2", look_back="1,3")
SERIES = mae_ort.sine(120)


def test_objective_scores_trials_by_mrs_and_reuses_the_store(tmp_path):
    db = tmp_path / "r.sqlite"
    f = objective(SERIES, GRID, samples=SAMPLES, store=db, seed=2)
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.RandomSampler(seed=0))
    study.optimize(f, n_trials=6)
    space = SearchSpace(GRID)
    for t in study.trials:
        row = space.from_params(t.params)
        ref = mae_ort.sample(SERIES, arch=row.arch, look_back=row.look_back, samples=SAMPLES, seed=2)
        assert t.value == pytest.approx(ref.log_p, rel=1e-12) and t.user_attrs["mean"] == pytest.approx(ref.mean)
    assert f.scorer.new_rows == len({t.user_attrs["row_id"] for t in study.trials}) == open_store(db).count()
    f.close()
    # a second loop on the same store samples nothing it already holds
    g = objective(SERIES, GRID, samples=SAMPLES, store=db, seed=2)
    again = optuna.create_study(direction="maximize", sampler=optuna.samplers.RandomSampler(seed=0))
    again.optimize(g, n_trials=6)
    assert g.scorer.new_rows == 0 and [t.value for t in again.trials] == [t.value for t in study.trials]
    g.close()


def test_objective_warns_when_the_study_goes_the_wrong_way_and_refuses_bad_input():
    f = objective(SERIES, GRID, samples=SAMPLES)
    study = optuna.create_study(direction="minimize")
    with pytest.warns(MaeOrtWarning, match="direction='maximize'"):
        study.optimize(f, n_trials=1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        study.optimize(f, n_trials=1)  # once
    with pytest.raises(InvalidParameterError, match="'objective' parameter of objective"):
        objective(SERIES, GRID, objective="median")
    with pytest.raises(DataError, match="look_back=3 needs at least 4"):
        objective(mae_ort.sine(3), GRID)


def test_enqueue_top_puts_the_best_screened_rows_first(tmp_path):
    db = tmp_path / "r.sqlite"
    df = mae_ort.screen(GRID, SERIES, store=db, samples=SAMPLES, workers=1)
    best = df.sort_values(["log_p", "log_p_exact", "mean"], ascending=[False, False, True]).head(3)
    study = optuna.create_study(direction="maximize")
    enqueued = enqueue_top(study, db, 3)
    assert [(p["depth"], p["look_back"]) for p in enqueued] == [(int(d), int(lb)) for d, lb in
                                                                zip(best["depth"], best["look_back"])]
    f = objective(SERIES, GRID, samples=SAMPLES, store=db)
    study.optimize(f, n_trials=3)
    assert [t.user_attrs["row_id"] for t in study.trials] == list(best["id"])
    assert all(t.user_attrs["cached"] for t in study.trials) and f.scorer.new_rows == 0
    # the user's own parameter names
    own = optuna.create_study()
    enqueue_top(own, db, 2, params=lambda row: {"layers": row["depth"], "width": row["u1"]})
    waiting = own.get_trials(states=(TrialState.WAITING,))
    assert [t.system_attrs["fixed_params"] for t in waiting] == [{"layers": int(d), "width": int(u)}
                                                                 for d, u in zip(best["depth"][:2], best["u1"][:2])]
    # into a search's own study: the enqueued rows run first
    kw = dict(trials=1, samples=SAMPLES, db=db, study="seeded", sampler="random")
    searched = search(GRID, SERIES, **kw)
    enqueue_top(searched, db, 3)
    searched = search(GRID, SERIES, **{**kw, "trials": 4})
    assert [t.user_attrs["row_id"] for t in searched.trials[1:]] == list(best["id"])


def test_enqueue_top_needs_a_choice_among_several_settings(tmp_path):
    db = tmp_path / "r.sqlite"
    mae_ort.screen(GRID, SERIES, store=db, samples=SAMPLES, workers=1)
    mae_ort.screen(GRID, SERIES, store=db, samples=SAMPLES, seed=1, workers=1)
    study = optuna.create_study(direction="maximize")
    with pytest.raises(DataError, match="rows of 2 settings"):
        enqueue_top(study, db, 2)
    sid = open_store(db).settings_frame()["settings_id"].iloc[1]
    assert len(enqueue_top(study, db, 2, settings=sid[:6])) == 2
    with pytest.raises(InvalidParameterError, match="'k' parameter of enqueue_top"):
        enqueue_top(study, db, 0)


def test_enqueue_top_by_a_stored_score_and_by_the_mae_tail(tmp_path):
    import numpy as np

    db = tmp_path / "r.sqlite"
    df = mae_ort.screen(GRID, SERIES, store=db, samples=SAMPLES, workers=1, scores=["readout_window"])
    want = df.sort_values("score_readout_window").head(3)
    study = optuna.create_study(direction="minimize")
    enqueue_top(study, db, 3, by="readout_window")
    waiting = study.get_trials(states=(TrialState.WAITING,))
    assert [t.user_attrs["row_id"] for t in waiting] == list(want["id"])
    assert [t.user_attrs["readout_window"] for t in waiting] == list(want["score_readout_window"])
    q05 = df.maes.map(lambda m: np.quantile(m, 0.05))
    study = optuna.create_study(direction="minimize")
    enqueue_top(study, db, 2, by="q05")
    assert [t.user_attrs["row_id"] for t in study.get_trials()] == list(df.id[q05.sort_values().index[:2]])
    with pytest.raises(InvalidParameterError, match="readout_window"):
        enqueue_top(study, db, 2, by="median")
