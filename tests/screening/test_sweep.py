"""Screening: same results as the sampler, resumable, executor-independent, interruptible, on Dask."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import warnings
from pathlib import Path

import numpy as np
import pytest

import mae_ort
from mae_ort import Sampler, prepare, sine
from mae_ort.errors import DataError, InvalidParameterError, MaeOrtError
from mae_ort.results.store import open_store
from mae_ort.screening.space import MAX_ROWS, RowList, grid
from mae_ort.screening.sweep import OutsideBoundsWarning, screen
from tests.processes import alive, descendants, hold_env

TINY = dict(units="3:5", layers="1:2", look_back="1,2")  # 24 rows
SAMPLES = 5


@pytest.fixture(scope="module")
def tiny():
    return grid(**TINY)


@pytest.fixture(scope="module")
def inline_frame(tiny):
    return screen(tiny, samples=SAMPLES, seed=3, workers=1)


def test_rows_equal_direct_sampler_calls(tiny, inline_frame):
    """Seeding 2: every row is `sample` of its architecture with the sweep's seed, exactly (shared work or not)."""
    df = inline_frame
    assert len(df) == len(tiny) == 24
    assert list(zip(df.units, df.look_back)) == [(r.units, r.look_back) for r in tiny]  # the space's order
    series = prepare(sine(), name="sine")
    sampler = Sampler()
    for i in range(len(df)):
        row = list(tiny)[i]
        r = sampler.sample(series, row.arch, look_back=row.look_back, samples=SAMPLES, seed=3)
        got = df.iloc[i]
        assert got.seed == 3
        np.testing.assert_array_equal(got.maes, r.maes)
        assert got["mean"] == r.mean and got.log_p == r.log_p and got.p == r.p
    assert df.attrs["new_rows"] == 24 and df.attrs["settings_id"]
    alone = screen(tiny, samples=SAMPLES, seed=3, workers=1, share=False)
    for a, b in zip(df.maes, alone.maes):
        np.testing.assert_array_equal(a, b)


def test_seeding_1_rows_keep_their_own_seeds(tiny):
    df = screen(tiny, samples=SAMPLES, seed=3, workers=1, seeding=1)
    series = prepare(sine(), name="sine")
    for i in (0, 7, 23):
        row = list(tiny)[i]
        got = df.iloc[i]
        assert got.seed == row.seed(3)
        r = Sampler().run(series, row.arch, row.look_back,
                          mae_ort.sampling.SamplingSettings(samples=SAMPLES, seed=row.seed(3), seeding=1))
        np.testing.assert_array_equal(got.maes, r.maes)


def test_worker_processes_give_identical_maes(tiny, inline_frame):
    df = screen(tiny, samples=SAMPLES, seed=3, workers=2, batch_flops=0)  # one row per task, two processes
    assert list(df.units) == list(inline_frame.units)
    for a, b in zip(df.maes, inline_frame.maes):
        np.testing.assert_array_equal(a, b)


def test_batching_and_order_do_not_change_results(tiny, inline_frame):
    rev = RowList(list(tiny)[::-1])
    df = screen(rev, samples=SAMPLES, seed=3, workers=1, batch_flops=1e15)
    by_key = {(u, lb): m for u, lb, m in zip(df.units, df.look_back, df.maes)}
    for u, lb, m in zip(inline_frame.units, inline_frame.look_back, inline_frame.maes):
        np.testing.assert_array_equal(by_key[(u, lb)], m)


def test_resume_skips_finished_rows(tmp_path, tiny):
    db = tmp_path / "r.sqlite"
    part = tiny.subset(10, seed=0)
    first = screen(part, samples=SAMPLES, store=db, workers=1)
    assert first.attrs["new_rows"] == 10
    calls = []
    full = screen(tiny, samples=SAMPLES, store=db, workers=1, progress=lambda d, t: calls.append((d, t)))
    assert full.attrs["new_rows"] == 14 and len(full) == 24
    assert calls[0] == (0, 14) and calls[-1] == (14, 14)
    again = screen(tiny, samples=SAMPLES, store=db, workers=1)
    assert again.attrs["new_rows"] == 0
    old = first.set_index(["units", "look_back"])
    new = full.set_index(["units", "look_back"]).loc[old.index]
    assert list(new["id"]) == list(old["id"]) and list(new["created"]) == list(old["created"])


def test_other_settings_add_rows_to_the_same_store(tmp_path, tiny):
    db = tmp_path / "r.sqlite"
    a = screen(tiny, samples=SAMPLES, store=db, workers=1)
    b = screen(tiny, samples=SAMPLES + 1, store=db, workers=1)
    c = screen(tiny, samples=SAMPLES, store=db, workers=1, fit="mle")
    assert len({a.attrs["settings_id"], b.attrs["settings_id"], c.attrs["settings_id"]}) == 3
    assert open_store(db).count() == 72
    np.testing.assert_array_equal(np.stack(a.maes), np.stack(c.maes))  # same seeds, other fit


def test_bad_input(tiny):
    with pytest.raises(MaeOrtError, match="empty"):
        screen(RowList([]), samples=SAMPLES)
    with pytest.raises(DataError, match="look_back=30"):
        screen(grid(units="3", look_back="30"), np.sin(np.arange(20.0)), samples=SAMPLES)
    with pytest.raises(InvalidParameterError, match="'samples'"):
        screen(tiny, samples=1)
    with pytest.raises(InvalidParameterError, match="lower"):
        screen(tiny, lower=2, upper=1)
    with pytest.raises(InvalidParameterError, match="'workers'"):
        screen(tiny, workers=-1)
    with pytest.raises(InvalidParameterError, match="'progress'"):
        screen(tiny, samples=SAMPLES, workers=1, progress="yes")


def test_ctrl_c_keeps_finished_rows(tmp_path, tiny):
    db = tmp_path / "r.sqlite"

    def stop(done, total):
        if done >= 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        screen(tiny, samples=SAMPLES, store=db, workers=1, batch_flops=0, progress=stop)
    kept = open_store(db).frame(maes=True)
    assert len(kept) == 3 and all(len(m) == SAMPLES for m in kept.maes)
    assert screen(tiny, samples=SAMPLES, store=db, workers=1).attrs["new_rows"] == 21


def test_ctrl_c_stops_worker_processes(tmp_path, tiny):
    import multiprocessing

    db = tmp_path / "r.sqlite"

    def stop(done, total):
        if done >= 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        screen(tiny, samples=SAMPLES, store=db, workers=2, batch_flops=0, progress=stop)
    assert 2 <= open_store(db).count() < 24
    deadline = time.time() + 10
    while multiprocessing.active_children() and time.time() < deadline:
        time.sleep(0.1)
    assert not [p for p in multiprocessing.active_children() if "forkserver" not in p.name.lower()]


# -- Dask ---------------------------------------------------------------------------------------

def test_unreachable_scheduler_is_one_clear_error(tmp_path, tiny):
    pytest.importorskip("distributed")
    db = tmp_path / "r.sqlite"
    t0 = time.time()
    with pytest.raises(MaeOrtError, match="cannot reach the Dask scheduler at 'tcp://127.0.0.1:1'") as e:
        screen(tiny, samples=SAMPLES, store=db, scheduler="tcp://127.0.0.1:1", connect_timeout=1)
    assert "\n" not in str(e.value) and time.time() - t0 < 30
    assert not db.exists()  # connected before the database was created: nothing left behind


def test_dask_local_cluster_equals_local_run(tmp_path, tiny, inline_frame):
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None,
                                  silence_logs=40) as cluster:
        db = tmp_path / "r.sqlite"
        df = screen(tiny, samples=SAMPLES, seed=3, store=db, scheduler=cluster.scheduler_address, batch_flops=0)
        with distributed.Client(cluster) as client:  # a Client is accepted too; resuming finds everything done
            again = screen(tiny, samples=SAMPLES, seed=3, store=db, scheduler=client)
            assert client.status == "running"  # not closed by screen
    assert df.attrs["new_rows"] == 24 and again.attrs["new_rows"] == 0
    for a, b in zip(df.maes, inline_frame.maes):
        np.testing.assert_array_equal(a, b)


# -- killing a real sweep -----------------------------------------------------------------------

# SIGINT's Python handler is installed even where the test runs in a background job, whose shell starts
# its children with SIGINT ignored (a user at a terminal has it)
CLI = ("import signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
       "from mae_ort.cli import main; sys.exit(main())")
# 2 layers of 18-23 units at 6 look-backs (216 rows): groups of shared prefixes are stored together, so a
# sweep needs several look-backs to be caught in the middle by a signal, even on a fast machine
SWEEP = ["screen", "--units", "18:23", "--layers", "2", "--look-back", "4,8,12,16,20,24", "--samples", "20",
         "--workers", "2", "--quiet", "--top", "0"]
SWEEP_ROWS = 216


def _start(db: Path, extra=(), hold: int | None = None) -> subprocess.Popen:
    """The sweep, held (:mod:`mae_ort._hold`) once ``hold`` rows are stored, so that a signal never races a commit."""
    held = {} if hold is None else hold_env(hold, "SELECT COUNT(*) FROM sampling")
    env = dict(os.environ, PYTHONUNBUFFERED="1", **held)
    return subprocess.Popen([sys.executable, "-c", CLI, *SWEEP, *extra, "--db", str(db)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)


def _wait_for_rows(db: Path, n: int, proc: subprocess.Popen, timeout: float = 120.0) -> int:
    deadline = time.time() + timeout
    while time.time() < deadline:
        assert proc.poll() is None, f"the sweep ended early: {proc.communicate()}"
        if db.exists():
            try:
                con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
                count = con.execute("SELECT COUNT(*) FROM sampling").fetchone()[0]
                con.close()
                if count >= n:
                    return count
            except sqlite3.Error:
                pass
        time.sleep(0.05)
    raise AssertionError("the sweep stored no rows in time")




def _check_complete(db: Path) -> "object":
    con = sqlite3.connect(db)
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    con.close()
    with open_store(db, create=False) as st:  # closed at once: a stale connection would keep WAL's locks
        df = st.frame(maes=True)
    assert all(len(m) == 20 for m in df.maes)
    assert df[["mean", "sd", "p", "log_p", "seed", "seconds"]].notna().all().all()
    return df


needs_proc = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")


@needs_proc
@pytest.mark.kills
def test_sigkill_mid_sweep_loses_nothing_finished(tmp_path):
    db = tmp_path / "r.sqlite"
    proc = _start(db, hold=3)
    _wait_for_rows(db, 3, proc)
    kids = descendants(proc.pid)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    before = _check_complete(db)
    assert 3 <= len(before) < SWEEP_ROWS
    deadline = time.time() + 10  # the workers notice that their parent died and stop
    while alive(kids) and time.time() < deadline:
        time.sleep(0.1)
    assert not alive(kids)

    # The same sweep again (in this process's style: one worker, which must not matter) completes it.
    rerun = subprocess.run([sys.executable, "-c", CLI, *SWEEP, "--workers", "1", "--db", str(db)],
                           capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    after = _check_complete(db)
    assert len(after) == SWEEP_ROWS
    old = before.set_index("id")
    new = after.set_index("id").loc[old.index]
    assert list(new.units) == list(old.units) and list(new.created) == list(old.created)
    for a, b in zip(new.maes, old.maes):
        np.testing.assert_array_equal(a, b)


@needs_proc
@pytest.mark.kills
@pytest.mark.parametrize("sig, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_signal_stops_cleanly(tmp_path, sig, code):
    db = tmp_path / "r.sqlite"
    proc = _start(db, hold=2)
    _wait_for_rows(db, 2, proc)
    kids = descendants(proc.pid)
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=60)
    lines = err.strip().splitlines()
    assert proc.returncode == code and len(lines) == 1, err  # one line: no click "aborted" after it
    assert lines[0].startswith("interrupted: ") and "rerun the same command to resume" in lines[0]
    df = _check_complete(db)
    assert 2 <= len(df) < SWEEP_ROWS
    deadline = time.time() + 10
    while alive(kids) and time.time() < deadline:
        time.sleep(0.1)
    assert not alive(kids)


@needs_proc
@pytest.mark.kills
def test_a_killed_worker_is_one_line_without_a_resource_tracker_warning(tmp_path):
    db = tmp_path / "r.sqlite"
    proc = _start(db, ["--samples", "100"])  # the last --samples wins: slower rows, so that a worker is busy
    _wait_for_rows(db, 2, proc)
    workers = descendants(proc.pid) - _children(proc.pid)  # the forkserver's children
    assert workers
    os.kill(sorted(workers)[0], signal.SIGKILL)
    out, err = proc.communicate(timeout=120)
    lines = [line for line in err.splitlines() if line.strip()]
    assert proc.returncode == 2 and len(lines) == 1, err  # no "resource_tracker: ... leaked semaphore" warning
    assert lines[0].startswith("error: a worker process died") and "rerun the same command" in lines[0]
    df = open_store(db, create=False).frame(maes=True)
    assert 2 <= len(df) < SWEEP_ROWS and all(len(m) == 100 for m in df.maes)  # finished rows kept, complete


def _children(pid: int) -> set[int]:
    return {c for c in descendants(pid) if int(Path(f"/proc/{c}/stat").read_text().rsplit(")", 1)[1].split()[1])
            == pid}


# -- issue 10: scores that can mislead, spaces too large, screens that share a database ------------

def test_outside_bounds_warns_once_with_the_count_and_the_remedy():
    space = grid(units="3:20:4", look_back="1,10", cell="gru", head_activation="linear")  # MAEs well above 2
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        df = screen(space, samples=20, workers=1)
    hits = [w for w in caught if issubclass(w.category, OutsideBoundsWarning)]
    assert len(hits) == 1  # once per call, not once per row
    n = int((df.n_outside > 0).sum())
    assert n > 0
    text = str(hits[0].message)
    assert "\n" not in text and f"{n} of {len(df)} rows have MAEs outside the truncation bounds [0, 2]" in text
    upper = float(text.split("upper=")[1].split(" ")[0])
    assert upper >= max(float(np.nanmax(m)) for m in df.maes)
    # With that upper the same rows are inside: no warning.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        wide = screen(space, samples=20, workers=1, upper=upper)
    assert not [w for w in caught if issubclass(w.category, OutsideBoundsWarning)]
    assert int(wide.n_outside.sum()) == 0


def test_rows_whose_every_mae_is_above_upper_are_named():
    with pytest.warns(OutsideBoundsWarning, match=r"24 of 24 rows .*24 with every MAE above 0\.3"):
        df = screen(grid(**TINY), samples=SAMPLES, workers=1, upper=0.3)
    assert (df.n_outside == SAMPLES).all()


def test_no_warning_when_every_mae_is_inside(inline_frame, tiny):
    assert int(inline_frame.n_outside.sum()) == 0
    with warnings.catch_warnings():
        warnings.simplefilter("error", OutsideBoundsWarning)
        screen(tiny, samples=SAMPLES, seed=3, workers=1)


def test_a_space_too_large_is_refused_before_anything_is_allocated(tmp_path):
    huge = grid(units="7:31", layers="1:50")
    t0 = time.perf_counter()
    with pytest.raises(InvalidParameterError, match=f"at most {MAX_ROWS:,}"):
        screen(huge, store=tmp_path / "r.sqlite", samples=SAMPLES)
    with pytest.raises(InvalidParameterError, match="random subset"):
        huge.subset(10)
    assert time.perf_counter() - t0 < 5 and not (tmp_path / "r.sqlite").exists()


def test_a_second_screen_skips_the_rows_another_one_stores(tmp_path, tiny):
    """Deterministic: while one screen runs, another completes the space; the first computes no more."""
    db = tmp_path / "r.sqlite"
    other = {}

    def meanwhile(done, total):
        if done == 2 and not other:
            other["df"] = screen(tiny, samples=SAMPLES, store=db, workers=1)  # a second screen, to the end

    first = screen(tiny, samples=SAMPLES, store=db, workers=1, batch_flops=0, share=False,
                   progress=meanwhile)  # one row per task
    assert other["df"].attrs["new_rows"] == 22 and other["df"].attrs["computed_rows"] == 22
    assert first.attrs["computed_rows"] == 2 and first.attrs["new_rows"] == 2 and len(first) == 24
    assert open_store(db).count() == 24


def test_two_concurrent_screens_split_the_work(tmp_path):
    db = tmp_path / "r.sqlite"
    space = grid(units="3:12", layers="1:2", look_back="1,2")  # 220 rows
    start = threading.Barrier(2)
    frames = {}

    def run(name):
        start.wait()
        frames[name] = screen(space, samples=SAMPLES, store=db, workers=1, threads=1, batch_flops=0,
                              share=False)  # one row per task

    threads = [threading.Thread(target=run, args=(n,)) for n in "ab"]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert set(frames) == {"a", "b"}
    computed = [frames[n].attrs["computed_rows"] for n in "ab"]
    new = [frames[n].attrs["new_rows"] for n in "ab"]
    assert sum(new) == len(space) == open_store(db).count()
    assert min(computed) > 0  # both worked ...
    assert sum(computed) <= len(space) + 20  # ... on different rows: far from 2 x 220


def test_meeting_another_screen_moves_to_the_largest_free_run(tmp_path, tiny):
    from mae_ort.results.store import Settings
    from mae_ort.screening.sweep import _Work

    st = open_store(tmp_path / "r.sqlite")
    series = prepare(sine(), name="sine")
    from mae_ort.sampling.settings import SamplingSettings

    sid = st.add_settings(Settings.of(series, SamplingSettings.checked("t", samples=SAMPLES)))
    keys = list(tiny.keys())
    work = _Work(st, sid, keys, n_in=1, n_out=1, length=series.length, samples=SAMPLES, batch_flops=0)
    batches = work.batches()
    batch = next(batches)
    assert [r.key for r in batch] == keys[:1]
    sampler = Sampler()
    results = [sampler.run(series, r.arch, r.look_back, SamplingSettings.checked("t", samples=SAMPLES), warn=False)
               for r in batch]
    assert st.add_results(sid, results) == 1
    work.stored(results, 0)  # as if another screen had stored it first
    assert work.meetings == 1
    assert [r.key for r in next(batches)] == [keys[(1 + 24) // 2]]  # the middle of rows 1..23
