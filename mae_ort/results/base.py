"""The storage contract: :class:`Store`, every method that code outside :mod:`mae_ort.results` calls on a results
store, with what it takes, returns and raises, and the rules every implementation keeps.

:class:`~mae_ort.results.store.SQLiteStore` is the one implementation (on a file or ``":memory:"``);
``tests/results/test_contract.py`` runs one test class over both, as Optuna's ``StorageTestCase`` runs over its
storages.  Imports nothing of mae-ort but :mod:`mae_ort.errors`.
"""

from __future__ import annotations

import abc
from typing import TYPE_CHECKING, Iterable

from ..errors import DataError

if TYPE_CHECKING:  # pragma: no cover
    from .store import Settings

__all__ = ["Store"]


class Store(abc.ABC):
    """Where screening rows, their scores, trained rows, measured costs and own models live.

    Consistency rules (every implementation; :mod:`mae_ort.results.store` says how SQLite keeps them):

    * **Settings identify rows.**  :meth:`add_settings` returns the settings' id (a hash of what decides a
      result); rows of different ids never mix, and adding the same settings twice returns the same id.
    * **First write wins.**  A sampling row is keyed by its settings id and :data:`~mae_ort.model.keys.KEY_COLUMNS`,
      a trained row by ``(sampling_id, split_key, train_key, seed, epochs)``, a score by ``(row id, name)``, an own
      model by its digest: writing an existing key again changes nothing and is not counted.  Stored values never
      change, except ``trained.test_sampling_id``, set once where it is NULL (:meth:`link_test_rows`).
    * **All or nothing.**  Each ``add_*`` call is one transaction: on any error nothing of it is kept.
    * **Resuming is a query.**  :meth:`done_keys` and :meth:`trained_budgets` say what is stored; there is no
      "running" state.
    * **Links hold.**  A score, trained row or cost names a stored sampling row; a sampling row names stored
      settings (an unknown settings id is refused).
    * **Errors.**  Database failures raise :class:`~mae_ort.errors.StoreError` (one line, cause chained);
      a settings prefix that names no settings or several raises :class:`~mae_ort.errors.DataError`.
    """

    @abc.abstractmethod
    def add_settings(self, settings: Settings) -> str:
        """Record ``settings`` (idempotent) and return their id.

        Raises
        ------
        StoreError
            On any database failure.
        """

    @abc.abstractmethod
    def add_results(self, settings_id: str, results: Iterable) -> int:
        """Store finished rows in one transaction; rows whose key exists are left alone.

        Parameters
        ----------
        settings_id : str
            From :meth:`add_settings`.
        results : iterable of SamplingResult

        Returns
        -------
        int
            Rows inserted (duplicates not counted).

        Raises
        ------
        StoreError
            Unknown settings id, or any database failure (nothing of the batch is kept).
        """

    @abc.abstractmethod
    def done_keys(self, settings_id: str) -> set[tuple]:
        """Natural keys (:data:`KEY_COLUMNS`) of the rows stored for ``settings_id``.

        Returns
        -------
        set of tuple
            Empty for settings with no rows (or not stored).
        """

    @abc.abstractmethod
    def frame(self, settings_id: str | None = None, *, look_back=None, depth=None, maes: bool = False):
        """The sampling rows as a pandas DataFrame.

        Args: ``settings_id`` (default: every settings), ``look_back`` / ``depth`` (only these), ``maes`` (add
        each row's MAEs as an array column).  Returns one row per stored sampling row, in ``id`` order, with the
        stored scores joined as ``score_<name>`` columns (see :meth:`SQLiteStore.frame`).  Raises
        :class:`~mae_ort.errors.StoreError` on a database failure or a row whose settings are missing.
        """

    @abc.abstractmethod
    def settings_frame(self):
        """One line per settings id, with its row count, as a DataFrame."""

    @abc.abstractmethod
    def add_scores(self, rows: Iterable[tuple[int, str, float]]) -> int:
        """Store scores of stored rows in one transaction.

        Args: ``rows`` of ``(sampling row id, score name, value)`` (a non-finite value is stored as NULL).
        Returns the scores added (an existing ``(row id, name)`` is kept and not counted).  Raises
        :class:`~mae_ort.errors.StoreError` on a database failure (nothing of the batch is kept).
        """

    @abc.abstractmethod
    def add_trained(self, rows: Iterable[dict]) -> int:
        """Store trained rows (dicts with :data:`~mae_ort.results.schema.TRAINED_COLUMNS` but ``created``) in
        one transaction: all of one architecture's budgets land together or not at all.

        Returns the rows inserted (an existing ``(sampling_id, split_key, train_key, seed, epochs)`` is left
        alone and not counted).  Raises :class:`~mae_ort.errors.StoreError` on a database failure.
        """

    @abc.abstractmethod
    def link_test_rows(self, links: dict[int, int], *, split_key: str) -> None:
        """Set ``test_sampling_id`` of the trained rows of ``{sampling_id: test sampling id}`` on ``split_key``
        where it is NULL (a set link is never changed).  Raises :class:`~mae_ort.errors.StoreError`."""

    @abc.abstractmethod
    def trained_budgets(self, sampling_ids, *, split_key: str, train_key: str, seed: int) -> dict[int, set[int]]:
        """``{sampling_id: epoch budgets stored}`` of these rows on these data, training settings and seed
        (rows with none are absent).  Raises :class:`~mae_ort.errors.StoreError`."""

    @abc.abstractmethod
    def trained_frame(self, *, sampling_ids=None, split_key: str | None = None, train_key: str | None = None,
                      seed: int | None = None, depth=None, link: str = "sampling_id"):
        """Trained rows joined with the sampling statistics they are compared with, one row per trained
        architecture and budget (see :meth:`SQLiteStore.trained_frame`); the filters keep only what they name.
        Raises :class:`~mae_ort.errors.StoreError` (also for a trained row whose sampling row is missing)."""

    @abc.abstractmethod
    def add_costs(self, rows: Iterable[dict], *, sampling_id: int | None = None) -> None:
        """Append measured costs (rows of :func:`mae_ort.study.jobs.measure_costs`), tagged with ``sampling_id``,
        in one transaction.  Raises :class:`~mae_ort.errors.StoreError`."""

    @abc.abstractmethod
    def costs_frame(self):
        """The measured costs as a DataFrame (empty when none are stored)."""

    @abc.abstractmethod
    def add_own_models(self, models: Iterable[dict]) -> int:
        """Record own ONNX models (dicts with ``digest``, ``options``, ``file``, ``n_weights``, ``tensors``,
        ``settings``); returns those added (a known digest is kept and not counted).  Raises
        :class:`~mae_ort.errors.StoreError`."""

    def settings_id(self, prefix: str) -> str:
        """The settings id that ``prefix`` names (a unique prefix is enough).

        Raises
        ------
        DataError
            No settings id starts with ``prefix``, or several do.
        """
        ids = list(self.settings_frame()["settings_id"])
        hits = [i for i in ids if i.startswith(str(prefix))]
        if len(hits) == 1:
            return hits[0]
        if not hits:
            raise DataError(f"no settings {prefix!r} in the database; it has {', '.join(ids) or 'none'}")
        raise DataError(f"settings {prefix!r} is ambiguous: {', '.join(hits)}")

    def close(self) -> None:
        """Release the handle (the store reopens lazily if used again)."""

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()
