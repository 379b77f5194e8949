"""search(): trials scored by MRS through the store, one database file with Optuna, resuming, executors, bad input."""

from __future__ import annotations

import importlib.util
import subprocess
import sys

import numpy as np
import optuna
import pytest
from optuna.trial import TrialState

import mae_ort
from mae_ort.errors import DataError, InvalidParameterError, MaeOrtError, RuntimeUnavailableError, StoreError
from mae_ort.results.store import open_store
from mae_ort.screening import grid
from mae_ort.search.engine import OWNER, make_sampler, search
from mae_ort.search.scoring import Scorer
from mae_ort.search.space import SearchSpace

SAMPLES = 5
SEED = 4
GRID = grid(units="3:5", layers="1:2", look_back="1,3")  # 12 architectures x 2 look-backs = 24 rows
SERIES = mae_ort.sine(120)
KW = dict(samples=SAMPLES, seed=SEED)


def _stats(attrs):
    return {k: attrs[k] for k in ("mean", "sd", "p", "log_p", "log_p_exact", "n_outside")}


def _keyed(df):
    return {(r["units"], int(r["look_back"])): r for r in df.to_dict("records")}


def _snapshot(db, storage=None):
    """What a database holds: mae-ort rows by id, and every Optuna study's trials."""
    st = open_store(db, create=False, readonly=True)
    rows = st.frame()[["id", "units", "look_back", "log_p"]].to_dict("records")
    st.close()
    url = storage or f"sqlite:///{db}"
    studies = {s.study_name: [(t.number, t.state, t.value, t.params) for t in
                              optuna.load_study(study_name=s.study_name, storage=url).trials]
               for s in optuna.study.get_all_study_summaries(url)}
    return rows, studies


def test_trial_attributes_are_the_rows_mrs_with_the_rows_own_seed(tmp_path):
    study = search(GRID, SERIES, trials=6, db=tmp_path / "r.sqlite", **KW)
    assert study.direction == optuna.study.StudyDirection.MAXIMIZE
    space = SearchSpace(GRID)
    done = [t for t in study.trials if t.state == TrialState.COMPLETE]
    assert len(done) == 6
    stored = {r["id"]: r for r in open_store(tmp_path / "r.sqlite").frame().to_dict("records")}
    for t in done:
        row = space.from_params(t.params)
        ref = mae_ort.sample(SERIES, arch=row.arch, look_back=row.look_back, samples=SAMPLES, seed=SEED)
        a = t.user_attrs
        assert _stats(a) == pytest.approx({k: getattr(ref, k) for k in _stats(a)}, rel=1e-12, abs=0)
        assert t.value == a["log_p"] == pytest.approx(ref.log_p, rel=1e-12)
        assert (stored[a["row_id"]]["units"], stored[a["row_id"]]["look_back"]) == (row.units, row.look_back)
        assert a["n_nonfinite"] == ref.n_nonfinite and a["units"] == row.units and a["look_back"] == row.look_back


def test_a_search_with_samples_auto_scores_each_row_as_sample_does(tmp_path):
    auto = "auto:round=4,max=40,tol=2,rel=1,mean=1"  # on this grid rows stop after 4 to 28 samples
    study = search(GRID, SERIES, trials=5, db=tmp_path / "r.sqlite", samples=auto, seed=SEED)
    space = SearchSpace(GRID)
    done = [t for t in study.trials if t.state == TrialState.COMPLETE]
    assert len(done) == 5
    drawn = set()
    for t in done:
        row = space.from_params(t.params)
        ref = mae_ort.sample(SERIES, arch=row.arch, look_back=row.look_back, samples=auto, seed=SEED)
        assert t.value == pytest.approx(ref.log_p, rel=1e-12) and len(ref.maes) < 40
        assert _stats(t.user_attrs) == pytest.approx({k: getattr(ref, k) for k in _stats(t.user_attrs)}, rel=1e-12)
        drawn.add(len(ref.maes))
    assert len(drawn) > 1  # rows stopped after different numbers of rounds (a fixed count would not)


def test_search_reuses_screened_rows_and_screen_reuses_searched_ones(tmp_path):
    db = tmp_path / "r.sqlite"
    screened = _keyed(mae_ort.screen(GRID, SERIES, store=db, workers=1, **KW))
    study = search(GRID, SERIES, trials=10, db=db, sampler="random", **KW)
    assert study.user_attrs["mae_ort_last_run"]["new_rows"] == 0
    assert open_store(db).count() == 24
    for t in study.trials:
        ref = screened[(t.user_attrs["units"], t.user_attrs["look_back"])]
        assert t.user_attrs["row_id"] == ref["id"] and t.user_attrs["cached"] is True
        assert _stats(t.user_attrs) == {k: ref[k] for k in _stats(t.user_attrs)}

    other = tmp_path / "s.sqlite"  # the other order: search first, then screen the rest
    study = search(GRID, SERIES, trials=8, db=other, sampler="random", **KW)
    rows = {(t.user_attrs["units"], t.user_attrs["look_back"]): t.user_attrs for t in study.trials}
    assert study.user_attrs["mae_ort_last_run"]["new_rows"] == len(rows) == open_store(other).count()
    df = mae_ort.screen(GRID, SERIES, store=other, workers=1, **KW)
    assert df.attrs["new_rows"] == 24 - len(rows)
    again = _keyed(df)
    for key, a in rows.items():
        assert again[key]["id"] == a["row_id"]
        assert {k: again[key][k] for k in _stats(a)} == _stats(a) == {k: screened[key][k] for k in _stats(a)}


def test_the_study_lives_in_the_stores_file_and_both_open_in_either_order(tmp_path):
    db = tmp_path / "r.sqlite"
    search(GRID, SERIES, trials=4, db=db, study="shared", **KW)
    url = f"sqlite:///{db}"
    loaded = optuna.load_study(study_name="shared", storage=url)  # Optuna first, then the store
    st = open_store(db)
    assert len(loaded.trials) == 4 and st.count() == len({t.user_attrs["row_id"] for t in loaded.trials})
    from mae_ort.results.store import SCHEMA_VERSION

    assert st.meta["schema_version"] == str(SCHEMA_VERSION)
    st.close()
    st = open_store(db, readonly=True)  # the store first, then Optuna
    n = st.count()
    assert len(optuna.load_study(study_name="shared", storage=url).trials) == 4
    st.close()
    search(GRID, SERIES, trials=7, db=db, study="shared", **KW)  # and search again on it: it resumes
    assert len(optuna.load_study(study_name="shared", storage=url).trials) == 7 and open_store(db).count() >= n
    df = mae_ort.screen(GRID, SERIES, store=db, workers=1, **KW)  # screen still uses the file
    assert len(df) == 24


def test_a_file_optuna_made_is_refused_with_advice_and_left_alone(tmp_path):
    db = tmp_path / "optuna.db"
    url = f"sqlite:///{db}"
    own = optuna.create_study(study_name="theirs", storage=url)
    own.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=3)
    before = [(t.number, t.value) for t in optuna.load_study(study_name="theirs", storage=url).trials]
    with pytest.raises(StoreError, match=r"another program.*storage='sqlite:///"):
        search(GRID, SERIES, trials=2, db=db, **KW)
    assert [(t.number, t.value) for t in optuna.load_study(study_name="theirs", storage=url).trials] == before
    # the way out the message gives: mae-ort's rows elsewhere, the study in that file
    study = search(GRID, SERIES, trials=2, db=tmp_path / "rows.sqlite", storage=url, study="mine", **KW)
    assert len(study.trials) == 2 and len(optuna.load_study(study_name="theirs", storage=url).trials) == 3


def test_a_rerun_resumes_to_the_target_and_a_finished_study_adds_nothing(tmp_path):
    db = tmp_path / "r.sqlite"
    first = search(GRID, SERIES, trials=5, db=db, sampler="tpe", **KW)
    again = search(GRID, SERIES, trials=9, db=db, sampler="tpe", **KW)
    assert again.study_name == first.study_name and len(again.trials) == 9
    assert again.user_attrs["mae_ort_last_run"]["new_trials"] == 4
    done = search(GRID, SERIES, trials=9, db=db, sampler="tpe", **KW)
    assert done.user_attrs["mae_ort_last_run"]["new_trials"] == 0 and len(done.trials) == 9
    other = search(GRID, SERIES, trials=2, db=db, sampler="random", **KW)  # another sampler: another study
    assert other.study_name != first.study_name


def test_an_interrupted_search_keeps_finished_trials_leaves_none_running_and_resumes(tmp_path, monkeypatch):
    db = tmp_path / "r.sqlite"
    real = Scorer.score
    calls = []

    def flaky(self, row):
        calls.append(row)
        if len(calls) == 4:
            raise KeyboardInterrupt
        return real(self, row)

    monkeypatch.setattr(Scorer, "score", flaky)
    with pytest.raises(KeyboardInterrupt):
        search(GRID, SERIES, trials=6, db=db, study="s", **KW)
    monkeypatch.setattr(Scorer, "score", real)
    states = [t.state for t in optuna.load_study(study_name="s", storage=f"sqlite:///{db}").trials]
    assert states == [TrialState.COMPLETE] * 3 + [TrialState.FAIL]
    study = search(GRID, SERIES, trials=6, db=db, study="s", **KW)
    assert sum(t.state == TrialState.COMPLETE for t in study.trials) == 6 and len(study.trials) == 7


def test_trials_left_running_by_a_dead_process_are_marked_failed(tmp_path):
    db = tmp_path / "r.sqlite"
    study = search(GRID, SERIES, trials=2, db=db, study="s", **KW)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    import socket

    stale = study.ask()
    study._storage.set_trial_system_attr(stale._trial_id, OWNER, f"{socket.gethostname()}:{int(dead.stdout)}")
    alive = study.ask()  # this process's own: left alone
    study._storage.set_trial_system_attr(alive._trial_id, OWNER, f"{socket.gethostname()}:1")
    study = search(GRID, SERIES, trials=4, db=db, study="s", **KW)
    states = {t.number: t.state for t in study.trials}
    assert states[stale.number] == TrialState.FAIL and states[alive.number] == TrialState.RUNNING
    assert sum(s == TrialState.COMPLETE for s in states.values()) == 4


def test_another_objective_is_optimised_in_its_own_direction(tmp_path):
    # the one table of directions (mae_ort.sampling.scores.SCORES): a larger mean sampled MAE is better
    study = search(GRID, SERIES, trials=6, objective="mean", db=tmp_path / "r.sqlite", **KW)
    assert study.direction == optuna.study.StudyDirection.MAXIMIZE
    means = [t.user_attrs["mean"] for t in study.trials]
    assert study.best_value == max(means) and all(t.value == t.user_attrs["mean"] for t in study.trials)
    study = search(GRID, SERIES, trials=6, objective="q10", db=tmp_path / "r.sqlite", **KW)
    assert study.direction == optuna.study.StudyDirection.MINIMIZE
    with open_store(tmp_path / "r.sqlite") as st:
        maes = {int(r.id): r.maes for r in st.frame(maes=True).itertuples()}
    for t in study.trials:  # the 10th percentile of the row's stored MAEs, as scores_of computes it
        assert t.value == pytest.approx(float(np.quantile(maes[t.user_attrs["row_id"]], 0.10)), rel=1e-12)


def test_the_model_options_replace_the_grids(tmp_path):
    study = search(GRID, SERIES, trials=2, cell="gru", db=tmp_path / "r.sqlite", **KW)
    assert {t.user_attrs["cell"] for t in study.trials} == {"gru"}
    study = search(GRID, SERIES, trials=2, preset="paper", db=tmp_path / "r.sqlite", **KW)
    assert open_store(tmp_path / "r.sqlite").frame()["recurrent_activation"].iloc[-1] == "hard_sigmoid_keras2"


def _reference(rows, **extra):
    return _keyed(mae_ort.screen(mae_ort.screening.RowList(rows), SERIES, workers=1, **KW, **extra))


def test_worker_processes_give_the_same_rows(tmp_path):
    study = search(GRID, SERIES, trials=8, jobs=2, db=tmp_path / "r.sqlite", sampler="random", **KW)
    space = SearchSpace(GRID)
    assert sum(t.state == TrialState.COMPLETE for t in study.trials) == 8
    assert not any(t.state == TrialState.RUNNING for t in study.trials)
    ref = _reference([space.from_params(t.params) for t in study.trials])
    for t in study.trials:
        assert _stats(t.user_attrs) == {k: ref[(t.user_attrs["units"], t.user_attrs["look_back"])][k]
                                        for k in _stats(t.user_attrs)}
    rows = {t.user_attrs["row_id"] for t in study.trials}
    assert study.user_attrs["mae_ort_last_run"]["new_rows"] == len(rows) == open_store(tmp_path / "r.sqlite").count()


@pytest.mark.parametrize("seeding", [2, 1])
def test_a_dask_cluster_scores_the_trials(tmp_path, seeding):
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None) as c:
        study = search(GRID, SERIES, trials=6, jobs=3, scheduler=c.scheduler_address, db=tmp_path / "r.sqlite",
                       sampler="random", seeding=seeding, **KW)
    space = SearchSpace(GRID)
    ref = _reference([space.from_params(t.params) for t in study.trials], seeding=seeding)
    assert sum(t.state == TrialState.COMPLETE for t in study.trials) == 6
    for t in study.trials:
        assert _stats(t.user_attrs) == {k: ref[(t.user_attrs["units"], t.user_attrs["look_back"])][k]
                                        for k in _stats(t.user_attrs)}
    assert open_store(tmp_path / "r.sqlite").count() == len({t.user_attrs["row_id"] for t in study.trials})


# -- bad input: one clear error, nothing lost ---------------------------------------------------------------

@pytest.fixture
def used(tmp_path):
    db = tmp_path / "r.sqlite"
    search(GRID, SERIES, trials=3, db=db, study="s", **KW)
    return db


@pytest.mark.parametrize("kw,match", [
    (dict(sampler="cmaes"), r"The 'sampler' parameter of search must be one of 'tpe', 'gp', 'random', 'resn'"),
    (dict(objective="median"), r"The 'objective' parameter of search must be one of 'log_p'"),
    (dict(trials=0), r"The 'trials' parameter of search must be an int in the range \[1, inf\)\. Got 0 instead"),
    (dict(jobs=0), r"The 'jobs' parameter of search"),
])
def test_bad_parameters_are_one_clear_error(used, kw, match):
    before = _snapshot(used)
    with pytest.raises(InvalidParameterError, match=match):
        search(GRID, SERIES, **{**dict(trials=5, db=used, study="s"), **KW, **kw})
    assert _snapshot(used) == before


@pytest.mark.parametrize("url,match", [
    ("not a url", "cannot open the Optuna storage 'not a url'"),
    ("sqlite:////no/such/folder/x.db", "cannot open the Optuna storage 'sqlite:////no/such/folder/x.db'"),
    ("postgresql://me:secret@127.0.0.1:1/db", r"cannot open the Optuna storage 'postgresql://me:\*\*\*@127"),
])
def test_a_storage_that_cannot_be_opened_is_one_clear_error(tmp_path, url, match):
    db = tmp_path / "r.sqlite"
    with pytest.raises(StoreError, match=match) as e:
        search(GRID, SERIES, trials=2, db=db, storage=url, **KW)
    assert "secret" not in str(e.value) and "\n" not in str(e.value)
    assert not db.exists()  # checked before the store is created


def test_a_missing_database_driver_names_the_package_to_install(tmp_path, monkeypatch):
    """SQLAlchemy's PostgreSQL driver (psycopg or psycopg2, by its version) blocked: the line says what to install."""
    for module in ("psycopg", "psycopg2"):
        monkeypatch.setitem(sys.modules, module, None)
    db = tmp_path / "r.sqlite"
    with pytest.raises(StoreError, match=r"cannot open the Optuna storage 'postgresql://me@host/optuna': its database "
                                         r"driver is not installed \(No module named 'psycopg2?'\): pip install "
                                         r"'?psycopg") as e:
        search(GRID, SERIES, trials=2, db=db, storage="postgresql://me@host/optuna", **KW)
    assert "\n" not in str(e.value)
    assert not db.exists()


def test_an_unreachable_scheduler_is_refused_even_when_the_study_has_its_trials(used):
    """--scheduler is connected to first: a finished study does not hide a wrong address (nor a missing dask)."""
    pytest.importorskip("distributed")
    before = _snapshot(used)
    with pytest.raises(MaeOrtError, match=r"cannot reach the Dask scheduler at 'tcp://127.0.0.1:1' within 1 s"):
        search(GRID, SERIES, trials=3, db=used, study="s", scheduler="tcp://127.0.0.1:1", connect_timeout=1, **KW)
    assert _snapshot(used) == before


@pytest.mark.parametrize("change,match", [
    (dict(space=grid(units="3:5", layers="1:2", look_back="1,2")),
     r"a different space \(look_backs 1,3 there, 1,2 here\)"),
    (dict(samples=6), r"different settings \(samples 5 there, 6 here\)"),
    (dict(series=mae_ort.sine(130)), r"different settings \(the series \(its fingerprint differs\)\)"),
    (dict(objective="mean"),
     r"another objective \(log_p there, mean here\)"),
    (dict(objective="readout"),
     r"another objective \(log_p there, readout here\), another direction \(maximize there, minimize here\)"),
    (dict(space=grid(units="3:5", layers="1:2", look_back="1,3", cell="gru")), r"cells lstm there, gru here"),
])
def test_a_study_name_used_with_another_space_or_settings_is_refused(used, change, match):
    before = _snapshot(used)
    kw = {**dict(space=GRID, series=SERIES, trials=5, db=used, study="s"), **KW, **change}
    with pytest.raises(InvalidParameterError, match=match) as e:
        search(kw.pop("space"), kw.pop("series"), **kw)
    assert "choose a new study name" in str(e.value) and "'s'" in str(e.value)
    assert _snapshot(used) == before


def test_a_study_not_made_by_search_is_refused(tmp_path):
    db = tmp_path / "r.sqlite"
    open_store(db).close()
    optuna.create_study(study_name="plain", storage=f"sqlite:///{db}")
    with pytest.raises(InvalidParameterError, match="'plain' .* was not made by mae-ort search"):
        search(GRID, SERIES, trials=2, db=db, study="plain", **KW)


def test_a_look_back_too_long_for_the_series(tmp_path):
    with pytest.raises(DataError, match="look_back=3 needs at least 4"):
        search(GRID, mae_ort.sine(3), trials=2, db=tmp_path / "r.sqlite", **KW)


def test_gp_searches_the_grid_or_names_the_missing_package(tmp_path):
    """Optuna's GPSampler needs PyTorch (not a dependency): with it, a GP search runs; without it, one clear
    line names the package and nothing is written."""
    if importlib.util.find_spec("torch") is not None:
        study = search(GRID, SERIES, trials=4, sampler="gp", db=tmp_path / "r.sqlite", **KW)
        assert sum(t.state == TrialState.COMPLETE for t in study.trials) == 4
        return
    with pytest.raises(RuntimeUnavailableError, match=r"needs PyTorch: pip install torch"):
        make_sampler("gp", SearchSpace(GRID))
    with pytest.raises(RuntimeUnavailableError, match="pip install torch"):
        search(GRID, SERIES, trials=2, sampler="gp", db=tmp_path / "r.sqlite", **KW)
    assert not (tmp_path / "r.sqlite").exists()


def test_import_mae_ort_does_not_import_optuna_and_search_is_a_plain_package():
    code = ("import sys, types, mae_ort, mae_ort.cli; assert 'optuna' not in sys.modules; "
            "assert type(mae_ort.search) is types.ModuleType and 'optuna' not in sys.modules; "
            "from mae_ort.search import search; assert mae_ort.search.search is search and 'optuna' in sys.modules; "
            "from mae_ort.search.engine import search as s; assert s is search; "
            "import mae_ort.integrations.optuna as o; assert mae_ort.integrations.optuna is o and o.objective; "
            "assert 'integrations' in mae_ort.__all__ and 'optuna' not in mae_ort.__all__")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr


def test_the_same_seeds_give_the_same_trials(tmp_path):
    db = tmp_path / "r.sqlite"
    mae_ort.screen(GRID, SERIES, store=db, workers=1, **KW)  # every row stored: the searches only look up

    def params(sampler, seed):
        study = search(GRID, SERIES, trials=12, sampler=sampler, sampler_seed=seed, db=db,
                       storage=optuna.storages.InMemoryStorage(), **KW)
        return [t.params for t in study.trials]

    for sampler in ("tpe", "resn", "random"):
        assert params(sampler, 3) == params(sampler, 3) != params(sampler, 4)


_PROCESS = """
import sys, mae_ort
from mae_ort.screening import grid
mae_ort.search.search(grid(units="3:5", layers="1:2", look_back="1,3"), mae_ort.sine(120), trials=8, samples=5, seed=4,
                      db=sys.argv[1], study="together", sampler="random", sampler_seed=int(sys.argv[2]))
"""


def test_several_processes_work_on_one_study(tmp_path):
    db = tmp_path / "r.sqlite"
    search(GRID, SERIES, trials=1, db=db, study="together", sampler="random", **KW)  # both processes load it
    procs = [subprocess.Popen([sys.executable, "-c", _PROCESS, str(db), str(s)], stderr=subprocess.PIPE, text=True)
             for s in (1, 2)]
    for p in procs:
        assert p.wait(timeout=300) == 0, p.stderr.read()
    study = optuna.load_study(study_name="together", storage=f"sqlite:///{db}")
    owners = {t.system_attrs[OWNER] for t in study.trials}
    done = [t for t in study.trials if t.state == TrialState.COMPLETE]
    assert 8 <= len(done) <= 9 and len(owners) == 3  # each stops when the study has enough (one may overshoot by one)
    assert open_store(db).count() == len({t.user_attrs["row_id"] for t in done})


def test_delta_search_scores_delta_rows_under_their_own_study(tmp_path):
    db = tmp_path / "r.sqlite"
    level = search(GRID, SERIES, trials=2, db=db, **KW)
    delta = search(GRID, SERIES, trials=3, db=db, target_form="delta", **KW)
    assert delta.study_name != level.study_name  # the target form is part of the study's identity
    space = SearchSpace(GRID)
    for t in [t for t in delta.trials if t.state == TrialState.COMPLETE]:
        row = space.from_params(t.params)
        ref = mae_ort.sample(SERIES, arch=row.arch, look_back=row.look_back, samples=SAMPLES, seed=SEED,
                             target_form="delta")
        assert t.user_attrs["log_p"] == pytest.approx(ref.log_p, rel=1e-9)
    with open_store(db) as st:
        assert sorted(st.settings_frame().target_form) == ["delta", "level"]
    with pytest.raises(InvalidParameterError, match="cannot be 'sigmoid' with target_form='delta'"):
        search(grid(units="3", layers="1", look_back="1", head_activation="sigmoid"), SERIES, trials=1,
               db=tmp_path / "s.sqlite", target_form="delta", **KW)
    assert not (tmp_path / "s.sqlite").exists()
