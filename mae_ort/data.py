"""Series in, windows out: loading, validation, scaling, train/test splits and the paper's sine.

A :class:`Series` holds the input columns and target columns of a time series as
float64 arrays; :func:`windows` cuts it into one-step-ahead windows
``X[i] = inputs[i : i+LB]``, ``y[i] = targets[i+LB]``.  A :class:`Scaler` is fitted on
one part and applied to another; a :class:`TrainTestSplit` is a training part and the
test part that follows it, scaled with the training part's parameters.

Imports nothing of mae-ort but :mod:`mae_ort.errors` and :mod:`mae_ort._checks`
(models, runtimes and storage build on it).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from ._checks import check_int, check_option
from .errors import DataError, InvalidParameterError

__all__ = ["Series", "Windows", "Scaler", "TrainTestSplit", "sine", "prepare", "read_csv", "windows", "SCALINGS",
           "sine_split", "csv_split", "split_from_spec"]

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
            more = ", ..." if len(cols) > 10 else ""
            hint = f"; did you mean {close[0]!r}?" if close else f"; columns are {', '.join(cols[:10])}{more}"
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
        if kind == "standard":
            mu, sd = ref.mean(axis=0), ref.std(axis=0)
            if np.any(sd == 0):
                raise DataError(f"cannot standardise {name}: a column is constant")
            return cls(kind, {"mean": mu.tolist(), "sd": sd.tolist()})
        lo, hi = ref.min(axis=0), ref.max(axis=0)
        if np.any(hi == lo):
            raise DataError(f"cannot min-max scale {name}: a column is constant")
        return cls(kind, {"min": lo.tolist(), "max": hi.tolist()})

    def apply(self, a: np.ndarray) -> np.ndarray:
        """``a`` (T, k) scaled with the fitted parameters."""
        if self.kind == "none" or not self.params:
            return a
        if self.kind == "standard":
            return (a - np.asarray(self.params["mean"])) / np.asarray(self.params["sd"])
        lo, hi = np.asarray(self.params["min"]), np.asarray(self.params["max"])
        unit = (a - lo) / (hi - lo)
        return unit if self.kind == "minmax" else 2.0 * unit - 1.0


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
    def as_list(v):
        return None if v is None else ([v] if isinstance(v, (str, int)) else list(v))

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
    sx, sy = Scaler.fit(scale, X, "the input"), Scaler.fit(scale, Y, "the target")
    return Series(sx.apply(X), sy.apply(Y), in_names, out_names, name or "series", scale,
                  {"inputs": sx.params, "targets": sy.params})


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

    def train_windows(self, look_back: int) -> Windows:
        """One-step windows of the training part, shape (T_train - LB, LB, n_in)."""
        return windows(self.train, look_back, caller="train")

    def test_windows(self, look_back: int) -> Windows:
        """One window per test point; the first ones take their history from the training part."""
        look_back = check_int(look_back, "look_back", "train", low=1)
        if self.train.length < look_back:
            raise DataError(f"the training part has {self.train.length} points; look_back={look_back} "
                            f"needs at least {look_back}")
        joined = Series(
            np.concatenate([self.train.inputs[-look_back:], self.test.inputs]),
            np.concatenate([self.train.targets[-look_back:], self.test.targets]),
            self.train.input_names, self.train.target_names, "test", self.train.scale,
        )
        return windows(joined, look_back, caller="train")

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
    full = sine(train_points + test_points)
    train = prepare(full[:train_points], scale=scale, name="sine")
    raw = prepare(full[train_points:], name=f"sine[{train_points}:{train_points + test_points}]")
    test = _scaled_like(raw, train)
    return TrainTestSplit(train, test, {"kind": "sine", "train_points": train_points, "test_points": test_points,
                                        "scale": train.scale})


def csv_split(train_csv, test_csv=None, *, input=None, target=None, scale: str = "none",
              test_points: int | None = None) -> TrainTestSplit:
    """A split of CSV data: a training file and a test file, or the last ``test_points`` rows of one file.

    The training part is ``prepare(train_csv, input=, target=, scale=)`` when a
    test file is given, so it equals what ``mae-ort sample --csv`` scores; the test
    part is scaled with the training part's parameters (no look at the test data).
    """
    if (test_csv is None) == (test_points is None):
        raise InvalidParameterError("give exactly one of test_csv (a test file) or test_points (split the file)")
    if test_csv is not None:
        train = prepare(train_csv, input=input, target=target, scale=scale)
        raw = prepare(test_csv, input=input, target=target, scale="none")
        test = _scaled_like(raw, train)
        return TrainTestSplit(train, test, _csv_spec(train_csv, test_csv, input, target, train.scale, None))
    test_points = check_int(test_points, "test_points", "csv_split", low=1)
    raw = prepare(train_csv, input=input, target=target, scale="none")
    if raw.length <= test_points + 1:
        raise DataError(f"the series has {raw.length} points; test_points={test_points} leaves too few to train on")
    n = raw.length - test_points
    head = raw.split(0, n)
    # scale with the training part only
    train = prepare(np.column_stack([head.inputs, head.targets]), input=list(range(head.inputs.shape[1])),
                    target=list(range(head.inputs.shape[1], head.inputs.shape[1] + head.targets.shape[1])),
                    scale=scale, name=f"{raw.name}[0:{n}]")
    train = Series(train.inputs, train.targets, raw.input_names, raw.target_names, train.name, train.scale,
                   train.params)
    test = _scaled_like(raw.split(n), train, f"{raw.name}[{n}:]")
    return TrainTestSplit(train, test, _csv_spec(train_csv, None, input, target, train.scale, test_points))


def _csv_spec(train_csv, test_csv, input, target, scale, test_points) -> dict:
    from pathlib import Path

    as_list = (lambda v: None if v is None else ([v] if isinstance(v, (str, int)) else list(v)))  # noqa: E731
    return {"kind": "csv", "train_csv": str(Path(train_csv).resolve()),
            "test_csv": None if test_csv is None else str(Path(test_csv).resolve()),
            "input": as_list(input), "target": as_list(target), "scale": scale, "test_points": test_points}


def split_from_spec(spec: dict) -> TrainTestSplit:
    """Rebuild a split from its :attr:`TrainTestSplit.spec` (e.g. in a worker process)."""
    if not isinstance(spec, dict) or spec.get("kind") not in ("sine", "csv"):
        raise InvalidParameterError(
            f"The 'spec' parameter of split_from_spec must be a split's spec dict. Got {spec!r} instead."
        )
    if spec["kind"] == "sine":
        return sine_split(spec["train_points"], spec["test_points"], scale=spec.get("scale", "none"))
    return csv_split(spec["train_csv"], spec.get("test_csv"), input=spec.get("input"), target=spec.get("target"),
                     scale=spec.get("scale", "none"), test_points=spec.get("test_points"))
