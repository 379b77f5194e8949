"""Readout scores stored with screened rows: the same values as computed alone, MAEs untouched, ranked by."""

from __future__ import annotations

import sqlite3
import warnings

import numpy as np
import pytest

from mae_ort.data import prepare, sine
from mae_ort.errors import InvalidParameterError
from mae_ort.results.store import open_store
from mae_ort.sampling import Sampler
from mae_ort.sampling.scores import readout_scores
from mae_ort.sampling.settings import SamplingSettings
from mae_ort.screening import grid, screen
from tests.conftest import one_line_error, run_cli

SPACE = dict(units="3:5", look_back="1,6")


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def test_stored_scores_equal_the_scores_computed_alone(tmp_path):
    db = tmp_path / "r.sqlite"
    plain = screen(grid(**SPACE), store=None, samples=8, workers=1)
    df = screen(grid(**SPACE), store=db, samples=8, workers=1, scores=("readout", "readout_keras", "lookback_ridge"))
    for a, b in zip(plain.maes, df.maes):  # the readout pass leaves the MAEs as they are, bit for bit
        assert np.array_equal(a, b)
    series = prepare(sine(), name="sine")
    sampler = Sampler(threads=1)
    for r in df.itertuples():
        row = grid(units=r.units, look_back=str(r.look_back))
        arch = next(iter(row)).arch
        want = readout_scores(arch, sampler.windows_of(series, r.look_back), SamplingSettings(samples=8, seed=0),
                              sampler=sampler)
        assert r.score_readout == pytest.approx(want["readout"], rel=1e-5)
        assert r.score_readout_keras == pytest.approx(want["readout_keras"], rel=1e-5)
        assert r.score_lookback_ridge == pytest.approx(want["lookback_ridge"], rel=1e-9)


def test_scores_added_later_do_not_resample(tmp_path):
    db = tmp_path / "r.sqlite"
    first = screen(grid(**SPACE), store=db, samples=8, workers=1)
    assert not [c for c in first.columns if c.startswith("score_")]  # a database without scores reads as before
    with sqlite3.connect(db) as conn:
        assert not conn.execute("SELECT 1 FROM sqlite_master WHERE name='scores'").fetchall()
    later = screen(grid(**SPACE), store=db, samples=8, workers=1, scores=["readout"])
    assert later.attrs["new_rows"] == 0
    assert all(np.array_equal(a, b) for a, b in zip(first.maes, later.maes))
    assert later.score_readout.notna().all()
    fresh = screen(grid(**SPACE), store=None, samples=8, workers=1, scores=["readout"])
    np.testing.assert_allclose(later.score_readout, fresh.score_readout, rtol=1e-6)  # pass of its own = same pass
    with open_store(db) as st:
        assert len(st.scores_frame()) == len(later)


def test_rank_by_a_stored_score(tmp_path, capsys):
    db = tmp_path / "r.sqlite"
    code, _, err = run_cli(capsys, "screen", "--units", "3:5", "--layers", "1", "--look-back", "1,6", "--samples",
                           "8", "--db", db, "--quiet", "--top", "0")
    assert code == 0, err
    code, _, err = run_cli(capsys, "rank", "--db", db)
    assert code == 0 and "ranked by log p" in err and "--scores readout" in err
    line = one_line_error(*run_cli(capsys, "rank", "--db", db, "--by", "readout")[::2])
    assert "no stored readout score" in line and "--scores readout" in line
    code, _, err = run_cli(capsys, "screen", "--units", "3:5", "--layers", "1", "--look-back", "1,6", "--samples",
                           "8", "--db", db, "--quiet", "--top", "0", "--scores", "all")
    assert code == 0, err
    code, out, _ = run_cli(capsys, "rank", "--db", db, "--by", "readout_keras")
    assert code == 0
    with open_store(db) as st:
        f = st.frame()
    want = f.sort_values("score_readout_keras").id.tolist()
    got = [int(line.split()[-1]) for line in out.strip().splitlines()[1:]]
    assert got == want
    code, out, err = run_cli(capsys, "rank", "--db", db)  # the default: readout, where stored
    assert code == 0 and not err
    ranked = [int(line.split()[-1]) for line in out.strip().splitlines()[1:]]
    assert ranked == f.sort_values("score_readout").id.tolist()
    line = one_line_error(*run_cli(capsys, "screen", "--units", "3", "--layers", "1", "--look-back", "1",
                                   "--db", db, "--scores", "all,bogus")[::2])
    assert "'bogus' (item 2)" in line
    assert "readout_keras" in one_line_error(*run_cli(capsys, "rank", "--db", db, "--by", "nope")[::2])


def test_bad_scores_and_too_short_series_are_refused_before_work(tmp_path):
    with pytest.raises(InvalidParameterError, match="stored scores"):
        screen(grid(units="3", look_back="1"), store=None, samples=4, scores=["nope"])
    from mae_ort.errors import DataError

    with pytest.raises(DataError, match="at least 2 windows"):
        screen(grid(units="3", look_back="2"), np.sin(np.arange(5.0)), store=tmp_path / "x.sqlite", samples=4,
               workers=1, scores=["readout"])
    assert not (tmp_path / "x.sqlite").exists()  # nothing stored half-way


def test_readout_window_and_forward_scores_stored_equal_those_computed_alone(tmp_path):
    from mae_ort.sampling.scores import scores_of

    db = tmp_path / "r.sqlite"
    first = screen(grid(units="3:4", look_back="2,6"), store=db, samples=8, workers=1)
    # rows stored without them get them from their own weights, their MAEs untouched
    later = screen(grid(units="3:4", look_back="2,6"), store=db, samples=8, workers=1,
                   scores=["readout_window", "naswot", "hidden_cov"])
    assert later.attrs["new_rows"] == 0 and all(np.array_equal(a, b) for a, b in zip(first.maes, later.maes))
    fresh = screen(grid(units="3:4", look_back="2,6"), store=None, samples=8, workers=1, scores=["readout_window"])
    np.testing.assert_allclose(later.score_readout_window, fresh.score_readout_window, rtol=1e-6)
    series = prepare(sine(), name="sine")
    sampler = Sampler(threads=1)
    for r in later.itertuples():
        arch = next(iter(grid(units=r.units, look_back=str(r.look_back)))).arch
        want = scores_of(arch, sampler.windows_of(series, r.look_back), None, settings=SamplingSettings(samples=8),
                         which=["readout_window", "hidden_cov", "naswot"], sampler=sampler)
        assert r.score_readout_window == pytest.approx(want["readout_window"], rel=1e-5)
        assert r.score_hidden_cov == pytest.approx(want["hidden_cov"], rel=1e-9)
        assert r.score_naswot == pytest.approx(want["naswot"], rel=1e-9)
