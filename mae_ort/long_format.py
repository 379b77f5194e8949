"""Long-format tables: many series in one table, one line per (series, time point).

A long table names each line's series in an id column, its time in an index column and its value
in target columns: NeuralForecast's and StatsForecast's ``unique_id``, ``ds``, ``y`` (the default
names where the table has them; Nixtla, "Data requirements", nixtla.github.io/statsforecast).
:func:`read_long` cuts it into one :class:`~mae_ort.data.Series` per id, each validated and
scaled on its own by :func:`mae_ort.data.prepare` and named by its id (the label its stored rows
carry), in a :class:`LongTable`.

Bad input: duplicate timestamps in a series are refused, naming the series; a series whose
timestamps are unevenly spaced (gaps, or weekday-only readings with a holiday missing) is kept,
its points taken as consecutive steps, with one :class:`GapWarning` naming it.  Dates whose
spacing pandas recognises as a frequency (``pandas.infer_freq``: daily, business days,
weekly, ...) are regular.  Lines are sorted by the index within each series (stable).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from .data import Series, csv_format, prepare, read_csv
from .errors import DataError, InvalidParameterError, MaeOrtWarning

__all__ = ["LongTable", "GapWarning", "read_long", "long_id_column", "NIXTLA_COLUMNS"]

#: The default id, index and target column names (Nixtla's long format), used where a table has them.
NIXTLA_COLUMNS = ("unique_id", "ds", "y")


class GapWarning(MaeOrtWarning):
    """A series of a long table has unevenly spaced timestamps; its points are used as consecutive steps."""


@dataclass(frozen=True)
class LongTable:
    """The series of a long-format table, each prepared on its own (:func:`read_long`).

    Attributes
    ----------
    series : tuple of Series
        One per id, in the order the ids first appear; ``Series.name`` is the id as text.
    id_col : str
        The id column.
    index_col : str or None
        The time column the lines were sorted by (None: the table's order).
    """

    series: tuple[Series, ...]
    id_col: str = "unique_id"
    index_col: str | None = None

    def __len__(self) -> int:
        return len(self.series)

    def __iter__(self) -> Iterator[Series]:
        return iter(self.series)

    @property
    def names(self) -> list[str]:
        """The series' ids, as text."""
        return [s.name for s in self.series]


def long_id_column(data, id_col=None, *, sep: str | None = None):
    """The id column of ``data`` when it is a long table (``id_col``, or ``unique_id`` where present), else None.

    ``data`` is a DataFrame, a CSV path (its first line split at ``sep``, default ``","``) or anything else
    (never long, unless ``id_col`` is given).
    """
    if id_col is not None:
        return id_col
    columns = getattr(data, "columns", None)
    if columns is None and isinstance(data, (str, Path)) and Path(data).is_file():
        try:
            with open(data, encoding="utf-8-sig") as f:
                first = f.readline()
        except (OSError, UnicodeDecodeError):
            return None  # prepare reports an unreadable file
        columns = [c.strip().strip('"') for c in first.split(sep or ",")]
    if columns is not None and NIXTLA_COLUMNS[0] in [str(c) for c in columns]:
        return NIXTLA_COLUMNS[0]
    return None


def read_long(data, *, id_col: str | None = None, index_col: str | None = None, input=None, target=None,
              scale: str = "none", sep: str | None = None, decimal: str | None = None,
              header: str | None = None) -> LongTable:
    """Cut a long-format table into its series, each validated and scaled on its own.

    Parameters
    ----------
    data : pandas.DataFrame or CSV path
        One line per (series, time point).
    id_col : str, optional
        The column naming each line's series (default ``unique_id``).
    index_col : str, optional
        The time column (default ``ds`` where the table has one; else the table's order is the time order).
        Dates (or text that parses as dates) or numbers.
    input, target : str or list of str, optional
        As :func:`mae_ort.data.prepare` (default target ``y`` where the table has it; the input defaults to
        the target).
    scale : {'none', 'minmax', 'minmax-1', 'standard'}
        Applied to each series on its own.
    sep, decimal, header : str, optional
        CSV files only (:func:`mae_ort.data.read_csv`).

    Returns
    -------
    LongTable

    Warns
    -----
    GapWarning
        Once per series whose timestamps are unevenly spaced (it is kept).

    Raises
    ------
    DataError
        No such column, a missing id, duplicate timestamps in a series (naming it), an index that is
        neither dates nor numbers, or a series that :func:`mae_ort.data.prepare` refuses (naming it).
    """
    import pandas as pd

    if isinstance(data, (str, Path)):
        data = read_csv(data, sep=sep, decimal=decimal, header="auto" if header is None else header)
    elif sep is not None or decimal is not None or header is not None:
        raise InvalidParameterError("sep, decimal and header apply to CSV files; pass a file path, or parse the "
                                    "data first")
    elif not isinstance(data, pd.DataFrame):
        raise InvalidParameterError(f"The 'data' parameter of read_long must be a DataFrame or a CSV path. Got "
                                    f"{type(data).__name__} instead.")
    else:
        csv_format(index_col=index_col, caller="read_long")  # checks index_col's type
    cols = [str(c) for c in data.columns]
    id_col = _column(cols, NIXTLA_COLUMNS[0] if id_col is None else id_col, "id", explicit=id_col is not None)
    if index_col is None and NIXTLA_COLUMNS[1] in cols:
        index_col = NIXTLA_COLUMNS[1]
    elif index_col is not None:
        index_col = _column(cols, index_col, "index", explicit=True)
    if target is None and input is None and NIXTLA_COLUMNS[2] in cols:
        target = NIXTLA_COLUMNS[2]
    if input is None and target is not None:
        input = target
    frame = data.copy()
    frame.columns = cols
    ids = frame[id_col]
    if ids.isna().any():
        row = int(ids.isna().to_numpy().argmax())
        raise DataError(f"the id column {id_col!r} is missing at row {row}: every line must name its series")
    if index_col is not None:
        frame["_time"] = _times(frame[index_col], index_col)
    out = []
    for key, part in frame.groupby(id_col, sort=False):
        name = str(key)
        if index_col is not None:
            part = part.sort_values("_time", kind="stable")
            _check_times(part["_time"], name, index_col)
            part = part.drop(columns=["_time"])
        part = part.drop(columns=[c for c in (id_col, index_col) if c is not None]).reset_index(drop=True)
        try:
            out.append(prepare(part, input=input, target=target, scale=scale, name=name))
        except DataError as e:
            raise DataError(f"series {name!r} of the long table: {e}") from e
    if not out:
        raise DataError("the long table has no lines")
    return LongTable(tuple(out), id_col=id_col, index_col=index_col)


def _column(cols: list[str], name, role: str, *, explicit: bool) -> str:
    if str(name) in cols:
        return str(name)
    import difflib

    close = difflib.get_close_matches(str(name), cols, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else f"; columns are {', '.join(cols[:10])}"
    how = "" if explicit else f" (a long table's default; name yours with --{role}-col / {role}_col=)"
    raise DataError(f"no {role} column {str(name)!r}{how}{hint}")


def _times(col, name: str):
    """The index column as datetimes or numbers (a one-line error otherwise)."""
    import pandas as pd

    if pd.api.types.is_numeric_dtype(col.dtype) and not pd.api.types.is_bool_dtype(col.dtype):
        if col.isna().any():
            raise DataError(f"the index column {name!r} is missing at row {int(col.isna().to_numpy().argmax())}")
        return col
    try:
        with warnings.catch_warnings():  # "could not infer format": each cell is then parsed on its own
            warnings.simplefilter("ignore", UserWarning)
            times = pd.to_datetime(col, errors="raise")
    except (ValueError, TypeError) as e:
        raise DataError(f"the index column {name!r} holds neither dates nor numbers (such as "
                        f"{str(col.iloc[0])!r}); name the time column with --index-col / index_col=") from e
    if times.isna().any():
        raise DataError(f"the index column {name!r} is missing at row {int(times.isna().to_numpy().argmax())}")
    return times


def _check_times(times, name: str, index_col: str) -> None:
    """Refuse repeated timestamps; warn (:class:`GapWarning`) about unevenly spaced ones (``times`` sorted)."""
    import pandas as pd

    repeated = times[times.duplicated()]
    if len(repeated):
        raise DataError(f"series {name!r} has duplicate timestamps in {index_col!r} ({len(repeated)} repeated, "
                        f"the first {_text(repeated.iloc[0])}): one line per time point, please")
    if len(times) < 3:
        return
    if pd.api.types.is_datetime64_any_dtype(times.dtype):
        with warnings.catch_warnings():  # pandas 3 announces another return type; only None matters here
            warnings.simplefilter("ignore")
            freq = pd.infer_freq(pd.DatetimeIndex(times))
        if freq is not None:
            return
    else:
        steps = times.diff().iloc[1:].to_numpy()
        if (steps == steps[0]).all():
            return
    steps = times.diff().iloc[1:]
    at = int(steps.to_numpy().argmax()) + 1 if len(steps.unique()) > 1 else 1
    warnings.warn(f"series {name!r} has unevenly spaced timestamps in {index_col!r} (gaps, e.g. "
                  f"{_text(times.iloc[at - 1])} to {_text(times.iloc[at])}); its {len(times)} points are used as "
                  "consecutive steps", GapWarning, stacklevel=3)


def _text(t) -> str:
    """A timestamp as text, without a midnight time of day."""
    return str(t).removesuffix(" 00:00:00")
