"""A test-only hold point: the kill and interrupt tests stop a real process at an exact place, not at a moment.

With the environment variable ``MAE_ORT_TEST_HOLD`` set to ``"N SQL"`` (``N`` a whole number, ``SQL`` a query of
one number, e.g. ``"48 SELECT COUNT(*) FROM sampling"``), every long command calls :func:`hold_point` right after
each unit of progress it stored (a screened batch, a search trial told, a trained architecture); once ``SQL`` on
the results database reads at least ``N``, the process waits there, storing nothing more, until a signal ends it
(SIGKILL, or Ctrl-C/SIGTERM, which take the command's usual clean path from there).  A test that waits for the
count and then stops the process thus always finds the database exactly as it was at that commit.  Unset (as
everywhere outside the tests), a hold point reads one environment variable and returns.

Imports nothing of mae-ort.
"""

from __future__ import annotations

import os
import sqlite3
import time

__all__ = ["ENV", "hold_point"]

#: The environment variable read by :func:`hold_point`.
ENV = "MAE_ORT_TEST_HOLD"


def hold_point(db) -> None:
    """Wait here forever (until a signal) if ``MAE_ORT_TEST_HOLD``'s query on database file ``db`` reaches its
    number; return at once otherwise (unset variable, no file, an in-memory store, a query that fails)."""
    spec = os.environ.get(ENV)
    if not spec or db is None:
        return
    n, sql = spec.strip().split(" ", 1)
    try:
        con = sqlite3.connect(f"file:{os.fspath(db)}?mode=ro", uri=True, timeout=30)
        try:
            got = con.execute(sql).fetchone()[0]
        finally:
            con.close()
    except sqlite3.Error:
        return
    if got is not None and int(got) >= int(n):
        while True:  # signals' handlers run between the sleeps
            time.sleep(0.05)
