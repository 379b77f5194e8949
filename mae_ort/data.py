"""Series in, windows out: loading, validation, scaling, train/test splits and the paper's sine.

A :class:`Series` holds the input columns and target columns of a time series as
float64 arrays; :func:`windows` cuts it into one-step-ahead windows
``X[i] = inputs[i : i+LB]``, ``y[i] = targets[i+LB]``.  A :class:`Scaler` is fitted on
one part and applied to another; a :class:`TrainTestSplit` is a training part and the
test part that follows it, scaled with the training part's parameters.

CSV files (:func:`read_csv`) are read strictly: a blank line inside the data, a stray
text cell in a numeric column, rows with more fields than the header, or numbers
written with the other decimal mark are one-line :class:`~mae_ort.errors.DataError`,
never a silently shifted or truncated series.  Columns of text or dates are ignored
unless named (``index_col`` sets one aside as the index).

Imports nothing of mae-ort but :mod:`mae_ort.errors` and :mod:`mae_ort._checks`
(models, runtimes and storage build on it).
"""

from __future__ import annotations

import io
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from ._checks import check_int, check_option, check_real
from .errors import DataError, InvalidParameterError

__all__ = ["Series", "Windows", "Scaler", "TrainTestSplit", "sine", "prepare", "read_csv", "csv_format", "windows",
           "SCALINGS", "HEADERS", "FLOAT32_MAX", "sine_split", "csv_split", "split_from_spec", "header_note"]

#: Scalings: min-max to [0, 1] or [-1, 1], or standardisation (mean 0, sd 1).
SCALINGS = ("none", "minmax", "minmax-1", "standard")

#: Whether a CSV file's first line names its columns: ``auto`` (unless every cell is a number), ``yes``, ``none``.
HEADERS = ("auto", "yes", "none")


@dataclass(frozen=True)
class Series:
    """A time series split into model inputs and targets.

    Attributes
    ----------
    inputs : ndarray of shape (T, n_in)
    targets : ndarray of shape (T, n_out)
    input_names, target_names : tuple of str
    name : str
        A label (file name or ``"sine"``), used to key stored results.
    scale : str
        The scaling applied (one of :data:`SCALINGS`).
    """

    inputs: np.ndarray
    targets: np.ndarray
    input_names: tuple[str, ...]
    target_names: tuple[str, ...]
    name: str = "series"
    scale: str = "none"
    params: dict = field(default_factory=dict, compare=False)

    @property
    def length(self) -> int:
        """Number of time points T."""
        return int(self.inputs.shape[0])

    def fingerprint(self) -> str:
        """A short hash of the values, names and scaling (keys stored results)."""
        import hashlib

        h = hashlib.sha256()
        for a in (self.inputs, self.targets):
            h.update(np.ascontiguousarray(a, dtype=np.float64).tobytes())
        h.update(repr((self.input_names, self.target_names, self.scale)).encode())
        return h.hexdigest()[:16]

    def split(self, start: int, stop: int | None = None) -> "Series":
        """The rows ``start:stop`` as a new series (scaling kept)."""
        return Series(
            self.inputs[start:stop], self.targets[start:stop], self.input_names,
            self.target_names, f"{self.name}[{start}:{'' if stop is None else stop}]", self.scale, self.params,
        )


#: Target forms: ``level`` (the network forecasts the target's next value) or ``delta`` (it forecasts the
#: change from the target's last observed value, which is added back: a residual connection to persistence).
TARGET_FORMS = ("level", "delta")


def check_target_form(value, caller: str) -> str:
    """``value`` as one of :data:`TARGET_FORMS` (case-insensitive); else :class:`InvalidParameterError`."""
    return check_option(value.lower() if isinstance(value, str) else value, "target_form", caller, TARGET_FORMS)


@dataclass(frozen=True)
class Windows:
    """One-step-ahead windows of a series.

    Attributes
    ----------
    X : ndarray of shape (N, LB, n_in), float32
    y : ndarray of shape (N, n_out), float32
        What the network's output is compared with: the target's next value (``level``), or its change
        from the last observed value (``delta``: ``y = next - last``, so ``|out - y| = |last + out - next|``
        and MAEs stay in the target's own units).
    last : ndarray of shape (N, n_out), float32, or None
        The target's last observed value of each window (``targets[i + LB - 1]``, also when the target
        is not among the inputs); None for windows built by hand.
    target_form : {'level', 'delta'}
        Which of the two ``y`` holds.
    """

    X: np.ndarray
    y: np.ndarray
    last: np.ndarray | None = None
    target_form: str = "level"

    @property
    def n(self) -> int:
        """Number of windows N."""
        return int(self.X.shape[0])

    @property
    def look_back(self) -> int:
        """Window length LB."""
        return int(self.X.shape[1])

    @property
    def n_in(self) -> int:
        return int(self.X.shape[2])

    @property
    def n_out(self) -> int:
        return int(self.y.shape[1])


def sine(points: int = 1000, *, rate: float = 10.0, amplitude: float = 1.0, frequency: float = 1.0,
         phase: float = 0.0) -> np.ndarray:
    """The paper's series ``A sin(2 pi f t + phi)`` at ``rate`` points per second.

    The default is the paper's: ``t`` in ``[0, 100)`` at 10 points per second
    (1000 points), ``A = f = 1``, ``phi = 0``.
    """
    points = check_int(points, "points", "sine", low=1)
    rate = check_real(rate, "rate", "sine", low=0.0, low_open=True)
    amplitude = check_real(amplitude, "amplitude", "sine")
    frequency = check_real(frequency, "frequency", "sine")
    phase = check_real(phase, "phase", "sine")
    t = np.arange(points, dtype=np.float64) / rate
    return amplitude * np.sin(2.0 * np.pi * frequency * t + phase)


#: The largest magnitude a float32 holds: the runtimes compute in float32.
FLOAT32_MAX = float(np.finfo(np.float32).max)

_SEP_NAMES = {"\\t": "\t", "tab": "\t", "space": " "}
_DECIMAL_COMMA = r"[+-]?\d*,\d+(?:[eE][+-]?\d+)?"
_DECIMAL_POINT = r"[+-]?(?:\d+\.\d*|\.\d+)(?:[eE][+-]?\d+)?"
_FORMAT_HINT = "read it with sep=';' and decimal=',' (--sep ';' --decimal ',')"


def _check_char(value, name: str, caller: str, default: str, examples: str) -> str:
    if value is None:
        return default
    if isinstance(value, str):
        char = _SEP_NAMES.get(value.lower(), value) if name == "sep" else value
        if len(char) == 1 and char not in "\"\r\n":
            return char
    raise InvalidParameterError(
        f"The {name!r} parameter of {caller} must be a single character such as {examples}. Got {value!r} instead."
    )


def csv_format(sep: str | None = None, decimal: str | None = None, index_col: str | None = None, *,
               header: str | None = None, caller: str = "read_csv") -> dict:
    """The CSV options, checked, with their defaults filled in.

    Parameters
    ----------
    sep : str, optional
        The field separator, one character (default ``","``; ``"\\t"`` or ``"tab"`` for a tab).
    decimal : str, optional
        The decimal mark, one character other than ``sep`` (default ``"."``).
    index_col : str, optional
        The name of a column to use as the index (never an input or a target).
    header : {'auto', 'yes', 'none'}, optional
        Whether the first line names the columns (default ``"auto"``, see :func:`read_csv`).

    Returns
    -------
    dict
        ``{"sep": ..., "decimal": ..., "index_col": ..., "header": ...}``, e.g.
        ``{"sep": ",", "decimal": ".", "index_col": None, "header": "auto"}``.
    """
    sep = _check_char(sep, "sep", caller, ",", "',', ';' or '\\t'")
    decimal = _check_char(decimal, "decimal", caller, ".", "'.' or ','")
    if decimal == sep:
        raise InvalidParameterError(
            f"The 'decimal' parameter of {caller} must differ from sep={sep!r} (files with decimal commas are "
            f"separated by ';': sep=';'). Got {decimal!r} instead."
        )
    if index_col is not None and (isinstance(index_col, bool) or not isinstance(index_col, (str, int))):
        raise InvalidParameterError(
            f"The 'index_col' parameter of {caller} must be a column name or None. Got {index_col!r} instead."
        )
    header = check_option(header_opt("auto" if header is None else header), "header", caller, HEADERS)
    return {"sep": sep, "decimal": decimal, "index_col": index_col, "header": header}


def read_csv(path: str | Path, *, sep: str | None = None, decimal: str | None = None, index_col: str | None = None,
             header: str = "auto"):
    """Read a CSV file into a pandas DataFrame, with one-line errors.

    Parameters
    ----------
    path : str or Path
        A UTF-8 text file: a header line, then one time point per line.
    sep : str, optional
        The field separator, one character (default ``","``; ``"\\t"`` or ``"tab"`` for a tab).
    decimal : str, optional
        The decimal mark (default ``"."``; ``","`` for files written with decimal
        commas, which are separated by ``";"``).
    index_col : str, optional
        A column to use as the index (e.g. the dates): it is never an input or a target.
    header : {'auto', 'yes', 'none'}
        Whether the first line names the columns.  ``auto``: it does unless every one of its
        cells parses as a number, in which case it is data and the columns are numbered
        ``"0" .. "N-1"`` (so a headerless file loses no point).

    Returns
    -------
    pandas.DataFrame
        ``attrs["path"]`` is the file, ``attrs["first_line"]`` the file's line number of the
        first data row (used in :func:`prepare`'s messages) and ``attrs["header"]`` whether the
        first line was a header.

    Raises
    ------
    DataError
        A missing, unreadable or empty file; a blank line inside the data; rows with
        more fields than the header; a file that looks semicolon-separated or written
        with decimal commas when ``sep``/``decimal`` say otherwise; no such ``index_col``.
    """
    import pandas as pd

    fmt = csv_format(sep, decimal, index_col, header=header)
    sep, decimal, header_mode = fmt["sep"], fmt["decimal"], fmt["header"]
    if not isinstance(path, (str, os.PathLike)):
        raise InvalidParameterError(f"The 'path' parameter of read_csv must be a file path. Got {path!r} instead.")
    p = Path(path)
    where = repr(str(p))
    if not p.exists():
        raise DataError(f"cannot read {where}: no such file")
    if p.is_dir():
        raise DataError(f"cannot read {where}: it is a folder, not a CSV file")
    try:
        raw = p.read_bytes()
    except OSError as e:
        raise DataError(f"cannot read {where}: {e.strerror or type(e).__name__}") from e
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise DataError(f"cannot read {where} as CSV: byte {e.start} (0x{raw[e.start]:02x}) is not UTF-8 text; "
                        "save the file as UTF-8") from e
    lines = [ln.rstrip("\r") for ln in text.split("\n")]
    filled = [i for i, ln in enumerate(lines) if ln.strip()]
    if not filled:
        raise DataError(f"cannot read {where} as CSV: the file is empty")
    first, last = filled[0], filled[-1]
    blank = [i for i in range(first, last + 1) if not lines[i].strip()]
    if blank:
        more = f" (and {len(blank) - 1} more)" if len(blank) > 1 else ""
        raise DataError(f"line {blank[0] + 1} of {where} is blank{more}: a blank line inside a series is a missing "
                        "time point; remove the line or fill in its values")
    has_header = {"yes": True, "none": False}.get(header_mode)
    header = lines[first]
    if has_header is None:
        has_header = not _all_numbers(header, sep, decimal)
    if sep != ";" and ";" in header and sep not in header:
        raise DataError(f"{where} looks semicolon-separated (its header is {header[:60]!r}); {_FORMAT_HINT}")
    body = "\n".join(lines[first:last + 1])
    try:
        frame = pd.read_csv(io.StringIO(body), sep=sep, decimal=decimal, skip_blank_lines=False,
                            header=0 if has_header else None)
        if not has_header:
            frame.columns = [str(c) for c in frame.columns]
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError, TypeError) as e:
        reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise DataError(f"cannot read {where} as CSV: {reason}") from e
    if not isinstance(frame.index, pd.RangeIndex):  # pandas made an index of the surplus leading fields
        n_head, row = _longer_row(body, sep)
        raise DataError(f"line {first + 1 + row} of {where} has more fields than the header's {n_head}: a stray "
                        f"{sep!r}, or decimal commas in a {sep!r}-separated file? Fix the file, or if its numbers use "
                        f"decimal commas, separate its fields with ';' and {_FORMAT_HINT}")
    if frame.shape[0] == 0:
        raise DataError(f"{where} has no data rows")
    for c in frame.columns:
        _check_decimal_mark(frame[c], c, decimal, where)
    if fmt["index_col"] is not None:
        frame = frame.set_index(_find_column(frame, fmt["index_col"], "index"))
    frame.attrs.update(path=str(p), first_line=first + 2 if has_header else first + 1, header=has_header,
                       header_mode=header_mode)
    return frame


def header_opt(value) -> str:
    """The ``header`` option as given (``auto``, ``yes`` or ``none``), lower-cased when it is text."""
    return value.lower() if isinstance(value, str) else value


def _all_numbers(line: str, sep: str, decimal: str) -> bool:
    """Whether every cell of a CSV line parses as a number (then it is data, not a header)."""
    cells = [c.strip().strip('"') for c in line.split(sep)]
    try:
        for c in cells:
            float(c.replace(decimal, ".") if decimal != "." else c)
    except ValueError:
        return False
    return bool(cells)


def _longer_row(body: str, sep: str) -> tuple[int, int]:
    """The header's field count and the index (header = 0) of the first row with more fields."""
    import csv

    rows = csv.reader(io.StringIO(body), delimiter=sep)
    n_head = len(next(rows))
    for i, row in enumerate(rows, start=1):
        if len(row) > n_head:
            return n_head, i
    return n_head, 1  # pragma: no cover - pandas and csv agree on the field counts


def _text_cells(col):
    """The non-missing cells of a text column, as stripped strings (None for a column of another dtype)."""
    import pandas as pd

    if not (pd.api.types.is_object_dtype(col.dtype) or pd.api.types.is_string_dtype(col.dtype)):
        return None
    return col.dropna().astype(str).str.strip()


def _check_decimal_mark(col, label, decimal: str, where: str) -> None:
    """Refuse a text column of numbers written with the other decimal mark (silently wrong otherwise)."""
    cells = _text_cells(col)
    if cells is None or cells.empty:
        return
    if decimal != "," and cells.str.fullmatch(_DECIMAL_COMMA).mean() >= 0.5:
        example = cells[cells.str.fullmatch(_DECIMAL_COMMA)].iloc[0]
        raise DataError(f"column {str(label)!r} of {where} holds numbers with decimal commas (such as {example!r}); "
                        f"{_FORMAT_HINT}")
    if decimal == "," and cells.str.fullmatch(_DECIMAL_POINT).mean() >= 0.5:
        example = cells[cells.str.fullmatch(_DECIMAL_POINT)].iloc[0]
        raise DataError(f"column {str(label)!r} of {where} holds numbers with decimal points (such as {example!r}) "
                        "but decimal=',' was given; read it without decimal=',' (--decimal)")


def _kind(col) -> str:
    """``numeric``, ``text-numeric`` (numbers with stray text cells), ``text``, ``dates``, ``bool``, ``empty``
    (every cell missing, e.g. after a trailing separator) or ``other``."""
    import pandas as pd

    dtype = col.dtype
    if len(col) and col.isna().all():
        return "empty"
    if pd.api.types.is_bool_dtype(dtype):
        return "bool"
    if pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_complex_dtype(dtype):
        return "numeric"
    if pd.api.types.is_datetime64_any_dtype(dtype) or pd.api.types.is_timedelta64_dtype(dtype):
        return "dates"
    cells = _text_cells(col)
    if cells is None:
        return "other"
    numbers = pd.to_numeric(cells, errors="coerce").notna().mean()
    return "text-numeric" if numbers >= 0.5 else "text"


def _find_column(frame, name, role: str):
    """The label of ``frame``'s column ``name`` (matched as given, then as text), or a one-line error."""
    labels = list(frame.columns)
    for label in labels:
        if type(label) is type(name) and label == name:
            return label
    for label in labels:
        if str(label) == str(name):
            return label
    import difflib

    cols = [str(c) for c in labels]
    close = difflib.get_close_matches(str(name), cols, n=1)
    more = ", ..." if len(cols) > 10 else ""
    hint = f"; did you mean {close[0]!r}?" if close else f"; columns are {', '.join(cols[:10])}{more}"
    raise DataError(f"no {role} column {name!r}{hint}")


def _columns(frame, names: Sequence | None, role: str, kinds: dict) -> list:
    """The labels of the ``role`` columns: ``names``, or else the one numeric column."""
    if names is None:
        numeric = [c for c in frame.columns if kinds[c] in ("numeric", "text-numeric")]
        if len(numeric) != 1:
            shown = ", ".join(map(str, numeric[:8])) + (", ..." if len(numeric) > 8 else "")
            other = [str(c) for c in frame.columns if c not in numeric]
            ignored = f"; non-numeric columns are ignored: {', '.join(other[:8])}" if other else ""
            raise DataError(f"choose the {role} column(s): the data has {len(numeric)} numeric columns"
                            f"{f' ({shown})' if numeric else ''}{ignored}")
        return numeric
    return [_find_column(frame, n, role) for n in names]


def _numeric_column(col, label, kind: str, where) -> np.ndarray:
    """Column ``label`` as float64 (NaN where missing), or a one-line error naming its first bad cell."""
    import pandas as pd

    name = str(label)
    if kind == "numeric":
        return col.to_numpy(dtype=np.float64, na_value=np.nan)
    if kind == "empty":  # named: the NaN check names its first cell
        return np.full(len(col), np.nan)
    if kind == "text-numeric":
        values = pd.to_numeric(col, errors="coerce")
        bad = np.flatnonzero((col.notna() & values.isna()).to_numpy())
        if bad.size:
            cell = str(col.iloc[bad[0]]).strip()
            more = f" (and {bad.size - 1} more text cell(s))" if bad.size > 1 else ""
            raise DataError(f"column {name!r} has the text {cell!r} at {_at(int(bad[0]), where)} where a number is "
                            f"expected{more}; fix or remove it")
        return values.to_numpy(dtype=np.float64, na_value=np.nan)
    as_index = f", or make it the index with index_col={name!r} (--index-col {name})" if where else ""
    if kind == "text":
        example = str(_text_cells(col).iloc[0])
        raise DataError(f"column {name!r} is not numeric (it holds text such as {example!r}); choose numeric "
                        f"input and target columns{as_index}")
    if kind == "dates":
        raise DataError(f"column {name!r} holds dates, not numbers; choose numeric input and target columns"
                        f"{as_index}")
    if kind == "bool":
        raise DataError(f"column {name!r} holds booleans, not numbers; convert it to 0/1 first")
    raise DataError(f"column {name!r} is not numeric (dtype {col.dtype}); choose numeric input and target columns")


def _at(row: int, where) -> str:
    """Where row ``row`` (0-based) is: a line of the file, or a row of the data."""
    if where is None:
        return f"row {row}"
    first_line, path = where
    return f"line {first_line + row} of {path!r}"


def _as_matrix(values, name: str, where=None) -> np.ndarray:
    try:
        a = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as e:
        raise DataError(f"{name} must be numeric: {str(e).splitlines()[0] if str(e) else type(e).__name__}") from e
    if a.ndim == 1:
        a = a[:, None]
    if a.ndim != 2:
        raise DataError(f"{name} must be 1-D (T,) or 2-D (T, columns); got shape {a.shape}")
    if a.shape[0] == 0 or a.shape[1] == 0:
        raise DataError(f"{name} is empty")
    bad = ~np.isfinite(a)
    if bad.any():
        row, col = np.argwhere(bad)[0]
        kind = "NaN" if np.isnan(a[row, col]) else "infinite"
        raise DataError(
            f"{name} has {int(bad.sum())} NaN or infinite value(s); the first is {kind} at {_at(int(row), where)}"
            f"{'' if a.shape[1] == 1 else f', column {col}'}: fill or drop them first"
        )
    return a


def _check_float32(a: np.ndarray, name: str, where=None) -> None:
    """Refuse values that a float32 cannot hold (they would become inf in the runtimes)."""
    big = np.abs(a) > FLOAT32_MAX
    if big.any():
        row, col = np.argwhere(big)[0]
        raise DataError(
            f"{name} has {int(big.sum())} value(s) beyond float32's range (|x| > 3.4e38), the first "
            f"{a[row, col]:.3g} at {_at(int(row), where)}{'' if a.shape[1] == 1 else f', column {col}'}; "
            "rescale the series (scale='standard', --scale standard)"
        )


@dataclass(frozen=True)
class Scaler:
    """Per-column scaling fitted on one part of a series and applied to any other.

    Attributes
    ----------
    kind : {'none', 'minmax', 'minmax-1', 'standard'}
        Min-max to [0, 1] or [-1, 1], or standardisation (mean 0, population sd 1).
    params : dict
        ``{"min": [...], "max": [...]}`` or ``{"mean": [...], "sd": [...]}`` (one value per
        column), empty for ``none``.
    """

    kind: str = "none"
    params: dict = field(default_factory=dict)

    @classmethod
    def fit(cls, kind: str, ref: np.ndarray, name: str = "the series") -> "Scaler":
        """Fit ``kind`` on ``ref`` of shape (T, k).

        Raises
        ------
        DataError
            A constant column (it cannot be scaled).
        """
        kind = check_option(kind or "none", "scale", "Scaler", SCALINGS)
        if kind == "none":
            return cls("none", {})
        lo, hi = ref.min(axis=0), ref.max(axis=0)
        if np.any(hi == lo):
            what = "standardise" if kind == "standard" else "min-max scale"
            raise DataError(f"cannot {what} {name}: a column is constant")
        if kind == "standard":
            mu, sd = _mean_sd(ref)
            return cls(kind, {"mean": mu.tolist(), "sd": sd.tolist()})
        return cls(kind, {"min": lo.tolist(), "max": hi.tolist()})

    def apply(self, a: np.ndarray) -> np.ndarray:
        """``a`` (T, k) scaled with the fitted parameters.

        Never overflows on the way: where a difference of two finite values would exceed
        float64's range, the scaled value is computed from the values' halves (min-max) or
        their quotients by the sd (standard) instead; a value whose *scaled* size is
        beyond float64 stays infinite (and :func:`prepare` refuses it).
        """
        if self.kind == "none" or not self.params:
            return a
        with np.errstate(over="ignore", invalid="ignore"):
            if self.kind == "standard":
                mu, sd = np.asarray(self.params["mean"]), np.asarray(self.params["sd"])
                out = (a - mu) / sd
                return _refill(out, lambda: a / sd - mu / sd)
            lo, hi = np.asarray(self.params["min"]), np.asarray(self.params["max"])
            halves = lambda: (a / 2 - lo / 2) / (hi / 2 - lo / 2)  # noqa: E731
            span = hi - lo
            if np.isfinite(span).all():
                unit = _refill((a - lo) / span, halves)
            else:  # a span beyond float64 (values near -1.8e308 and 1.8e308): every cell from the halves
                unit = np.where(np.isfinite(span), (a - lo) / span, halves())
            return unit if self.kind == "minmax" else 2.0 * unit - 1.0


def _refill(out: np.ndarray, exact) -> np.ndarray:
    """``out``, with its non-finite cells (an intermediate overflowed) taken from ``exact()``."""
    bad = ~np.isfinite(out)
    if bad.any():
        out = np.where(bad, exact(), out)
    return out


def _mean_sd(ref: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-column mean and population sd, for any finite float64 columns.

    numpy's own two-pass mean and sd where they stay finite and nonzero (so ordinary
    series scale exactly as before); columns whose sum or squares overflow (values near
    1e300) or underflow (near 1e-300) are divided by their largest magnitude first and the
    results multiplied back (the sd of values in ``[-m, m]`` is at most ``m``).
    """
    with np.errstate(over="ignore", invalid="ignore", under="ignore"):
        mu, sd = ref.mean(axis=0), ref.std(axis=0)
        redo = ~(np.isfinite(mu) & np.isfinite(sd) & (sd > 0))
        if redo.any():
            m = np.abs(ref[:, redo]).max(axis=0)
            z = ref[:, redo] / m
            mu[redo] = z.mean(axis=0) * m
            sd[redo] = np.minimum(z.std(axis=0), 1.0) * m
    return mu, sd


def _as_list(v, name: str):
    if v is None:
        return None
    if isinstance(v, (str, int, np.integer)) and not isinstance(v, bool):
        return [v]
    if isinstance(v, (list, tuple, np.ndarray)) or (hasattr(v, "__iter__") and not isinstance(v, (bytes, dict))):
        out = list(v)
        if out and all(isinstance(x, (str, int, np.integer)) and not isinstance(x, bool) for x in out):
            return out
    raise InvalidParameterError(
        f"The {name!r} parameter of prepare must be a column name or index, or a list of them. Got {v!r} instead."
    )


def prepare(
    data,
    *,
    input: Sequence[str] | str | None = None,
    target: Sequence[str] | str | None = None,
    scale: str = "none",
    name: str | None = None,
    sep: str | None = None,
    decimal: str | None = None,
    index_col: str | None = None,
    header: str | None = None,
    check_range: bool = True,
) -> Series:
    """Validate a series and split it into inputs and targets.

    Parameters
    ----------
    data : Series, array-like of shape (T,) or (T, k), pandas DataFrame or Series, or a CSV path
        The time series.  A 1-D array is univariate (the same column in and out).
    input, target : str or list of str, optional
        Column names (DataFrames and CSV files) or integer indices (arrays).  By
        default both are the single numeric column (columns of text or dates are
        ignored unless named); ``target`` defaults to ``input`` when that names one
        column, else it must be given.
    scale : {'none', 'minmax', 'minmax-1', 'standard'}
        Per-column scaling: min-max to [0, 1] or [-1, 1], or standardisation.
    name : str, optional
        A label for the series (default: the file name, or ``"series"``).
    sep, decimal : str, optional
        CSV files only: the field separator and the decimal mark (see :func:`read_csv`).
    index_col : str, optional
        CSV files and DataFrames: a column (e.g. the dates) to set aside as the index.
    header : {'auto', 'yes', 'none'}, optional
        CSV files only: whether the first line names the columns (default ``"auto"``: it does
        unless every cell of it is a number; then the columns are named ``"0" .. "N-1"``).
        The series' ``params["csv"]`` records what was found (``header``, ``columns``).
    check_range : bool
        Refuse values beyond float32's range (after scaling).  ``False`` for raw data that is
        scaled later (:func:`csv_split`'s parts); :func:`windows` checks the values it cuts.

    Raises
    ------
    DataError
        Empty data, NaN, infinite or text values in a chosen column, a chosen column
        that is not numeric, values beyond float32's range (after scaling), missing
        columns, unreadable or misread files.
    """
    if isinstance(data, Series):
        if input is None and target is None and scale in ("none", data.scale) and index_col is None:
            return data
        raise DataError("a prepared Series cannot be re-split or re-scaled; pass the raw data")
    scale = check_option(scale or "none", "scale", "prepare", SCALINGS)
    inp, tgt = _as_list(input, "input"), _as_list(target, "target")
    where = None
    if isinstance(data, (str, Path)):
        name = name or Path(data).name
        data = read_csv(data, sep=sep, decimal=decimal, index_col=index_col, header=header)
        where = (data.attrs["first_line"], data.attrs["path"])
        found = {"header": data.attrs["header"], "header_mode": data.attrs["header_mode"],
                 "columns": data.shape[1] + (index_col is not None)}
    elif sep is not None or decimal is not None or header is not None:
        raise InvalidParameterError("sep, decimal and header apply to CSV files; pass a file path, or parse the data "
                                    "first")
    # pandas only when the data may be pandas' (a frame or series means pandas is imported) or a mapping
    pd = sys.modules.get("pandas")
    if pd is None and isinstance(data, Mapping):
        import pandas as pd
    if pd is not None and isinstance(data, Mapping):
        try:
            data = pd.DataFrame(dict(data))
        except (TypeError, ValueError) as e:
            raise DataError(f"cannot make a table of the series' columns: {str(e).splitlines()[0]}") from e
    if pd is not None and isinstance(data, pd.Series):
        data = data.to_frame(name=str(data.name) if data.name is not None else "value")
    if pd is not None and isinstance(data, pd.DataFrame):
        if index_col is not None and where is None:
            data = data.set_index(_find_column(data, index_col, "index"))
        if data.shape[0] == 0:
            raise DataError("the series is empty")
        kinds = {c: _kind(data[c]) for c in data.columns}
        in_cols = _columns(data, inp, "input", kinds)
        out_cols = _columns(data, tgt if tgt is not None else (in_cols if len(in_cols) == 1 else None), "target",
                            kinds)

        def matrix(cols, role):
            label = f"{role} column(s) {', '.join(map(str, cols))}"
            return _as_matrix(np.column_stack([_numeric_column(data[c], c, kinds[c], where) for c in cols]), label,
                              where), label

        (X, x_label), (Y, y_label) = matrix(in_cols, "input"), matrix(out_cols, "target")
        in_names, out_names = tuple(map(str, in_cols)), tuple(map(str, out_cols))
    else:
        if index_col is not None:
            raise InvalidParameterError("index_col applies to DataFrames and CSV files, not to arrays")
        a = _as_matrix(data, "series")
        k = a.shape[1]
        idx = lambda v, role: [check_int(i, role, "prepare", low=0, high=k - 1) for i in v]  # noqa: E731
        in_idx = idx(inp, "input") if inp is not None else (list(range(k)) if k == 1 else None)
        if in_idx is None:
            raise DataError(f"choose the input column(s): the series has {k} columns")
        out_idx = idx(tgt, "target") if tgt is not None else (in_idx if len(in_idx) == 1 else None)
        if out_idx is None:
            raise DataError("choose the target column(s): several input columns were given")
        X, Y = a[:, in_idx], a[:, out_idx]
        in_names, out_names = tuple(map(str, in_idx)), tuple(map(str, out_idx))
        x_label, y_label = "the input", "the target"
    sx, sy = Scaler.fit(scale, X, "the input"), Scaler.fit(scale, Y, "the target")
    X, Y = sx.apply(X), sy.apply(Y)
    if check_range:
        _check_float32(X, x_label if scale == "none" else f"the scaled {x_label}", where)
        _check_float32(Y, y_label if scale == "none" else f"the scaled {y_label}", where)
    params = {"inputs": sx.params, "targets": sy.params}
    if where is not None:
        params["csv"] = found
    return Series(X, Y, in_names, out_names, name or "series", scale, params)


def header_note(series: Series) -> str | None:
    """``"no header: columns numbered 0..N-1"`` when ``series`` came from a CSV file whose first line the
    ``auto`` rule read as data (every cell a number), else None."""
    found = (series.params or {}).get("csv") or {}
    if found.get("header_mode") != "auto" or found.get("header", True):
        return None
    return f"no header: columns numbered 0..{found['columns'] - 1}"


def windows(series: Series, look_back: int, *, target_form: str = "level", caller: str = "windows") -> Windows:
    """Cut a series into ``N = T - LB`` one-step-ahead windows (float32).

    With ``target_form="delta"`` the windows' ``y`` is the change ``targets[i + LB] - targets[i + LB - 1]``
    (computed in float64, then rounded), and ``last`` holds ``targets[i + LB - 1]``.
    """
    look_back = check_int(look_back, "look_back", caller, low=1)
    target_form = check_target_form(target_form, caller)
    T = series.length
    if T < look_back + 1:
        raise DataError(f"series has {T} points; look_back={look_back} needs at least {look_back + 1}")
    _check_float32(np.asarray(series.inputs, dtype=np.float64), "the series' inputs")
    _check_float32(np.asarray(series.targets, dtype=np.float64), "the series' targets")
    n = T - look_back
    src = np.ascontiguousarray(series.inputs, dtype=np.float32)
    idx = np.arange(n)[:, None] + np.arange(look_back)[None, :]
    X = np.ascontiguousarray(src[idx])  # (N, LB, n_in)
    targets = np.asarray(series.targets, dtype=np.float64)
    last = targets[look_back - 1:-1]
    y = targets[look_back:] - last if target_form == "delta" else targets[look_back:]
    return Windows(X, np.ascontiguousarray(y, dtype=np.float32), np.ascontiguousarray(last, dtype=np.float32),
                   target_form)


def target_inputs(series: Series) -> tuple[int, ...] | None:
    """Where each target column is among the inputs: the input column index of each target (same name and
    values), or None when some target is not an input (a ``delta`` network then needs the last value as an
    extra input)."""
    found = []
    for j, name in enumerate(series.target_names):
        hits = [i for i, n in enumerate(series.input_names)
                if n == name and np.array_equal(series.inputs[:, i], series.targets[:, j])]
        if not hits:
            return None
        found.append(hits[0])
    return tuple(found)


def _scaled_like(raw: Series, train: Series, name: str | None = None) -> Series:
    """``raw`` scaled with ``train``'s fitted parameters (nothing is learned from ``raw``)."""
    params = train.params or {}
    return Series(Scaler(train.scale, params.get("inputs", {})).apply(raw.inputs),
                  Scaler(train.scale, params.get("targets", {})).apply(raw.targets),
                  raw.input_names, raw.target_names, name or raw.name, train.scale, params)


@dataclass(frozen=True)
class TrainTestSplit:
    """A training part and the test part that follows it, scaled alike.

    Attributes
    ----------
    train : Series
        What the network is fitted on (and, by default, what the sampler scores).
    test : Series
        The points right after ``train`` (same columns, scaled with the training
        part's parameters).
    spec : dict
        How to rebuild the split (:func:`split_from_spec`), JSON-ready; empty for
        a split built by hand.
    """

    train: Series
    test: Series
    spec: dict = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        if self.train.inputs.shape[1] != self.test.inputs.shape[1] or \
                self.train.targets.shape[1] != self.test.targets.shape[1]:
            raise DataError(
                f"the test part has {self.test.inputs.shape[1]} input and {self.test.targets.shape[1]} "
                "target column(s); "
                f"the training part has {self.train.inputs.shape[1]} and {self.train.targets.shape[1]}"
            )
        if self.test.length < 1:
            raise DataError("the test part is empty")

    @property
    def name(self) -> str:
        return self.train.name

    @property
    def recursive_ok(self) -> bool:
        """Whether recursive prediction is possible: the inputs are the targets."""
        return self.train.input_names == self.train.target_names and \
            np.array_equal(self.train.inputs, self.train.targets)

    def train_windows(self, look_back: int, target_form: str = "level") -> Windows:
        """One-step windows of the training part, shape (T_train - LB, LB, n_in) (``target_form`` as
        :func:`windows`)."""
        return windows(self.train, look_back, target_form=target_form, caller="train")

    def test_windows(self, look_back: int, target_form: str = "level") -> Windows:
        """One window per test point; the first ones take their history from the training part (``target_form``
        as :func:`windows`: the last value of the first window is the training part's last)."""
        look_back = check_int(look_back, "look_back", "train", low=1)
        if self.train.length < look_back:
            raise DataError(f"the training part has {self.train.length} points; look_back={look_back} "
                            f"needs at least {look_back}")
        joined = Series(
            np.concatenate([self.train.inputs[-look_back:], self.test.inputs]),
            np.concatenate([self.train.targets[-look_back:], self.test.targets]),
            self.train.input_names, self.train.target_names, "test", self.train.scale,
        )
        return windows(joined, look_back, target_form=target_form, caller="train")

    def to_dict(self) -> dict:
        return {"train": self.train.name, "train_points": self.train.length, "test": self.test.name,
                "test_points": self.test.length, "train_fingerprint": self.train.fingerprint(),
                "test_fingerprint": self.test.fingerprint()}


def sine_split(train_points: int = 1000, test_points: int = 200, *, scale: str = "none") -> TrainTestSplit:
    """The paper's sine: train on ``t`` in ``[0, 100)`` (1000 points), test on the next 200 (``[100, 120)``).

    The training part equals ``prepare(sine(train_points), scale=scale, name="sine")``,
    the series that ``mae-ort sample``/``screen`` score by default; the test part is
    scaled with the training part's parameters.
    """
    train_points = check_int(train_points, "train_points", "sine_split", low=2)
    test_points = check_int(test_points, "test_points", "sine_split", low=1)
    scale = check_option(scale or "none", "scale", "sine_split", SCALINGS)
    full = sine(train_points + test_points)
    train = prepare(full[:train_points], scale=scale, name="sine")
    raw = prepare(full[train_points:], name=f"sine[{train_points}:{train_points + test_points}]")
    test = _scaled_like(raw, train)
    return TrainTestSplit(train, test, {"kind": "sine", "train_points": train_points, "test_points": test_points,
                                        "scale": train.scale})


def csv_split(train_csv, test_csv=None, *, input=None, target=None, scale: str = "none",
              test_points: int | None = None, sep: str | None = None, decimal: str | None = None,
              index_col: str | None = None, header: str | None = None) -> TrainTestSplit:
    """A split of CSV data: a training file and a test file, or the last ``test_points`` rows of one file.

    The training part is ``prepare(train_csv, input=, target=, scale=, sep=, decimal=,
    index_col=)`` when a test file is given, so it equals what ``mae-ort sample --csv``
    scores; the test part (read with the same CSV options) is scaled with the training
    part's parameters (no look at the test data).  The split's ``spec`` records the
    CSV options, so :func:`split_from_spec` rebuilds it.
    """
    if (test_csv is None) == (test_points is None):
        raise InvalidParameterError("give exactly one of test_csv (a test file) or test_points (split the file)")
    fmt = csv_format(sep, decimal, index_col, header=header, caller="csv_split")
    if test_csv is not None:
        train = prepare(train_csv, input=input, target=target, scale=scale, **fmt)
        raw = prepare(test_csv, input=input, target=target, scale="none", check_range=scale == "none", **fmt)
        test = _checked_range(_scaled_like(raw, train))
        return TrainTestSplit(train, test, _csv_spec(train_csv, test_csv, input, target, train.scale, None, fmt))
    test_points = check_int(test_points, "test_points", "csv_split", low=1)
    raw = prepare(train_csv, input=input, target=target, scale="none", check_range=scale == "none", **fmt)
    if raw.length <= test_points + 1:
        raise DataError(f"the series has {raw.length} points; test_points={test_points} leaves too few to train on")
    n = raw.length - test_points
    head = raw.split(0, n)
    # scale with the training part only
    train = prepare(np.column_stack([head.inputs, head.targets]), input=list(range(head.inputs.shape[1])),
                    target=list(range(head.inputs.shape[1], head.inputs.shape[1] + head.targets.shape[1])),
                    scale=scale, name=f"{raw.name}[0:{n}]")
    train = Series(train.inputs, train.targets, raw.input_names, raw.target_names, train.name, train.scale,
                   {**train.params, "csv": raw.params.get("csv")})
    test = _checked_range(_scaled_like(raw.split(n), train, f"{raw.name}[{n}:]"))
    return TrainTestSplit(train, test, _csv_spec(train_csv, None, input, target, train.scale, test_points, fmt))


def _checked_range(test: Series) -> Series:
    """``test`` (a part scaled with the training part's parameters), refused when a value is beyond float32."""
    what = "the test part" if test.scale == "none" else "the scaled test part"
    _check_float32(np.asarray(test.inputs), f"{what}'s inputs")
    _check_float32(np.asarray(test.targets), f"{what}'s targets")
    return test


def _csv_spec(train_csv, test_csv, input, target, scale, test_points, fmt: dict) -> dict:
    return {"kind": "csv", "train_csv": str(Path(train_csv).resolve()),
            "test_csv": None if test_csv is None else str(Path(test_csv).resolve()),
            "input": _as_list(input, "input"), "target": _as_list(target, "target"), "scale": scale,
            "test_points": test_points, "sep": fmt["sep"], "decimal": fmt["decimal"], "index_col": fmt["index_col"],
            "header": fmt["header"]}


def split_from_spec(spec: dict) -> TrainTestSplit:
    """Rebuild a split from its :attr:`TrainTestSplit.spec` (e.g. in a worker process)."""
    if not isinstance(spec, dict) or spec.get("kind") not in ("sine", "csv"):
        raise InvalidParameterError(
            f"The 'spec' parameter of split_from_spec must be a split's spec dict. Got {spec!r} instead."
        )
    if spec["kind"] == "sine":
        return sine_split(spec["train_points"], spec["test_points"], scale=spec.get("scale", "none"))
    return csv_split(spec["train_csv"], spec.get("test_csv"), input=spec.get("input"), target=spec.get("target"),
                     scale=spec.get("scale", "none"), test_points=spec.get("test_points"), sep=spec.get("sep"),
                     decimal=spec.get("decimal"), index_col=spec.get("index_col"), header=spec.get("header"))
