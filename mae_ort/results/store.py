"""Where screening results live: a versioned SQLite store with idempotent rows.

Contract of every :class:`Store`
--------------------------------
* **Settings.**  Sampling settings that change a result (the series' fingerprint,
  samples or the ``samples="auto"`` rule, threshold, bounds, fit, weight init, the sweep's seed and the target
  form) form a
  :class:`Settings`; their hash is the ``settings_id``.  The runtime, device, threads
  and memory budget are *not* part of it: they do not change which weights are drawn.
  Two sweeps with different settings add separate rows to one database; they never mix.
* **Rows.**  One row per ``(settings_id, cell, activation, recurrent_activation,
  head_activation, units, look_back)`` (a UNIQUE constraint).  Each row has a stable
  integer ``id`` (never reused) that other tables may reference.
* **Finished rows are immutable.**  A row is written once, complete, by an upsert that
  does nothing when the key exists (``INSERT ... ON CONFLICT DO NOTHING``): writing the
  same row twice is harmless, and the first write wins.
* **Crash safety.**  Every write is one transaction (:meth:`SQLiteStore._transaction`):
  it commits completely or not at all.  The database runs in WAL mode; a killed
  process (SIGKILL, Ctrl-C, a crash) loses only what it had not committed and never
  leaves the file unreadable.  With ``synchronous=NORMAL`` a power failure may lose the
  last few commits as well, but not consistency.
* **Resuming is a query.**  :meth:`Store.done_keys` lists the keys already stored for
  some settings; a sweep runs the rest.  There is no "running" state: a row exists only
  once it is finished, so a dead worker leaves nothing stale behind.
* **Processes.**  Several processes may open one file; SQLite serialises the writers
  (each waits up to ``timeout`` seconds for the lock).  A screen writes from one
  process only (its parent or Dask client).  A store pickles down to its path; the copy
  reopens the file lazily.
* **Errors.**  Every failure of the database driver is re-raised as
  :class:`~mae_ort.errors.StoreError` (with the cause chained); so is a file that is not
  a SQLite database, a database of another program, or a schema version this package
  cannot read.

* **One owner.**  This module is the only one that opens the database: the
  sampling rows of screens and searches, the trained rows of validations and
  trainings (``trained``, linked to their sampling row by its ``id``) and the measured
  costs (``trained_costs``) all go through a :class:`SQLiteStore`.  Trained rows are
  immutable too (first write wins); the one column filled later is
  ``trained.test_sampling_id``, set once when it is NULL (the link to the same
  architecture sampled on the test part).
* **Read-only use.**  ``open_store(path, readonly=True)`` opens without writing
  anything (no journal change, no schema setup), so a database in a read-only file or
  folder can be ranked, exported and plotted.

Schema version 5: table ``meta`` (``schema_version``, ``package_version``,
``created``), ``settings`` (with the seeding version of its rows and, for
``samples="auto"``, its :class:`~mae_ort.sampling.auto.AutoSamples` text in ``auto``; ``samples``
is then the maximum; ``target_form``: ``level`` or ``delta``), ``sampling`` (with ``drawn``, the samples a
row drew, and ``status``:
``fixed``, ``converged``, ``maximum`` or ``raced``), ``trained`` and ``trained_costs``.  Version 1
(before the trained tables had this owner; they carried their own version in a ``trained_meta``
table), version 2 (before settings recorded their seeding; all its rows are seeding 1) and
version 3 (before ``samples="auto"``: every row is ``fixed`` and drew its settings' ``samples``) and
version 4 (before the target form: every row is ``level``) are upgraded in place by :data:`MIGRATIONS` when
opened for writing; newer versions are refused.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import sqlite3
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np

from ..data import TARGET_FORMS
from ..errors import StoreError
from ..model.keys import KEY_COLUMNS
from ..sampling.settings import SamplingSettings
from .base import Store
from .schema import (
    _COST_COLUMNS,
    _OWN_MODELS_SCHEMA,
    _ROW_COLUMNS,
    _SCHEMA,
    _SQLITE_MAGIC,
    _TRAINED_SCHEMA,
    MIGRATIONS,
    SCHEMA_VERSION,
    TRAINED_COLUMNS,
    _insert_scores,
    _now,
    _package_version,
    _statements,
    write_transaction,
)

__all__ = [
    "SCHEMA_VERSION",
    "MIGRATIONS",
    "Settings",
    "Store",
    "SQLiteStore",
    "open_store",
    "KEY_COLUMNS",
    "TRAINED_COLUMNS",
    "write_transaction",
]

@dataclass(frozen=True)
class Settings(SamplingSettings):
    """The sampling settings of one series: what decides a stored row's result (one "study").

    A :class:`~mae_ort.sampling.SamplingSettings` plus the series it was sampled on.

    Parameters
    ----------
    series : str
        The series' label (not part of :attr:`id`: the fingerprint identifies the data).
    series_fingerprint : str
        :meth:`mae_ort.data.Series.fingerprint` of the prepared series.
    samples, threshold, lower, upper, fit, init, seed
        As :class:`~mae_ort.sampling.SamplingSettings`; ``seed`` is the sweep's seed
        (each row's seed is derived from it and the row's key).
    """

    series: str = "series"
    series_fingerprint: str = ""

    @classmethod
    def of(cls, series, sampling: SamplingSettings) -> "Settings":
        """The settings of ``sampling`` on a prepared series."""
        return cls(series=series.name, series_fingerprint=series.fingerprint(), **sampling.sampling.to_dict())

    @property
    def id(self) -> str:
        """A 16-hex-digit hash of everything but the series' label (seeding 1, a fixed ``samples`` and the ``level``
        target form hash as before they existed; ``samples="auto"`` hashes its whole
        :class:`~mae_ort.sampling.auto.AutoSamples`, race included, so auto rows never mix with fixed rows nor
        with other auto settings; ``delta`` rows never mix with ``level`` rows)."""
        d = asdict(self)
        d.pop("series")
        if d["seeding"] == 1:
            d.pop("seeding")
        if not d["auto"]:
            d.pop("auto")
        if d["target_form"] == "level":
            d.pop("target_form")
        text = json.dumps(d, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def describe(self) -> str:
        """One line."""
        samples = self.samples_arg
        return (f"series={self.series} samples={samples} threshold={self.threshold:g} "
                f"bounds={self.lower:g}..{self.upper:g} fit={self.fit} init={self.init} seed={self.seed}"
                + (f" target_form={self.target_form}" if self.target_form != "level" else ""))


class SQLiteStore(Store):
    """The SQLite implementation of :class:`Store` (stdlib :mod:`sqlite3`).

    Parameters
    ----------
    path : str or Path
        The database file, or ``":memory:"`` for a private in-memory store.
    create : bool
        Create the file if it is missing (else a missing file raises).
    timeout : float
        Seconds to wait for another process's write lock.
    readonly : bool
        Open for reading only: nothing is written (works on read-only files and folders);
        a database that needs an upgrade is refused.

    Raises
    ------
    StoreError
        Missing file (``create=False`` or ``readonly``), a folder, a file that is not
        SQLite, a database of another program, or an unsupported schema version.
    """

    def __init__(self, path, *, create: bool = True, timeout: float = 60.0, readonly: bool = False) -> None:
        self.path = str(path)
        self.timeout = float(timeout)
        self.readonly = bool(readonly)
        self._create = bool(create) and not self.readonly
        self._conn: sqlite3.Connection | None = None
        self._lock = threading.RLock()
        self._connect()

    # -- pickling: a path, reopened lazily ------------------------------------------------
    def __getstate__(self):
        if self.in_memory:
            raise StoreError("an in-memory store cannot be sent to another process; give the store a file path")
        return {"path": self.path, "timeout": self.timeout, "_create": False, "readonly": self.readonly}

    def __setstate__(self, state) -> None:
        self.__dict__.update(state)
        self._conn = None
        self._lock = threading.RLock()

    @property
    def in_memory(self) -> bool:
        """Whether the store lives in this process's memory only."""
        return self.path == ":memory:" or self.path.startswith("file::memory:")

    def __repr__(self) -> str:
        return f"SQLiteStore({self.path!r})"

    # -- connection ----------------------------------------------------------------------
    def _connect(self) -> sqlite3.Connection:
        if self._conn is not None:
            return self._conn
        if not self.in_memory:
            p = Path(self.path)
            if p.is_dir():
                raise StoreError(f"cannot open the results database {self.path!r}: it is a folder")
            if not p.exists():
                if not self._create:
                    raise StoreError(f"no results database at {self.path!r} (create one with `mae-ort screen --db "
                                     f"{self.path}`)")
                if not p.parent.exists():
                    raise StoreError(f"cannot create the results database {self.path!r}: "
                                     f"the folder {str(p.parent)!r} does not exist")
            else:
                try:
                    with open(p, "rb") as fh:
                        head = fh.read(16)
                except OSError as e:
                    raise StoreError(f"cannot read the results database {self.path!r}: {e.strerror or e}") from e
                if head and head != _SQLITE_MAGIC:
                    raise StoreError(f"{self.path!r} is not a SQLite database (not written by mae-ort)")
        # Switching the journal mode (WAL here, DELETE when the last writer closes) takes an exclusive
        # lock for which SQLite may answer "locked" at once instead of waiting; so may the schema set-up
        # while another process opens the same file: retry with backoff up to ``timeout``.
        deadline, delay = time.monotonic() + self.timeout, 0.01
        while True:
            try:
                conn = self._open_readonly() if self.readonly else sqlite3.connect(
                    self.path, timeout=self.timeout, isolation_level=None, check_same_thread=False)
            except sqlite3.Error as e:
                raise StoreError(f"cannot open the results database {self.path!r}: {e}") from e
            try:
                if not self.in_memory and not self.readonly:
                    conn.execute("PRAGMA journal_mode=WAL")
                    conn.execute("PRAGMA synchronous=NORMAL")
                conn.execute("PRAGMA foreign_keys=ON")
                self._conn = conn
                self._setup()
                return conn
            except sqlite3.OperationalError as e:
                conn.close()
                self._conn = None
                busy = "locked" in str(e) or "busy" in str(e)
                if busy and time.monotonic() < deadline:
                    time.sleep(delay)
                    delay = min(2 * delay, 0.5)
                    continue
                raise StoreError(f"{self.path!r} is not a usable SQLite database: {e}") from e
            except sqlite3.DatabaseError as e:
                conn.close()
                self._conn = None
                raise StoreError(f"{self.path!r} is not a usable SQLite database: {e}") from e
            except BaseException:
                conn.close()
                self._conn = None
                raise

    def _open_readonly(self) -> sqlite3.Connection:
        """``mode=ro``; where SQLite cannot even create the WAL's shared-memory file (a read-only
        folder), ``immutable=1`` (no locking: fine for a database nobody writes meanwhile)."""
        from urllib.parse import quote

        uri = "file:" + quote(str(Path(self.path).resolve()))
        for flags in ("mode=ro", "immutable=1"):
            conn = sqlite3.connect(f"{uri}?{flags}", uri=True, timeout=self.timeout, isolation_level=None,
                                   check_same_thread=False)
            try:
                conn.execute("SELECT name FROM sqlite_master LIMIT 1").fetchall()
                return conn
            except sqlite3.OperationalError:
                conn.close()
                if flags == "immutable=1":
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    def close(self) -> None:
        """Close the connection (reopened lazily on next use).

        The last writer to close a file store leaves it as one self-contained file (journal
        mode ``DELETE``: no ``-wal``/``-shm`` beside it), which a read-only reader (a read-only
        folder, a copy) opens without creating anything; the next writer turns WAL on again.
        """
        with self._lock:
            if self._conn is not None:
                try:
                    if not self.readonly and not self.in_memory:
                        with contextlib.suppress(sqlite3.Error):  # other connections open: they keep WAL
                            self._conn.execute("PRAGMA journal_mode=DELETE")
                    self._conn.close()
                finally:
                    self._conn = None

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction (see :func:`write_transaction`), under this store's lock."""
        with self._lock, write_transaction(self._connect(), self.path) as conn:
            yield conn

    def _read(self, sql: str, params=()) -> list[tuple]:
        with self._lock:
            conn = self._connect()
            try:
                return conn.execute(sql, params).fetchall()
            except sqlite3.Error as e:
                raise StoreError(f"cannot read the results database {self.path!r}: {e}") from e

    # -- schema --------------------------------------------------------------------------
    def _setup(self) -> None:
        if self.readonly:
            self._check_version(self._conn, self._conn.execute)
            return
        with self._transaction() as conn:
            tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
            tables.discard("sqlite_sequence")
            if not tables:
                for statement in _statements(_SCHEMA) + _statements(_TRAINED_SCHEMA):
                    conn.execute(statement)
                conn.executemany("INSERT INTO meta (key, value) VALUES (?, ?)", [
                    ("schema_version", str(SCHEMA_VERSION)),
                    ("package_version", _package_version()),
                    ("created", _now()),
                ])
                return
            version = self._check_version(conn, conn.execute, tables)
            writer = dict(conn.execute("SELECT key, value FROM meta").fetchall()).get("package_version", "unknown")
            while version < SCHEMA_VERSION:
                if version not in MIGRATIONS:
                    raise StoreError(
                        f"{self.path!r} has schema version {version} (written by mae-ort {writer}); this mae-ort "
                        f"reads version {SCHEMA_VERSION} and cannot upgrade it: export it with that mae-ort version"
                    )
                MIGRATIONS[version](conn)
                version += 1
                conn.execute("UPDATE meta SET value=? WHERE key='schema_version'", (str(version),))

    def _check_version(self, conn, execute, tables=None) -> int:
        """The database's schema version; refuse other programs' databases and newer versions."""
        if tables is None:
            tables = {r[0] for r in execute("SELECT name FROM sqlite_master WHERE type='table'")}
            tables.discard("sqlite_sequence")
        if "meta" not in tables:
            raise StoreError(f"{self.path!r} is a SQLite database of another program, not a mae-ort results "
                             f"database (tables: {', '.join(sorted(tables)) or 'none'})")
        meta = dict(execute("SELECT key, value FROM meta").fetchall())
        try:
            version = int(meta["schema_version"])
        except (KeyError, ValueError):
            raise StoreError(f"{self.path!r} has no valid schema version; it is not a mae-ort results "
                             f"database") from None
        writer = meta.get("package_version", "unknown")
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"{self.path!r} has schema version {version} (written by mae-ort {writer}); this mae-ort "
                f"({_package_version()}) reads version {SCHEMA_VERSION}: upgrade mae-ort (pip install -U mae-ort)"
            )
        if version < SCHEMA_VERSION and self.readonly:
            raise _NeedsUpgrade(f"{self.path!r} has schema version {version} and needs an upgrade to version "
                                f"{SCHEMA_VERSION}, which a read-only file or folder does not allow; upgrade a "
                                "writable copy (any mae-ort command on it) and read that")
        return version

    @property
    def meta(self) -> dict:
        """The ``meta`` table as a dict (``schema_version``, ``package_version``, ``created``)."""
        return dict(self._read("SELECT key, value FROM meta"))

    # -- writes --------------------------------------------------------------------------
    def add_settings(self, settings: Settings) -> str:
        sid = settings.id
        d = asdict(settings)
        with self._transaction() as conn:
            conn.execute(
                "INSERT INTO settings (settings_id, series, series_fingerprint, samples, threshold, lower, upper, fit, "
                "init, seed, created, seeding, auto, target_form) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT DO NOTHING",
                (sid, d["series"], d["series_fingerprint"], d["samples"], d["threshold"], d["lower"], d["upper"],
                 d["fit"], d["init"], d["seed"], _now(), d["seeding"], d["auto"], d["target_form"]),
            )
        return sid

    def add_results(self, settings_id: str, results: Iterable) -> int:
        results = list(results)  # read twice: the rows, then their scores
        records = [self._record(settings_id, r) for r in results]
        if not records:
            return 0
        sql = (f"INSERT INTO sampling ({', '.join(_ROW_COLUMNS)}) VALUES ({', '.join('?' * len(_ROW_COLUMNS))}) "
               "ON CONFLICT DO NOTHING")
        scored = [(rec, r.scores) for rec, r in zip(records, results) if getattr(r, "scores", None)]
        with self._transaction() as conn:
            if conn.execute("SELECT 1 FROM settings WHERE settings_id=?", (settings_id,)).fetchone() is None:
                raise StoreError(f"unknown settings id {settings_id!r} in {self.path!r}; add the settings first")
            before = conn.total_changes
            conn.executemany(sql, records)
            inserted = conn.total_changes - before
            if scored:  # in the same transaction: a row and its scores land together
                key = " AND ".join(f"{c}=?" for c in ("settings_id", *KEY_COLUMNS))
                at = [_ROW_COLUMNS.index(c) for c in ("settings_id", *KEY_COLUMNS)]
                lines = []
                for rec, sc in scored:
                    (rid,) = conn.execute(f"SELECT id FROM sampling WHERE {key}", [rec[i] for i in at]).fetchone()
                    lines += [(rid, n, v) for n, v in sc.items()]
                _insert_scores(conn, lines)
            return inserted

    def add_scores(self, rows: Iterable[tuple[int, str, float]]) -> int:
        """Store scores ``(row id, name, value)`` of rows already stored (kept when present); returns those added."""
        lines = list(rows)
        if not lines:
            return 0
        with self._transaction() as conn:
            return _insert_scores(conn, lines)

    def scores_frame(self, settings_id: str | None = None):
        """The stored scores as a wide DataFrame: ``id`` (the row's) and one column per score name (NaN where
        a row lacks it); empty when none are stored."""
        import pandas as pd

        if not self._read("SELECT 1 FROM sqlite_master WHERE type='table' AND name='scores'"):
            return pd.DataFrame({"id": pd.Series([], dtype="int64")})
        sql = "SELECT c.sampling_id, c.name, c.value FROM scores c"
        params: list = []
        if settings_id is not None:
            sql += " JOIN sampling r ON r.id = c.sampling_id WHERE r.settings_id = ?"
            params.append(str(settings_id))
        long = pd.DataFrame(self._read(sql, params), columns=["id", "name", "value"])
        if long.empty:
            return pd.DataFrame({"id": pd.Series([], dtype="int64")})
        long["value"] = long["value"].astype("float64")
        wide = long.pivot(index="id", columns="name", values="value").reset_index()
        wide.columns.name = None
        return wide

    @staticmethod
    def _record(settings_id: str, r) -> tuple:
        a = r.arch
        units = tuple(int(u) for u in a.units)
        finite = lambda v: None if v is None or not math.isfinite(float(v)) else float(v)  # noqa: E731
        log = lambda v: None if v is None or math.isnan(float(v)) else float(v)  # noqa: E731  (keeps -inf)
        u = list(units[:3]) + [None] * (3 - min(3, len(units)))
        return (
            settings_id, a.cell, a.activation, a.recurrent_activation, a.head_activation,
            ",".join(map(str, units)), int(r.look_back), len(units), u[0], u[1], u[2], int(r.seed),
            finite(r.mean), finite(r.sd), finite(r.loc), finite(r.scale), float(r.p), log(r.log_p),
            log(r.log_p_exact), int(r.n_nonfinite), int(r.n_outside), int(r.windows),
            np.ascontiguousarray(r.maes, dtype="<f8").tobytes(), float(r.seconds), str(r.runtime), str(r.device),
            _now(), int(np.size(r.maes)), str(getattr(r, "status", "fixed")),
        )

    # -- reads ---------------------------------------------------------------------------
    def done_keys(self, settings_id: str) -> set[tuple]:
        cols = ", ".join(KEY_COLUMNS)
        return set(self._read(f"SELECT {cols} FROM sampling WHERE settings_id=?", (settings_id,)))

    def count(self, settings_id: str | None = None) -> int:
        """Number of stored rows (of one settings id, or all)."""
        if settings_id is None:
            return int(self._read("SELECT COUNT(*) FROM sampling")[0][0])
        return int(self._read("SELECT COUNT(*) FROM sampling WHERE settings_id=?", (settings_id,))[0][0])

    def settings_frame(self):
        """One line per settings id: its fields, its row count and when it was first used."""
        import pandas as pd

        sql = ("SELECT s.settings_id, s.series, s.series_fingerprint, s.samples, s.threshold, s.lower, s.upper, "
               "s.fit, s.init, s.seed, s.seeding, s.auto, s.target_form, s.created, COUNT(r.id) AS rows "
               "FROM settings s LEFT JOIN sampling r ON r.settings_id = s.settings_id GROUP BY s.settings_id "
               "ORDER BY s.created")
        cols = ["settings_id", "series", "series_fingerprint", "samples", "threshold", "lower", "upper", "fit",
                "init", "seed", "seeding", "auto", "target_form", "created", "rows"]
        df = pd.DataFrame(self._read(sql), columns=cols)
        self._check_target_forms(df)
        return df

    def _check_target_forms(self, df) -> None:
        """Refuse rows whose target form this mae-ort does not know (written by a newer one), in one line."""
        unknown = sorted(set(df["target_form"]) - set(TARGET_FORMS)) if "target_form" in df else []
        if unknown:
            raise StoreError(f"{self.path!r} holds rows with target form {unknown[0]!r}, which this mae-ort "
                             f"({_package_version()}) does not know (it knows {', '.join(TARGET_FORMS)}): upgrade "
                             "mae-ort (pip install -U mae-ort)")

    def frame(self, settings_id: str | None = None, *, look_back=None, depth=None, maes: bool = False):
        """The rows as a pandas DataFrame, joined with their settings.

        Parameters
        ----------
        settings_id : str, optional
            Only these settings' rows (default: all).
        look_back, depth : int or sequence of int, optional
            Only these look-backs / depths.
        maes : bool
            Add a ``maes`` column of float64 arrays of shape (S,).

        Returns
        -------
        pandas.DataFrame
            Columns ``id``, ``settings_id``, the key columns, ``depth``, ``u1`` ... ``uK``
            (``K`` = the largest depth; missing layers are ``<NA>``), ``seed`` (the row's),
            ``mean``, ``sd``, ``loc``, ``scale``, ``p``, ``log_p``, ``log_p_exact``,
            ``n_nonfinite``, ``n_outside``, ``windows``, ``seconds``, ``runtime``, ``device``,
            ``created``, ``drawn`` (the samples the row drew), ``status`` (``fixed``, ``converged``,
            ``maximum``, ``raced``: see :data:`mae_ort.sampling.auto.STATUSES`), and the settings'
            ``series``, ``samples`` (the maximum with ``samples="auto"``), ``threshold``, ``lower``,
            ``upper``, ``fit``, ``init``, ``sweep_seed``, ``seeding``, ``auto``, ``target_form``; ordered by ``id``.
        """
        import pandas as pd

        cols = ["id", "settings_id", *KEY_COLUMNS, "depth", "seed", "mean", "sd", "loc", "scale", "p", "log_p",
                "log_p_exact", "n_nonfinite", "n_outside", "windows", "seconds", "runtime", "device", "created",
                "drawn", "status"]
        scols = ["series", "samples", "threshold", "lower", "upper", "fit", "init", "seed", "seeding", "auto",
                 "target_form"]
        select = ", ".join(f"r.{c}" for c in cols) + ", " + ", ".join(f"s.{c}" for c in scols)
        if maes:
            select += ", r.maes"
        where, params = [], []
        if settings_id is not None:
            where.append("r.settings_id = ?")
            params.append(str(settings_id))
        for name, value in (("look_back", look_back), ("depth", depth)):
            if value is not None:
                values = [int(v) for v in (value if isinstance(value, (list, tuple, set, range)) else [value])]
                where.append(f"r.{name} IN ({', '.join('?' * len(values))})")
                params.extend(values)
        sql = (f"SELECT {select} FROM sampling r JOIN settings s ON s.settings_id = r.settings_id"
               + (f" WHERE {' AND '.join(where)}" if where else "") + " ORDER BY r.id")
        self._check_links(settings_id)
        rows = self._read(sql, params)
        names = cols + [c if c != "seed" else "sweep_seed" for c in scols] + (["maes"] if maes else [])
        df = pd.DataFrame(rows, columns=names)
        self._check_target_forms(df)
        for c in ("mean", "sd", "loc", "scale", "p", "log_p", "log_p_exact", "threshold", "lower", "upper", "seconds"):
            df[c] = df[c].astype("float64")
        if maes:
            df["maes"] = [self._maes(b, i, n) for b, i, n in zip(df["maes"], df["id"], df["drawn"])]
        own = self.own_models_frame()
        if len(own):  # own ONNX models: their file name and number of weights (NaN on built-in rows)
            df = df.merge(own[["activation", "recurrent_activation", "model_file", "n_weights"]],
                          on=["activation", "recurrent_activation"], how="left")
            df["n_weights"] = pd.array([None if v != v else int(v) for v in df["n_weights"]], dtype="Int64")
        sc = self.scores_frame(settings_id)
        if len(sc.columns) > 1:  # the stored scores (mae-ort screen --scores), NaN where a row lacks one
            sc = sc.rename(columns={c: f"score_{c}" for c in sc.columns if c != "id"})
            df = df.merge(sc, on="id", how="left")
        widths = [tuple(int(u) for u in s.split(",")) for s in df["units"]]
        k_max = max((len(w) for w in widths), default=1)
        at = df.columns.get_loc("depth") + 1
        for k in range(k_max):
            df.insert(at + k, f"u{k + 1}", pd.array([w[k] if k < len(w) else None for w in widths], dtype="Int64"))
        return df

    # -- trained rows and costs ------------------------------------------------------------
    def add_trained(self, rows: Iterable[dict]) -> int:
        """Store trained rows (dicts with :data:`TRAINED_COLUMNS` but ``created``) in one transaction.

        A row whose key ``(sampling_id, split_key, train_key, seed, epochs)`` exists is left
        alone (finished rows are immutable).  Returns the rows inserted.
        """
        cols = [c for c in TRAINED_COLUMNS if c != "created"]
        records = [tuple(r.get(c) for c in cols) + (_now(),) for r in rows]
        if not records:
            return 0
        sql = (f"INSERT INTO trained ({', '.join(TRAINED_COLUMNS)}) VALUES ({', '.join('?' * len(TRAINED_COLUMNS))}) "
               "ON CONFLICT (sampling_id, split_key, train_key, seed, epochs) DO NOTHING")
        with self._transaction() as conn:
            before = conn.total_changes
            conn.executemany(sql, records)
            return conn.total_changes - before

    def link_test_rows(self, links: dict[int, int], *, split_key: str) -> None:
        """Set ``test_sampling_id`` of the trained rows of ``{sampling_id: test sampling id}`` where it is NULL."""
        with self._transaction() as conn:
            conn.executemany("UPDATE trained SET test_sampling_id=? WHERE sampling_id=? AND split_key=? "
                             "AND test_sampling_id IS NULL", [(v, k, split_key) for k, v in links.items()])

    def trained_budgets(self, sampling_ids, *, split_key: str, train_key: str, seed: int) -> dict[int, set[int]]:
        """``{sampling_id: epoch budgets stored}`` of these rows, data, training settings and seed."""
        ids = [int(i) for i in sampling_ids]
        done: dict[int, set[int]] = {}
        for i in range(0, len(ids), 500):
            chunk = ids[i:i + 500]
            q = (f"SELECT sampling_id, epochs FROM trained WHERE split_key=? AND train_key=? AND seed=? "
                 f"AND sampling_id IN ({', '.join('?' * len(chunk))})")
            for sid, e in self._read(q, (split_key, train_key, int(seed), *chunk)):
                done.setdefault(int(sid), set()).add(int(e))
        return done

    def trained_frame(self, *, sampling_ids=None, split_key: str | None = None, train_key: str | None = None,
                      seed: int | None = None, depth=None, link: str = "sampling_id"):
        """Trained rows joined with the sampling statistics they are compared with.

        Parameters
        ----------
        sampling_ids : sequence of int, optional
            Only these screened rows.
        split_key, train_key, seed, depth : optional
            Only these data, training settings, Keras seed, depths.
        link : {'sampling_id', 'test_sampling_id'}
            Join the statistics of the screened row, or of the row sampled on the test part
            (trained rows without one are dropped).

        Returns
        -------
        pandas.DataFrame
            One row per trained architecture and budget (see :func:`mae_ort.study.validation.joined`).
        """
        import pandas as pd

        if link not in ("sampling_id", "test_sampling_id"):
            raise StoreError(f"unknown link {link!r}")
        where, params = [f"t.{link} IS NOT NULL"], []
        if sampling_ids is not None:
            ids = [int(i) for i in sampling_ids] or [-1]
            where.append(f"t.sampling_id IN ({', '.join('?' * len(ids))})")
            params += ids
        for col, val in (("split_key", split_key), ("train_key", train_key), ("seed", seed)):
            if val is not None:
                where.append(f"t.{col} = ?")
                params.append(val)
        if depth is not None:
            ds = [int(d) for d in (depth if isinstance(depth, (list, tuple, set, range)) else [depth])]
            where.append(f"s.depth IN ({', '.join('?' * len(ds))})")
            params += ds
        tcols = ["id AS trained_id", "sampling_id", "epochs", "max_epochs", "test_mae", "test_mae_recursive",
                 "train_mae", "monitor_loss", "epochs_run", "best_epoch", "stopped_epoch", "train_seconds",
                 "test_sampling_id", "split_key", "train_key", "seed", "train_settings", "split"]
        scols = ["id AS scored_id", "units", "depth", "look_back", "cell", "activation", "recurrent_activation",
                 "head_activation", "mean", "sd", "p", "log_p", "log_p_exact", "n_nonfinite", "n_outside",
                 "seconds AS sample_seconds", "seed AS sample_seed", "maes", "drawn"]
        gcols = ["series", "samples", "threshold", "lower", "upper", "fit", "init", "seeding", "target_form",
                 "settings_id"]
        sql = ("SELECT " + ", ".join(f"t.{c}" for c in tcols) + ", " + ", ".join(f"s.{c}" for c in scols) + ", "
               + ", ".join(f"g.{c}" for c in gcols)
               + f" FROM trained t JOIN sampling s ON s.id = t.{link} JOIN settings g ON g.settings_id = s.settings_id"
               + " WHERE " + " AND ".join(where) + " ORDER BY t.sampling_id, t.epochs")
        self._check_links(trained=True)
        rows = self._read(sql, params)
        names = [c.split(" AS ")[-1] for c in tcols + scols] + gcols
        df = pd.DataFrame(rows, columns=names)
        self._check_target_forms(df)
        for c in ("test_mae", "test_mae_recursive", "train_mae", "monitor_loss", "train_seconds", "mean", "sd", "p",
                  "log_p", "log_p_exact", "sample_seconds", "threshold", "lower", "upper"):
            df[c] = pd.to_numeric(df[c], errors="coerce").astype("float64")
        df["maes"] = [self._maes(b, i, n) if b is not None else None
                      for b, i, n in zip(df["maes"], df["scored_id"], df["drawn"])]
        return df.drop(columns="drawn")

    # -- checks on the way in ---------------------------------------------------------------
    def _maes(self, blob, row_id, drawn) -> np.ndarray:
        """A row's MAEs from its blob, after checking that it holds whole float64 values, as many as the row drew."""
        n = len(blob)
        if n % 8:
            raise StoreError(f"{self.path!r}: sampling row {int(row_id)} has a maes blob of {n} bytes, not a whole "
                             "number of float64 values (8 bytes each); the database is damaged: restore a copy or "
                             "screen that row again into a new database")
        if drawn is not None and not (isinstance(drawn, float) and math.isnan(drawn)) and n // 8 != int(drawn):
            raise StoreError(f"{self.path!r}: sampling row {int(row_id)} holds {n // 8} MAEs but drew {int(drawn)}; "
                             "the database is damaged: restore a copy or screen that row again into a new database")
        return np.frombuffer(blob, dtype="<f8").copy()

    def _check_links(self, settings_id: str | None = None, *, trained: bool = False) -> None:
        """Refuse rows whose settings (sampling rows, of ``settings_id`` or all) or screened row (trained rows)
        are missing: a join would drop them silently."""
        if settings_id is not None:
            bad = self._read("SELECT r.id, r.settings_id FROM sampling r WHERE r.settings_id = ? AND NOT EXISTS "
                             "(SELECT 1 FROM settings s WHERE s.settings_id = r.settings_id) LIMIT 1",
                             (str(settings_id),))
        else:
            bad = self._read("SELECT r.id, r.settings_id FROM sampling r LEFT JOIN settings s "
                             "ON s.settings_id = r.settings_id WHERE s.settings_id IS NULL ORDER BY r.id LIMIT 1")
        if bad:
            (rid, sid), = bad
            raise StoreError(f"{self.path!r}: sampling row {rid} refers to settings id {sid!r}, which is not in the "
                             "settings table; the database is damaged: restore a copy or screen again into a new "
                             "database")
        bad = trained and self._read("SELECT t.id, t.sampling_id FROM trained t LEFT JOIN sampling s "
                                     "ON s.id = t.sampling_id WHERE s.id IS NULL ORDER BY t.id LIMIT 1")
        if bad:
            (tid, sid), = bad
            raise StoreError(f"{self.path!r}: trained row {tid} refers to sampling row {sid}, which is not in the "
                             "sampling table; the database is damaged: restore a copy or validate again into a new "
                             "database")

    def add_costs(self, rows: Iterable[dict], *, sampling_id: int | None = None) -> None:
        """Append measured costs (Table 4: :func:`mae_ort.study.jobs.measure_costs` rows)."""
        records = [(sampling_id, r["kind"], r["units"], r["look_back"], r.get("epochs"), r.get("samples"),
                    r["work_seconds"], r.get("setup_seconds"), r["process_seconds"], int(r["peak_rss_bytes"]), _now())
                   for r in rows]
        with self._transaction() as conn:
            conn.executemany(f"INSERT INTO trained_costs ({', '.join(_COST_COLUMNS)}) "
                             f"VALUES ({', '.join('?' * len(_COST_COLUMNS))})", records)

    def costs_frame(self):
        """The measured costs as a DataFrame (possibly empty)."""
        import pandas as pd

        rows = self._read(f"SELECT {', '.join(_COST_COLUMNS)} FROM trained_costs ORDER BY id")
        return pd.DataFrame(rows, columns=list(_COST_COLUMNS))

    # -- own ONNX models (mae_ort.sampling.own) ---------------------------------------------------
    def add_own_models(self, models: Iterable[dict]) -> int:
        """Record own ONNX models (dicts with ``digest``, ``options``, ``file``, ``n_weights``, ``tensors`` (a list of
        ``[name, shape]``) and ``settings`` (their options as text)); a model already recorded keeps its first record.
        Returns those added."""
        lines = [(str(m["digest"]), str(m["options"]), str(m["file"]), int(m["n_weights"]),
                  json.dumps(m["tensors"]), str(m["settings"]), _now()) for m in models]
        if not lines:
            return 0
        with self._transaction() as conn:
            conn.execute(_OWN_MODELS_SCHEMA)
            before = conn.total_changes
            conn.executemany("INSERT INTO own_models (digest, options, file, n_weights, tensors, settings, created) "
                             "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING", lines)
            return conn.total_changes - before

    def own_models_frame(self):
        """The recorded own ONNX models: ``activation`` (the content hash), ``recurrent_activation`` (the options'
        hash), ``model_file``, ``n_weights``, ``tensors`` (JSON), ``options`` (JSON); empty when there are none."""
        import pandas as pd

        cols = ["activation", "recurrent_activation", "model_file", "n_weights", "tensors", "options"]
        if not self._read("SELECT 1 FROM sqlite_master WHERE type='table' AND name='own_models'"):
            return pd.DataFrame(columns=cols)
        rows = self._read("SELECT digest, options, file, n_weights, tensors, settings FROM own_models")
        return pd.DataFrame(rows, columns=cols)


class _NeedsUpgrade(StoreError):
    """A read-only open of a database of an older schema."""


def open_store(store=None, *, create: bool = True, readonly: bool = False) -> Store:
    """Resolve a store argument.

    Parameters
    ----------
    store : None, str, Path or Store
        ``None``: a new in-memory store; a path: a :class:`SQLiteStore` on that file
        (``sqlite:///path`` is accepted too); a :class:`Store`: returned unchanged.
    create : bool
        Create a missing file (``False``: a missing file raises).
    readonly : bool
        Open an existing file for reading only (see :class:`SQLiteStore`).

    Raises
    ------
    StoreError
        As :class:`SQLiteStore`.
    """
    if isinstance(store, Store):
        return store
    if store is None:
        return SQLiteStore(":memory:")
    if isinstance(store, (str, Path)):
        text = str(store)
        if text.startswith("sqlite:///"):
            text = text[len("sqlite:///"):]
        if not text:
            raise StoreError("the results database path is empty")
        try:
            return SQLiteStore(text, create=create, readonly=readonly)
        except _NeedsUpgrade:
            import os

            if not (os.access(text, os.W_OK) and os.access(os.path.dirname(os.path.abspath(text)), os.W_OK)):
                raise
            SQLiteStore(text, create=False).close()  # a writable file: upgrade it in place, then read it
            return SQLiteStore(text, create=create, readonly=True)
    raise StoreError(f"The 'store' parameter must be None, a path or a Store. Got {store!r} instead.")
