"""The store contract: idempotent upserts, resume keys, separate settings, schema checks, pickling."""

from __future__ import annotations

import math
import pickle
import re
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from mae_ort.errors import StoreError
from mae_ort.model.architecture import Architecture
from mae_ort.results import store as store_mod
from mae_ort.results.store import SCHEMA_VERSION, Settings, SQLiteStore, Store, open_store
from mae_ort.sampling.sampler import SamplingResult


def settings(**kw) -> Settings:
    base = dict(series="sine", series_fingerprint="abc123", samples=5, threshold=0.01, lower=0.0, upper=2.0,
                fit="moments", init="normal:0,1", seed=0)
    base.update(kw)
    return Settings(**base)


def result(units=(3,), look_back=1, *, mean=0.5, seed=11, maes=None, log_p=-12.5, log_p_exact=-12.5) -> SamplingResult:
    maes = np.array([0.4, 0.5, 0.6, 0.45, 0.55]) if maes is None else np.asarray(maes, dtype=float)
    return SamplingResult(
        arch=Architecture(units), look_back=look_back, samples=len(maes), seed=seed, threshold=0.01, lower=0.0,
        upper=2.0, fit="moments", init="normal:0,1", maes=maes, mean=mean, sd=0.1, loc=mean, scale=0.1, p=1e-6,
        log_p=log_p, log_p_exact=log_p_exact, n_nonfinite=0, n_outside=0, seconds=0.25, runtime="onnxruntime",
        device="cpu", series="sine", windows=999,
    )


@pytest.fixture(params=["file", "memory"])
def store(request, tmp_path):
    s = open_store(tmp_path / "r.sqlite") if request.param == "file" else open_store(None)
    yield s
    s.close()


def test_new_store_is_stamped(tmp_path):
    s = open_store(tmp_path / "r.sqlite")
    assert isinstance(s, SQLiteStore) and isinstance(s, Store)
    meta = s.meta
    assert meta["schema_version"] == str(SCHEMA_VERSION) and meta["package_version"] and meta["created"]
    mode = sqlite3.connect(tmp_path / "r.sqlite").execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"


def test_settings_id_ignores_the_label_only():
    a = settings()
    assert a.id == settings(series="renamed").id and len(a.id) == 16
    for change in (dict(samples=6), dict(threshold=0.02), dict(lower=0.1), dict(upper=1.0), dict(fit="mle"),
                   dict(init="uniform:-1,1"), dict(seed=1), dict(series_fingerprint="other")):
        assert settings(**change).id != a.id, change


def test_upsert_is_idempotent_and_first_write_wins(store):
    sid = store.add_settings(settings())
    assert store.add_settings(settings()) == sid
    rs = [result((3,), 1), result((4, 2), 2)]
    assert store.add_results(sid, rs) == 2
    assert store.add_results(sid, rs) == 0
    assert store.add_results(sid, [result((3,), 1, mean=0.9)]) == 0  # finished rows are immutable
    df = store.frame(sid)
    assert len(df) == 2 and df.loc[df.units == "3", "mean"].item() == 0.5


def test_done_keys_and_resume(store):
    sid = store.add_settings(settings())
    store.add_results(sid, [result((3,), 1), result((4, 2), 2)])
    assert store.done_keys(sid) == {("lstm", "tanh", "sigmoid", "tanh", "3", 1),
                                    ("lstm", "tanh", "sigmoid", "tanh", "4,2", 2)}
    assert store.done_keys("nope") == set()


def test_different_settings_add_rows(store):
    a = store.add_settings(settings())
    b = store.add_settings(settings(samples=7))
    assert a != b
    store.add_results(a, [result((3,), 1)])
    store.add_results(b, [result((3,), 1)])
    assert store.count() == 2 and store.count(a) == 1 and len(store.frame(b)) == 1
    sf = store.settings_frame()
    assert set(sf.settings_id) == {a, b} and list(sf.rows) == [1, 1]


def test_unknown_settings_are_refused_atomically(store):
    with pytest.raises(StoreError, match="unknown settings"):
        store.add_results("0000", [result()])
    assert store.count() == 0


def test_frame_round_trips_values(store):
    sid = store.add_settings(settings())
    maes = np.array([0.1, np.inf, 0.3, np.nan, 0.123456789012345])
    store.add_results(sid, [result((5, 4, 3, 2), 7, maes=maes, mean=float("nan"), log_p=-690.7755,
                                   log_p_exact=-math.inf)])
    df = store.frame(sid, maes=True)
    row = df.iloc[0]
    np.testing.assert_array_equal(row.maes, maes)  # bit-exact, inf and nan kept
    assert row.maes.dtype == np.float64
    assert math.isnan(row["mean"]) and row.log_p_exact == -math.inf and row.log_p == -690.7755
    assert (row.depth, row.u1, row.u2, row.u3, row.u4) == (4, 5, 4, 3, 2)
    assert row.look_back == 7 and row.seed == 11 and row.sweep_seed == 0 and row.samples == 5
    assert isinstance(row.id, (int, np.integer)) and row.runtime == "onnxruntime" and row.windows == 999
    assert "maes" not in store.frame(sid).columns


def test_frame_filters(store):
    sid = store.add_settings(settings())
    store.add_results(sid, [result((3,), 1), result((3,), 2), result((4, 4), 2)])
    assert len(store.frame(sid, look_back=2)) == 2
    assert len(store.frame(sid, look_back=[1, 2], depth=2)) == 1
    assert len(store.frame(None)) == 3


def test_row_ids_are_stable(tmp_path):
    s = open_store(tmp_path / "r.sqlite")
    sid = s.add_settings(settings())
    s.add_results(sid, [result((3,), 1), result((4,), 1)])
    before = dict(zip(s.frame(sid).units, s.frame(sid).id))
    s.add_results(sid, [result((5,), 1), result((3,), 1)])
    s.close()
    after = open_store(tmp_path / "r.sqlite").frame(sid)
    assert {u: i for u, i in zip(after.units, after.id) if u in before} == before
    assert after.id.is_unique


def test_transaction_rolls_back_and_wraps_driver_errors(tmp_path):
    s = open_store(tmp_path / "r.sqlite")
    sid = s.add_settings(settings())
    with pytest.raises(RuntimeError):
        with s._transaction() as conn:
            conn.execute("DELETE FROM sampling")
            conn.execute("INSERT INTO meta (key, value) VALUES ('x', 'y')")
            raise RuntimeError("boom")
    assert "x" not in s.meta
    with pytest.raises(StoreError) as e:
        with s._transaction() as conn:
            conn.execute("INSERT INTO nowhere VALUES (1)")
    assert isinstance(e.value.__cause__, sqlite3.Error)
    assert s.count(sid) == 0


def test_reopen_keeps_rows(tmp_path):
    path = tmp_path / "r.sqlite"
    with open_store(path) as s:
        sid = s.add_settings(settings())
        s.add_results(sid, [result()])
    with open_store(path, create=False) as s:
        assert s.count(sid) == 1


def test_missing_file_without_create(tmp_path):
    with pytest.raises(StoreError, match="no results database"):
        open_store(tmp_path / "missing.sqlite", create=False)
    assert not (tmp_path / "missing.sqlite").exists()
    with pytest.raises(StoreError, match="does not exist"):
        open_store(tmp_path / "no" / "dir" / "r.sqlite")
    with pytest.raises(StoreError, match="folder"):
        open_store(tmp_path)


def test_not_a_sqlite_file(tmp_path):
    p = tmp_path / "notes.sqlite"
    p.write_text("hello, this is not a database at all")
    with pytest.raises(StoreError, match="not a SQLite database"):
        open_store(p)
    assert p.read_text().startswith("hello")  # left alone


def test_sqlite_of_another_program(tmp_path):
    p = tmp_path / "other.sqlite"
    con = sqlite3.connect(p)
    con.execute("CREATE TABLE users (name TEXT)")
    con.commit()
    con.close()
    with pytest.raises(StoreError, match="another program"):
        open_store(p)


def test_newer_schema_is_refused_with_the_remedy(tmp_path):
    p = tmp_path / "r.sqlite"
    open_store(p).close()
    con = sqlite3.connect(p)
    con.execute("UPDATE meta SET value='99' WHERE key='schema_version'")
    con.commit()
    con.close()
    with pytest.raises(StoreError, match=r"schema version 99.*upgrade mae-ort"):
        open_store(p)


def test_older_schema_without_migration_is_refused(tmp_path):
    p = tmp_path / "r.sqlite"
    open_store(p).close()
    con = sqlite3.connect(p)
    con.execute("UPDATE meta SET value='0' WHERE key='schema_version'")
    con.commit()
    con.close()
    with pytest.raises(StoreError, match="schema version 0.*cannot upgrade"):
        open_store(p)


def test_registered_migration_upgrades_in_place(tmp_path, monkeypatch):
    p = tmp_path / "r.sqlite"
    with open_store(p) as s:
        sid = s.add_settings(settings())
        s.add_results(sid, [result()])
    monkeypatch.setattr(store_mod, "SCHEMA_VERSION", SCHEMA_VERSION + 1)
    create = "CREATE TABLE training (sampling_id INTEGER REFERENCES sampling(id))"
    monkeypatch.setitem(store_mod.MIGRATIONS, SCHEMA_VERSION, lambda conn: conn.execute(create))
    with open_store(p) as s:
        assert s.meta["schema_version"] == str(SCHEMA_VERSION + 1)
        assert s.count(sid) == 1
        assert s._read("SELECT COUNT(*) FROM training")[0][0] == 0


def test_pickle_reopens_lazily(tmp_path):
    s = open_store(tmp_path / "r.sqlite")
    sid = s.add_settings(settings())
    s.add_results(sid, [result()])
    copy = pickle.loads(pickle.dumps(s))
    assert copy._conn is None
    assert copy.count(sid) == 1 and copy.path == s.path
    with pytest.raises(StoreError, match="in-memory"):
        pickle.dumps(open_store(None))


def test_open_store_resolver(tmp_path):
    s = open_store(None)
    assert s.in_memory and open_store(s) is s
    t = open_store(f"sqlite:///{tmp_path / 'x.sqlite'}")
    assert t.path == str(tmp_path / "x.sqlite")
    with pytest.raises(StoreError):
        open_store(42)
    with pytest.raises(StoreError):
        open_store("")


def test_two_handles_on_one_file_do_not_mix_or_duplicate(tmp_path):
    p = tmp_path / "r.sqlite"
    a, b = open_store(p), open_store(p)
    sid = a.add_settings(settings())
    b.add_settings(settings())
    assert a.add_results(sid, [result((3,), 1)]) == 1
    assert b.add_results(sid, [result((3,), 1), result((4,), 1)]) == 1
    assert a.count(sid) == 2


SCHEMA3 = Path(__file__).parent / "data" / "schema3.sqlite"  # written by mae-ort at schema 3 (before "auto")


def test_schema_3_database_is_upgraded_and_its_rows_kept(tmp_path):
    """A real schema-3 database (4 rows of samples=5): upgraded in place, every row fixed with 5 samples drawn, and
    the same fixed settings keep their id (a rerun resumes: nothing new), while samples='auto' gets its own."""
    import shutil

    import mae_ort
    from mae_ort.screening import grid

    p = tmp_path / "old.sqlite"
    shutil.copy(SCHEMA3, p)
    assert sqlite3.connect(p).execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()[0] == "3"
    with open_store(p, readonly=True) as s:  # a writable old file: upgraded first, then read
        assert s.meta["schema_version"] == str(SCHEMA_VERSION) == "5"
        df = s.frame(maes=True)
        sets = s.settings_frame()
    assert len(df) == 4 and (df.drawn == 5).all() and (df.status == "fixed").all()
    assert [len(m) for m in df.maes] == [5] * 4 and list(sets.auto) == [""]
    assert list(sets.target_form) == ["level"] and set(df.target_form) == {"level"}
    space = grid(units="3:4", layers="1", look_back="1,2", preset="paper")
    again = mae_ort.screen(space, mae_ort.sine(60), samples=5, workers=1, store=p)
    assert again.attrs["new_rows"] == 0 and again.attrs["settings_id"] == sets.settings_id.iloc[0]
    assert np.array_equal(np.stack(again.maes), np.stack(df.maes))
    auto = mae_ort.screen(space, mae_ort.sine(60), samples="auto:round=5,max=10", workers=1, store=p)
    assert auto.attrs["new_rows"] == 4 and auto.attrs["settings_id"] != sets.settings_id.iloc[0]
    assert set(auto.status) <= {"converged", "maximum"} and set(auto.drawn) <= {5, 10}
    assert all(np.array_equal(a[:5], b) for a, b in zip(auto.maes, df.maes))  # the same first samples


def test_auto_settings_have_their_own_id_and_fixed_ids_are_unchanged():
    import hashlib
    import json
    from dataclasses import asdict

    fixed = settings(seeding=2)
    d = asdict(fixed)
    d.pop("series")
    d.pop("auto")  # a fixed samples hashes as before "auto" existed
    d.pop("target_form")  # and level as before the target form existed
    assert fixed.id == hashlib.sha256(json.dumps(d, sort_keys=True, separators=(",", ":")).encode()).hexdigest()[:16]
    auto = settings(samples="auto")
    assert auto.samples == 400 and auto.id != fixed.id != settings(samples=400).id
    assert settings(samples="auto:tol=0.4").id != auto.id
    assert settings(samples="auto", auto="").auto == auto.auto


def test_rows_record_samples_drawn_and_status(store):
    sid = store.add_settings(settings(samples="auto:round=5,max=10"))
    r = result(maes=np.linspace(0.3, 0.6, 10))
    r.status = "raced"
    store.add_results(sid, [r])
    df = store.frame(sid)
    assert (df.drawn.iloc[0], df.status.iloc[0], df.samples.iloc[0]) == (10, "raced", 10)
    assert df.auto.iloc[0] == "auto:round=5,max=10,tol=0.5,rel=0.5,mean=0.1"


# -- damaged data is named on the way in (issue 21) ----------------------------------------------
def _two_rows(path) -> str:
    with open_store(path) as s:
        sid = s.add_settings(settings())
        s.add_results(sid, [result((3,)), result((4,))])
    return sid


def _damage(path, *statements) -> None:
    con = sqlite3.connect(path)  # foreign keys off: what another tool (or a broken copy) may do
    for st in statements:
        con.execute(*st) if isinstance(st, tuple) else con.execute(st)
    con.commit()
    con.close()


@pytest.mark.parametrize("cut, message", [(3, r"maes blob of 37 bytes, not a whole number of float64"),
                                          (8, r"holds 4 MAEs but drew 5")])
def test_a_maes_blob_of_the_wrong_length_names_the_database_and_the_row(tmp_path, cut, message):
    p = tmp_path / "r.sqlite"
    _two_rows(p)
    blob = sqlite3.connect(p).execute("SELECT maes FROM sampling WHERE id=2").fetchone()[0]
    _damage(p, ("UPDATE sampling SET maes=? WHERE id=2", (blob[:-cut],)))
    with open_store(p) as s:
        assert len(s.frame()) == 2  # the statistics alone are read as they are
        with pytest.raises(StoreError, match=rf"{p.name}.*sampling row 2 .*{message}"):
            s.frame(maes=True)


def test_a_row_whose_settings_are_missing_names_the_database_and_the_row(tmp_path):
    p = tmp_path / "r.sqlite"
    sid = _two_rows(p)
    _damage(p, "DELETE FROM settings")
    with open_store(p) as s:
        for call in (lambda: s.frame(), lambda: s.frame(sid, maes=True)):  # never an empty frame
            with pytest.raises(StoreError, match=rf"{p.name}.*sampling row 1 refers to settings id '{sid}', which is "
                                                 "not in the settings table"):
                call()


def test_a_trained_row_whose_sampling_row_is_missing_is_named(tmp_path):
    p = tmp_path / "r.sqlite"
    _two_rows(p)
    with open_store(p) as s:
        s.add_trained([dict(sampling_id=2, split_key="k", train_key="t", seed=0, epochs=1, max_epochs=1, test_mae=0.1,
                            epochs_run=1, best_epoch=1, train_seconds=1.0, split="{}", train_settings="{}")])
        assert len(s.trained_frame()) == 1
    _damage(p, "DELETE FROM sampling WHERE id=2")
    with open_store(p) as s, pytest.raises(StoreError, match=r"trained row 1 refers to sampling row 2"):
        s.trained_frame()


@pytest.mark.parametrize("damage, message", [
    (("UPDATE sampling SET maes=substr(maes, 1, 13) WHERE id=2",), r"sampling row 2 has a maes blob of 13 bytes"),
    (("DELETE FROM settings",), r"sampling row 1 refers to settings id"),
    (("UPDATE meta SET value='99' WHERE key='schema_version'",), r"schema version 99 .*upgrade mae-ort"),
])
def test_cli_names_damaged_data_in_one_line(tmp_path, capsys, damage, message):
    from tests.conftest import one_line_error, run_cli

    p = tmp_path / "r.sqlite"
    _two_rows(p)
    _damage(p, *damage)
    commands = [["export", "--db", p, "--out", tmp_path / "rows.csv"]]
    if "maes" not in damage[0]:  # rank reads no MAEs
        commands.append(["rank", "--db", p])
    for args in commands:
        code, out, err = run_cli(capsys, *args)
        line = one_line_error(code, err)
        assert str(p) in line and re.search(message, line), line
    assert not (tmp_path / "rows.csv").exists()


def test_readout_window_is_stored_with_its_row_and_read_back(store):
    sid = store.add_settings(settings())
    a, b = result((3,)), result((4,))
    a.scores.update(readout=0.25, readout_window=0.125)
    b.scores.update(readout=0.5, readout_window=math.inf)  # an overflowed readout reads back as +inf
    assert store.add_results(sid, [a, b]) == 2
    df = store.frame(sid).set_index("units")
    assert df.loc["3", "score_readout_window"] == 0.125 and df.loc["3", "score_readout"] == 0.25
    assert df.loc["4", "score_readout_window"] == math.inf
    # added later to a stored row (screen --scores readout_window on an older database): kept once
    c = result((5,))
    store.add_results(sid, [c])
    cid = int(store.frame(sid).set_index("units").loc["5", "id"])
    assert store.add_scores([(cid, "readout_window", 0.75)]) == 1
    assert store.add_scores([(cid, "readout_window", 0.9)]) == 0  # the first write wins
    assert store.frame(sid).set_index("units").loc["5", "score_readout_window"] == 0.75


# -- the target form ---------------------------------------------------------------------------------
def test_level_settings_keep_their_ids_and_delta_gets_its_own():
    """The schema-3 fixture's settings id was computed by mae-ort before the target form existed: the same
    settings give the same id today (level is kept out of the hash), and delta settings another."""
    stored = sqlite3.connect(SCHEMA3).execute(
        "SELECT settings_id, series, series_fingerprint, samples, threshold, lower, upper, fit, init, seed, seeding "
        "FROM settings").fetchall()
    assert len(stored) == 1
    sid, series, fp, samples, threshold, lower, upper, fit, init, seed, seeding = stored[0]
    assert sid == "b1c66c62453480fa"
    same = Settings(series=series, series_fingerprint=fp, samples=samples, threshold=threshold, lower=lower,
                    upper=upper, fit=fit, init=init, seed=seed, seeding=seeding)
    assert same.target_form == "level" and same.id == sid
    delta = same.replace(target_form="delta")
    assert delta.id != sid and delta.replace(target_form="level").id == sid


def test_delta_rows_live_beside_level_rows(store):
    level, delta = settings(), settings(target_form="delta")
    a, b = store.add_settings(level), store.add_settings(delta)
    assert a != b
    store.add_results(a, [result((3,), 1)])
    store.add_results(b, [result((3,), 1)])
    sf = store.settings_frame().set_index("settings_id")
    assert sf.loc[a, "target_form"] == "level" and sf.loc[b, "target_form"] == "delta"
    assert list(store.frame(b).target_form) == ["delta"] and list(store.frame(a).target_form) == ["level"]


def test_a_target_form_this_version_does_not_know_is_one_line(tmp_path):
    from mae_ort.errors import StoreError

    p = tmp_path / "r.sqlite"
    with open_store(p) as s:
        sid = s.add_settings(settings())
        s.add_results(sid, [result()])
    con = sqlite3.connect(p)
    con.execute("UPDATE settings SET target_form = 'log_return'")
    con.commit()
    con.close()
    with open_store(p) as s:
        for read in (s.frame, s.settings_frame):
            with pytest.raises(StoreError, match="target form 'log_return', which this mae-ort") as e:
                read()
            assert "\n" not in str(e.value)


def test_schema_4_database_reads_as_level(tmp_path):
    """A schema-4 database (before the target form): upgraded in place, every settings row level, ids unchanged."""
    import shutil

    p = tmp_path / "old.sqlite"
    shutil.copy(SCHEMA3, p)
    with open_store(p):  # 3 -> 5
        pass
    con = sqlite3.connect(p)  # back to a schema-4 file: no target_form column
    con.execute("ALTER TABLE settings DROP COLUMN target_form")
    con.execute("UPDATE meta SET value='4' WHERE key='schema_version'")
    con.commit()
    con.close()
    with open_store(p) as s:
        assert s.meta["schema_version"] == "5"
        sets = s.settings_frame()
    assert list(sets.target_form) == ["level"] and list(sets.settings_id) == ["b1c66c62453480fa"]
