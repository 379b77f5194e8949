"""Helpers of the tests that stop real ``mae-ort`` processes: start one, watch a database, find its children."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

#: ``python -c`` text that runs ``mae-ort ARGS``.  SIGINT's Python handler is installed even where the test runs
#: in a background job, whose shell starts its children with SIGINT ignored (a user at a terminal has it).
CLI = ("import signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
       "from mae_ort.cli import main; sys.exit(main())")

needs_proc = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")


def hold_env(n: int, sql: str) -> dict:
    """The environment variable that holds a ``mae-ort`` process at the first progress point where ``sql`` (one
    number on its results database) reads at least ``n`` (:mod:`mae_ort._hold`): it stores nothing more until a
    signal ends it, so a test that waits for the count and then stops it does not depend on timing."""
    from mae_ort._hold import ENV

    return {ENV: f"{int(n)} {sql}"}


def start(*args, cwd=None, hold: tuple[int, str] | None = None) -> subprocess.Popen:
    """``mae-ort ARGS`` in its own process group (as a shell starts a command), output captured; ``hold``
    ``(n, sql)``: held once ``sql`` reads at least ``n`` (:func:`hold_env`)."""
    env = dict(os.environ, PYTHONUNBUFFERED="1", TF_CPP_MIN_LOG_LEVEL="3", **(hold_env(*hold) if hold else {}))
    return subprocess.Popen([sys.executable, "-c", CLI, *map(str, args)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env, cwd=cwd, start_new_session=True)


def ctrl_c(proc: subprocess.Popen) -> None:
    """SIGINT to the whole process group, as a terminal's Ctrl-C sends it."""
    os.killpg(proc.pid, signal.SIGINT)


def count(db: Path, sql: str) -> int:
    """``sql``'s one number on ``db`` (read-only; 0 while the file or the table is not there yet)."""
    if not Path(db).exists():
        return 0
    try:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
        try:
            return int(con.execute(sql).fetchone()[0])
        finally:
            con.close()
    except sqlite3.Error:
        return 0


def wait_for(proc: subprocess.Popen, check, what: str, timeout: float = 120.0):
    """Poll ``check()`` until it is true (returned), failing if ``proc`` ends first or time runs out."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        got = check()
        if got:
            return got
        if proc.poll() is not None:
            out, err = proc.communicate()
            raise AssertionError(f"the command ended (code {proc.returncode}) before {what}: {err[-2000:]}")
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def descendants(pid: int) -> set[int]:
    """Every process below ``pid`` now."""
    parents = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                stat = Path(f"/proc/{d}/stat").read_text()
            except OSError:
                continue
            parents[int(d)] = int(stat.rsplit(")", 1)[1].split()[1])
    out, todo = set(), [pid]
    while todo:
        p = todo.pop()
        kids = {c for c, pp in parents.items() if pp == p}
        todo.extend(kids - out)
        out |= kids
    return out


def alive(pids) -> set[int]:
    """Those of ``pids`` that still run (zombies excluded)."""
    out = set()
    for p in pids:
        try:
            stat = Path(f"/proc/{p}/stat").read_text()
        except OSError:
            continue
        if stat.rsplit(")", 1)[1].split()[0] != "Z":
            out.add(p)
    return out


def assert_all_gone(pids, timeout: float = 15.0) -> None:
    """The processes ``pids`` end within ``timeout`` seconds (a worker notices its parent's death)."""
    deadline = time.time() + timeout
    while alive(pids) and time.time() < deadline:
        time.sleep(0.1)
    assert not alive(pids), f"left behind: {sorted(alive(pids))}"


def integrity_ok(db: Path) -> None:
    con = sqlite3.connect(db)
    try:
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        con.close()
