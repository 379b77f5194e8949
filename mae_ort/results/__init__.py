"""Results: the one owner of the database.

Holds the storage contract (:class:`~.base.Store`, :mod:`.base`), the tables' schema, version and
migrations (:mod:`.schema`), and the SQLite store: the connection, pragmas, the sampling rows of
screens and searches, the trained rows of validations and trainings, and the measured costs
(:mod:`.store`).  Nothing else in mae-ort writes SQL.

Must not import: screening, study, cli (and nothing about how rows are computed).
"""

from .store import KEY_COLUMNS, SCHEMA_VERSION, Settings, SQLiteStore, Store, open_store

__all__ = ["KEY_COLUMNS", "SCHEMA_VERSION", "Settings", "SQLiteStore", "Store", "open_store"]
