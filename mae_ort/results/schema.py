"""The results database's schema: the tables' SQL, the schema version and the migrations between versions, the
column lists, and the one write transaction every table's writes go through (used by :mod:`.store`).

Imports nothing of mae-ort but :mod:`mae_ort.errors`.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import math
import sqlite3
from typing import Callable, Iterator

from ..errors import StoreError

#: The schema this package writes and reads.
SCHEMA_VERSION = 5

_SQLITE_MAGIC = b"SQLite format 3\x00"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS settings (
    settings_id        TEXT PRIMARY KEY,
    series             TEXT NOT NULL,
    series_fingerprint TEXT NOT NULL,
    samples            INTEGER NOT NULL,
    threshold          REAL NOT NULL,
    lower              REAL NOT NULL,
    upper              REAL NOT NULL,
    fit                TEXT NOT NULL,
    init               TEXT NOT NULL,
    seed               INTEGER NOT NULL,
    created            TEXT NOT NULL,
    seeding            INTEGER NOT NULL DEFAULT 1,
    auto               TEXT NOT NULL DEFAULT '',
    target_form        TEXT NOT NULL DEFAULT 'level'
);
CREATE TABLE IF NOT EXISTS sampling (
    id                   INTEGER PRIMARY KEY AUTOINCREMENT,
    settings_id          TEXT NOT NULL REFERENCES settings(settings_id),
    cell                 TEXT NOT NULL,
    activation           TEXT NOT NULL,
    recurrent_activation TEXT NOT NULL,
    head_activation      TEXT NOT NULL,
    units                TEXT NOT NULL,
    look_back            INTEGER NOT NULL,
    depth                INTEGER NOT NULL,
    u1                   INTEGER,
    u2                   INTEGER,
    u3                   INTEGER,
    seed                 INTEGER NOT NULL,
    mean                 REAL,
    sd                   REAL,
    loc                  REAL,
    scale                REAL,
    p                    REAL NOT NULL,
    log_p                REAL,
    log_p_exact          REAL,
    n_nonfinite          INTEGER NOT NULL,
    n_outside            INTEGER NOT NULL,
    windows              INTEGER NOT NULL,
    maes                 BLOB NOT NULL,
    seconds              REAL NOT NULL,
    runtime              TEXT NOT NULL,
    device               TEXT NOT NULL,
    created              TEXT NOT NULL,
    drawn                INTEGER,
    status               TEXT NOT NULL DEFAULT 'fixed',
    UNIQUE (settings_id, cell, activation, recurrent_activation, head_activation, units, look_back)
);
CREATE INDEX IF NOT EXISTS sampling_by_look_back ON sampling (settings_id, look_back, log_p);
"""

_TRAINED_SCHEMA = """
CREATE TABLE IF NOT EXISTS trained (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT,
    sampling_id        INTEGER NOT NULL REFERENCES sampling(id),
    split_key          TEXT NOT NULL,
    train_key          TEXT NOT NULL,
    seed               INTEGER NOT NULL,
    epochs             INTEGER NOT NULL,
    max_epochs         INTEGER NOT NULL,
    test_mae           REAL,
    test_mae_recursive REAL,
    train_mae          REAL,
    monitor_loss       REAL,
    epochs_run         INTEGER NOT NULL,
    best_epoch         INTEGER NOT NULL,
    stopped_epoch      INTEGER,
    train_seconds      REAL NOT NULL,
    test_sampling_id   INTEGER REFERENCES sampling(id),
    split              TEXT NOT NULL,
    train_settings     TEXT NOT NULL,
    threads            INTEGER,
    created            TEXT NOT NULL,
    UNIQUE (sampling_id, split_key, train_key, seed, epochs)
);
CREATE INDEX IF NOT EXISTS trained_by_sampling ON trained (sampling_id);
CREATE TABLE IF NOT EXISTS trained_costs (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    sampling_id      INTEGER REFERENCES sampling(id),
    kind             TEXT NOT NULL,
    units            TEXT NOT NULL,
    look_back        INTEGER NOT NULL,
    epochs           INTEGER,
    samples          INTEGER,
    work_seconds     REAL NOT NULL,
    setup_seconds    REAL,
    process_seconds  REAL NOT NULL,
    peak_rss_bytes   INTEGER NOT NULL,
    created          TEXT NOT NULL
);
"""

#: Columns of a trained row, as written (after ``id``).
TRAINED_COLUMNS = (
    "sampling_id", "split_key", "train_key", "seed", "epochs", "max_epochs", "test_mae", "test_mae_recursive",
    "train_mae", "monitor_loss", "epochs_run", "best_epoch", "stopped_epoch", "train_seconds", "test_sampling_id",
    "split", "train_settings", "threads", "created",
)

#: Training-free scores stored with a row (``mae-ort screen --scores``): one line per row and score.  The table is
#: additive (created on the first write, absent from older databases, which stay readable as they are).
_SCORES_SCHEMA = """
CREATE TABLE IF NOT EXISTS scores (
    sampling_id INTEGER NOT NULL REFERENCES sampling(id),
    name        TEXT NOT NULL,
    value       REAL,
    created     TEXT NOT NULL,
    UNIQUE (sampling_id, name)
)
"""

#: Own ONNX models (:mod:`mae_ort.sampling.own`) whose rows are stored: their rows have ``cell='onnx'``,
#: ``activation`` = the file's content hash and ``recurrent_activation`` = the options' hash
#: (:class:`~mae_ort.model.onnx_model.OwnModelKey`); this table gives each its file name, number of weights, weight
#: tensors and options.  Additive (created on the first write; older databases read as before).
_OWN_MODELS_SCHEMA = """
CREATE TABLE IF NOT EXISTS own_models (
    digest     TEXT NOT NULL,
    options    TEXT NOT NULL,
    file       TEXT NOT NULL,
    n_weights  INTEGER NOT NULL,
    tensors    TEXT NOT NULL,
    settings   TEXT NOT NULL,
    created    TEXT NOT NULL,
    PRIMARY KEY (digest, options)
)
"""

_COST_COLUMNS = ("sampling_id", "kind", "units", "look_back", "epochs", "samples", "work_seconds", "setup_seconds",
                 "process_seconds", "peak_rss_bytes", "created")


def _score_value(v) -> float | None:
    """A score as stored: NaN as NULL (SQLite has no NaN), infinities kept."""
    v = None if v is None else float(v)
    return None if v is None or math.isnan(v) else v


def _insert_scores(conn: sqlite3.Connection, rows) -> int:
    """Insert ``(row id, name, value)`` scores (the table created on the first write; stored ones kept); returns
    the lines added."""
    conn.execute(_SCORES_SCHEMA)
    before = conn.total_changes
    conn.executemany("INSERT INTO scores (sampling_id, name, value, created) VALUES (?, ?, ?, ?) "
                     "ON CONFLICT DO NOTHING", [(int(i), str(n), _score_value(v), _now()) for i, n, v in rows])
    return conn.total_changes - before


def _statements(schema: str) -> list[str]:
    return [st for st in schema.split(";") if st.strip()]


def _upgrade_1_to_2(conn: sqlite3.Connection) -> None:
    """Version 1 -> 2: the trained tables join the one schema (and lose their own ``trained_meta``)."""
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    if "trained_meta" in tables:
        meta = dict(conn.execute("SELECT key, value FROM trained_meta").fetchall())
        if meta.get("schema_version", "1") != "1":
            raise StoreError(f"the trained tables have version {meta.get('schema_version')!r}; this mae-ort "
                             "upgrades version 1 only")
        conn.execute("DROP TABLE trained_meta")
    for statement in _statements(_TRAINED_SCHEMA):
        conn.execute(statement)


def _upgrade_2_to_3(conn: sqlite3.Connection) -> None:
    """Version 2 -> 3: settings record their seeding version (every older row was seeding 1)."""
    conn.execute("ALTER TABLE settings ADD COLUMN seeding INTEGER NOT NULL DEFAULT 1")


def _upgrade_3_to_4(conn: sqlite3.Connection) -> None:
    """Version 3 -> 4: ``samples="auto"``: settings get ``auto`` (``''``: a fixed ``samples``), rows get ``drawn``
    (the length of their MAEs) and ``status`` (``fixed``)."""
    conn.execute("ALTER TABLE settings ADD COLUMN auto TEXT NOT NULL DEFAULT ''")
    conn.execute("ALTER TABLE sampling ADD COLUMN drawn INTEGER")
    conn.execute("ALTER TABLE sampling ADD COLUMN status TEXT NOT NULL DEFAULT 'fixed'")
    conn.execute("UPDATE sampling SET drawn = length(maes) / 8")


def _upgrade_4_to_5(conn: sqlite3.Connection) -> None:
    """Version 4 -> 5: settings record their target form (every older row forecast the ``level``)."""
    conn.execute("ALTER TABLE settings ADD COLUMN target_form TEXT NOT NULL DEFAULT 'level'")


#: ``{v: upgrade}``: ``upgrade(connection)`` turns schema ``v`` into ``v + 1`` (inside a transaction).
MIGRATIONS: dict[int, Callable[[sqlite3.Connection], None]] = {1: _upgrade_1_to_2, 2: _upgrade_2_to_3,
                                                                3: _upgrade_3_to_4, 4: _upgrade_4_to_5}

_ROW_COLUMNS = (
    "settings_id", "cell", "activation", "recurrent_activation", "head_activation", "units", "look_back",
    "depth", "u1", "u2", "u3", "seed", "mean", "sd", "loc", "scale", "p", "log_p", "log_p_exact",
    "n_nonfinite", "n_outside", "windows", "maes", "seconds", "runtime", "device", "created", "drawn", "status",
)


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def _package_version() -> str:
    from importlib import metadata

    try:
        return metadata.version("mae-ort")
    except metadata.PackageNotFoundError:  # pragma: no cover - source tree
        return "0.0.0"


@contextlib.contextmanager
def write_transaction(conn: sqlite3.Connection, path: str) -> Iterator[sqlite3.Connection]:
    """One write transaction on ``conn``: commit on success, roll back on any exception.

    sqlite3 failures are re-raised as :class:`StoreError` naming ``path`` (cause chained).
    Shared by every table of the results database (sampling rows, trained rows).
    """
    try:
        conn.execute("BEGIN IMMEDIATE")
    except sqlite3.Error as e:
        raise StoreError(f"cannot write to the results database {path!r}: {e}") from e
    try:
        yield conn
    except sqlite3.Error as e:
        conn.execute("ROLLBACK")
        raise StoreError(f"the results database {path!r} refused a write: {e}") from e
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    try:
        conn.execute("COMMIT")
    except sqlite3.Error as e:
        with contextlib.suppress(sqlite3.Error):
            conn.execute("ROLLBACK")
        raise StoreError(f"cannot commit to the results database {path!r}: {e}") from e
