"""Series in, windows out: loading, validation, scaling and the paper's sine.

A :class:`Series` holds the input columns and target columns of a time series as
float64 arrays; :func:`windows` cuts it into one-step-ahead windows
``X[i] = inputs[i : i+LB]``, ``y[i] = targets[i+LB]``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from ._validation import check_int, check_option, check_real
from .errors import DataError

__all__ = ["Series", "Windows", "sine", "prepare", "read_csv", "windows", "SCALINGS"]

#: Scalings: min-max to [0, 1] or [-1, 1], or standardisation (mean 0, sd 1).
SCALINGS = ("none", "minmax", "minmax-1", "standard")


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


@dataclass(frozen=True)
class Windows:
    """One-step-ahead windows of a series.

    Attributes
    ----------
    X : ndarray of shape (N, LB, n_in), float32
    y : ndarray of shape (N, n_out), float32
    """

    X: np.ndarray
    y: np.ndarray

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
    t = np.arange(points, dtype=np.float64) / rate
    return amplitude * np.sin(2.0 * np.pi * frequency * t + phase)


def read_csv(path: str | Path):
    """Read a CSV file into a pandas DataFrame, with one-line errors."""
    import pandas as pd

    p = Path(path)
    if not p.exists():
        raise DataError(f"cannot read {str(p)!r}: no such file")
    if p.is_dir():
        raise DataError(f"cannot read {str(p)!r}: it is a folder, not a CSV file")
    try:
        frame = pd.read_csv(p)
    except (OSError, UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise DataError(f"cannot read {str(p)!r} as CSV: {first}") from e
    if frame.shape[0] == 0:
        raise DataError(f"{str(p)!r} has no data rows")
    return frame


def _columns(frame, names: Sequence[str] | None, role: str) -> list[str]:
    cols = [str(c) for c in frame.columns]
    if names is None:
        numeric = [c for c in frame.columns if np.issubdtype(frame[c].dtype, np.number)]
        if len(numeric) != 1:
            raise DataError(
                f"choose the {role} column(s): the data has {len(numeric)} numeric columns "
                f"({', '.join(map(str, numeric[:8]))}{', ...' if len(numeric) > 8 else ''})"
            )
        return [str(numeric[0])]
    out = []
    for n in names:
        if n not in cols:
            import difflib

            close = difflib.get_close_matches(n, cols, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else f"; columns are {', '.join(cols[:10])}{', ...' if len(cols) > 10 else ''}"
            raise DataError(f"no {role} column {n!r}{hint}")
        out.append(n)
    return out


def _as_matrix(values, name: str) -> np.ndarray:
    try:
        a = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as e:
        raise DataError(f"{name} must be numeric: {e}") from e
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
            f"{name} has {int(bad.sum())} NaN or infinite value(s); the first is {kind} at row {row}"
            f"{'' if a.shape[1] == 1 else f', column {col}'}: fill or drop them first"
        )
    return a


def _scale(a: np.ndarray, kind: str, ref: np.ndarray, name: str) -> tuple[np.ndarray, dict]:
    if kind == "none":
        return a, {}
    if kind == "standard":
        mu, sd = ref.mean(axis=0), ref.std(axis=0)
        if np.any(sd == 0):
            raise DataError(f"cannot standardise {name}: a column is constant")
        return (a - mu) / sd, {"mean": mu.tolist(), "sd": sd.tolist()}
    lo, hi = ref.min(axis=0), ref.max(axis=0)
    if np.any(hi == lo):
        raise DataError(f"cannot min-max scale {name}: a column is constant")
    unit = (a - lo) / (hi - lo)
    if kind == "minmax":
        return unit, {"min": lo.tolist(), "max": hi.tolist()}
    return 2.0 * unit - 1.0, {"min": lo.tolist(), "max": hi.tolist()}


def prepare(
    data,
    *,
    input: Sequence[str] | str | None = None,
    target: Sequence[str] | str | None = None,
    scale: str = "none",
    name: str | None = None,
) -> Series:
    """Validate a series and split it into inputs and targets.

    Parameters
    ----------
    data : Series, array-like of shape (T,) or (T, k), pandas DataFrame or Series, or a CSV path
        The time series.  A 1-D array is univariate (the same column in and out).
    input, target : str or list of str, optional
        Column names (DataFrames and CSV files) or integer indices (arrays).  By
        default both are the single numeric column; ``target`` defaults to ``input``
        when that names one column, else it must be given.
    scale : {'none', 'minmax', 'minmax-1', 'standard'}
        Per-column scaling: min-max to [0, 1] or [-1, 1], or standardisation.

    Raises
    ------
    DataError
        Empty data, NaN or infinite values, missing columns, unreadable files.
    """
    if isinstance(data, Series):
        if input is None and target is None and scale in ("none", data.scale):
            return data
        raise DataError("a prepared Series cannot be re-split or re-scaled; pass the raw data")
    scale = check_option(scale or "none", "scale", "prepare", SCALINGS)
    as_list = (lambda v: None if v is None else ([v] if isinstance(v, (str, int)) else list(v)))
    inp, tgt = as_list(input), as_list(target)
    if isinstance(data, (str, Path)):
        name = name or Path(data).name
        data = read_csv(data)
    try:
        import pandas as pd
    except ImportError:  # pragma: no cover - pandas is a dependency
        pd = None
    if pd is not None and isinstance(data, pd.Series):
        data = data.to_frame(name=str(data.name) if data.name is not None else "value")
    if pd is not None and isinstance(data, pd.DataFrame):
        if data.shape[0] == 0:
            raise DataError("the series is empty")
        in_cols = _columns(data, inp, "input")
        out_cols = _columns(data, tgt if tgt is not None else (in_cols if len(in_cols) == 1 else None), "target")
        for c in in_cols + out_cols:
            if not np.issubdtype(data[c].dtype, np.number):
                raise DataError(f"column {c!r} is not numeric (dtype {data[c].dtype})")
        X = _as_matrix(data[in_cols].to_numpy(), f"input column(s) {', '.join(in_cols)}")
        Y = _as_matrix(data[out_cols].to_numpy(), f"target column(s) {', '.join(out_cols)}")
        in_names, out_names = tuple(in_cols), tuple(out_cols)
    else:
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
    Xs, px = _scale(X, scale, X, "the input")
    Ys, py = _scale(Y, scale, Y, "the target")
    return Series(Xs, Ys, in_names, out_names, name or "series", scale, {"inputs": px, "targets": py})


def windows(series: Series, look_back: int, *, caller: str = "windows") -> Windows:
    """Cut a series into ``N = T - LB`` one-step-ahead windows (float32)."""
    look_back = check_int(look_back, "look_back", caller, low=1)
    T = series.length
    if T < look_back + 1:
        raise DataError(f"series has {T} points; look_back={look_back} needs at least {look_back + 1}")
    n = T - look_back
    src = np.ascontiguousarray(series.inputs, dtype=np.float32)
    idx = np.arange(n)[:, None] + np.arange(look_back)[None, :]
    X = np.ascontiguousarray(src[idx])  # (N, LB, n_in)
    y = np.ascontiguousarray(series.targets[look_back:], dtype=np.float32)
    return Windows(X, y)
