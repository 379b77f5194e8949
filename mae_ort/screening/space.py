"""Search spaces: which (architecture, look-back) rows a screen runs, and their seeds.

A *row* is one architecture at one look-back.  Its natural key is
``(cell, activation, recurrent_activation, head_activation, units, look_back)`` with
``units`` as text (``"31,31"``); the key names the row in the store and, hashed with
the sweep's seed, gives the row its own seed (:func:`row_seed`).  So a row's result
never depends on the order, the chunking or the worker that computed it.

Spaces:

* :class:`Grid` -- a product of per-layer unit choices, depths, look-backs and cells
  (its length is computed, not enumerated; its rows come lazily, grouped by family and
  look-back so that a worker reuses one session for many consecutive rows);
* :class:`RowList` -- an explicit list of rows (:func:`read_rows` reads one from a CSV
  or JSON-lines file);
* ``space.subset(n, seed=...)`` -- a seeded random subset of any space: the ``n``
  rows whose hashed key is smallest.  The choice depends only on the seed and the
  row keys, never on enumeration order; for one seed, a larger subset contains a
  smaller one, so a sweep can be widened and resumed.

The paper's three spaces are presets (:data:`SPACE_PRESETS`, :func:`preset_space`),
all on the paper's model (``mae_ort.model.PRESETS['paper']``: LSTM, Keras 2 ``hard_sigmoid``
gates, ``tanh`` head).

Size limit: a space is enumerated (by a screen, or to choose a subset), so one of more
than :data:`MAX_ROWS` (10 million) rows is refused (:func:`check_size`) before anything
is allocated; so is a range of more than that many values (:func:`parse_ints`).
"""

from __future__ import annotations

import abc
import heapq
import itertools
import json
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

from .._checks import check_int, check_option, check_seed, split_items
from ..errors import DataError, InvalidParameterError
from ..model.architecture import MODEL_FIELDS, Architecture, parse_units, resolve, row_field
from ..model.keys import KEY_COLUMNS, hashed_rank, key_text, row_key

__all__ = [
    "Row",
    "Space",
    "Grid",
    "RowList",
    "SPACE_PRESETS",
    "preset_space",
    "grid",
    "as_space",
    "read_rows",
    "parse_ints",
    "row_seed",
    "check_size",
    "MAX_ROWS",
    "KEY_COLUMNS",
]

#: The most rows a space may have to be screened or subset (both enumerate every row):
#: 10 million.  Larger spaces, and ranges of more values, are refused before anything is
#: allocated (:func:`check_size`, :func:`parse_ints`).
MAX_ROWS = 10_000_000


@dataclass(frozen=True)
class Row:
    """One architecture at one look-back: one row of a screen.

    Parameters
    ----------
    arch : Architecture
    look_back : int
        Window length LB >= 1.
    """

    arch: Architecture
    look_back: int

    def __post_init__(self) -> None:
        if not isinstance(self.arch, Architecture):
            raise InvalidParameterError(
                f"The 'arch' parameter of Row must be an Architecture. Got {self.arch!r} instead."
            )
        object.__setattr__(self, "look_back", check_int(self.look_back, "look_back", "Row", low=1))

    @property
    def units(self) -> str:
        """Layer widths as text, ``"31,31"``."""
        return ",".join(map(str, self.arch.units))

    @property
    def key(self) -> tuple:
        """The natural key ``(cell, activation, recurrent_activation, head_activation, units, look_back)``."""
        return row_key(self.arch, self.look_back)

    @classmethod
    def from_record(cls, record) -> "Row":
        """The row of a stored record (a mapping, a pandas row or a namedtuple with the key columns)."""
        return cls(Architecture.from_row(record), int(row_field(record, "look_back")))

    @property
    def group(self) -> tuple:
        """Rows of one group share an ONNX graph (family and look-back)."""
        return (self.arch.family, self.look_back)

    def key_text(self) -> str:
        """The key as one line of text, ``lstm/tanh/hard_sigmoid_keras2/tanh/31,31/lb10``."""
        return key_text(self.key)

    def seed(self, sweep_seed: int) -> int:
        """This row's seed: a hash of the sweep's seed and the row's key (63-bit int)."""
        return row_seed(sweep_seed, self)

    def label(self) -> str:
        """Short text such as ``lstm[31,31] lb=10``."""
        return f"{self.arch.label()} lb={self.look_back}"


def row_seed(sweep_seed: int, row: Row) -> int:
    """The seed of ``row`` in a sweep seeded with ``sweep_seed``.

    ``sha256("mae-ort-row|{sweep_seed}|{key}")``, first 8 bytes, shifted to 63 bits:
    a pure function of the seed and the row's own key.
    """
    return hashed_rank("row", sweep_seed, row.key)


def check_size(space: "Space", what: str = "a screen") -> int:
    """Return ``len(space)``, or refuse a space of more than :data:`MAX_ROWS` rows.

    The length is computed (a :class:`Grid` is not enumerated), so the check is instant
    and allocates nothing.

    Raises
    ------
    InvalidParameterError
        The space has more than :data:`MAX_ROWS` rows (naming its size and the limit).
    """
    n = space.size()
    if n > MAX_ROWS:
        raise InvalidParameterError(
            f"the space {space.name!r} has {_count(n)} rows; {what} enumerates them all, and at most "
            f"{MAX_ROWS:,} (MAX_ROWS) are allowed: narrow the units, layers or look-backs")
    return n


def _count(n: int, commas: bool = True) -> str:
    """``12,345`` (or ``12345``) below a trillion, ``1.2e+20`` above (a Grid's size can be astronomical)."""
    if n >= 10**12:
        return f"{float(n):.3g}"
    return f"{n:,}" if commas else str(n)


def _sort_key(row: Row) -> tuple:
    return (row.arch.cell, row.arch.depth, row.arch.family, row.look_back, row.arch.units)


class Space(abc.ABC):
    """A finite set of rows (architectures x look-backs) to screen.

    Subclasses give :meth:`__iter__` (rows grouped by family and look-back) and
    :meth:`__len__`.
    """

    name: str = "space"

    @abc.abstractmethod
    def __iter__(self) -> Iterator[Row]:
        """The rows, grouped by family and look-back."""

    @abc.abstractmethod
    def __len__(self) -> int:
        """Number of rows."""

    def size(self) -> int:
        """Number of rows, however large (``len`` fails beyond ``sys.maxsize``)."""
        return len(self)

    def keys(self) -> Iterator[tuple]:
        """The natural keys of the rows, in iteration order."""
        return (r.key for r in self)

    def subset(self, n: int, *, seed: int = 0) -> "RowList":
        """A seeded random subset of ``n`` rows (all rows if ``n >= len(self)``).

        The rows with the ``n`` smallest hashes of ``(seed, key)`` are chosen: the
        same seed always gives the same subset, however the space is enumerated, and a
        larger ``n`` gives a superset.  Memory stays at ``O(n)``.

        Raises
        ------
        InvalidParameterError
            If ``n < 1``, ``seed`` is not a non-negative int, or the space has more than
            :data:`MAX_ROWS` rows.
        """
        n = check_int(n, "sample", "Space.subset", low=1)
        seed = check_seed(seed, "seed", "Space.subset")
        check_size(self, "a random subset (every row is hashed to choose it)")
        chosen = heapq.nsmallest(n, self._candidates(), key=lambda kr: hashed_rank("subset", seed, kr[0]))
        rows = [r() if callable(r) else r for _, r in chosen]
        return RowList(rows, name=f"{self.name} (random {len(rows)} of {len(self)}, seed {seed})")

    def _candidates(self) -> Iterator[tuple]:
        """``(key, row or a callable making it)`` pairs; subclasses may defer building rows."""
        return ((r.key, r) for r in self)

    def describe(self) -> str:
        """One line: name and size."""
        return f"{self.name}: {_count(self.size(), False)} rows"

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.describe()}>"


@dataclass(frozen=True, repr=False)
class Grid(Space):
    """A product space: cells x depths x per-layer units x look-backs.

    Parameters
    ----------
    units : tuple of tuple of int
        Unit choices of layer 1, 2, ...; a depth beyond the given layers repeats the
        last choice (so one tuple means "the same choices for every layer").
    depths : tuple of int
        Numbers of hidden layers.
    look_backs : tuple of int
        Window lengths.
    cells : tuple of str
        Recurrent cells.
    activation, recurrent_activation, head_activation : str
        The model's activations (as :class:`~mae_ort.model.architecture.Architecture`).
    name : str
        A label.
    """

    units: tuple
    depths: tuple
    look_backs: tuple
    cells: tuple = ("lstm",)
    activation: str = "tanh"
    recurrent_activation: str = "sigmoid"
    head_activation: str = "tanh"
    name: str = "grid"

    def __post_init__(self) -> None:
        caller = "Grid"
        units = tuple(_clean_ints(u, "units", caller) for u in _as_layers(self.units))
        if not units:
            raise InvalidParameterError("The 'units' parameter of Grid must give at least one layer's unit choices.")
        object.__setattr__(self, "units", units)
        object.__setattr__(self, "depths", _clean_ints(self.depths, "layers", caller))
        object.__setattr__(self, "look_backs", _clean_ints(self.look_backs, "look_back", caller))
        cells = (self.cells,) if isinstance(self.cells, str) else tuple(self.cells)
        if not cells:
            raise InvalidParameterError("The 'cells' parameter of Grid must name at least one cell.")
        # Architecture validates and normalises cells and activations (aliases included).
        probe = [Architecture((1,), cell=c, activation=self.activation, recurrent_activation=self.recurrent_activation,
                              head_activation=self.head_activation) for c in cells]
        object.__setattr__(self, "cells", tuple(dict.fromkeys(p.cell for p in probe)))
        for f in ("activation", "recurrent_activation", "head_activation"):
            object.__setattr__(self, f, getattr(probe[0], f))

    def layer_choices(self, depth: int) -> tuple:
        """Unit choices of each layer of a ``depth``-layer network."""
        return tuple(self.units[min(k, len(self.units) - 1)] for k in range(depth))

    def architectures_per_cell(self) -> int:
        """Number of architectures of one cell (summed over depths)."""
        return sum(math.prod(len(c) for c in self.layer_choices(d)) for d in self.depths)

    def size(self) -> int:
        """Number of rows, computed (a Python int, however large)."""
        return len(self.cells) * self.architectures_per_cell() * len(self.look_backs)

    def __len__(self) -> int:
        return self.size()

    def __iter__(self) -> Iterator[Row]:
        for cell in self.cells:
            for depth in self.depths:
                choices = self.layer_choices(depth)
                for lb in self.look_backs:
                    for units in itertools.product(*choices):
                        yield self._row(cell, units, lb)

    def _row(self, cell: str, units: tuple, look_back: int) -> Row:
        return Row(Architecture(units, cell=cell, activation=self.activation,
                                recurrent_activation=self.recurrent_activation,
                                head_activation=self.head_activation), look_back)

    def keys(self) -> Iterator[tuple]:
        """The natural keys, in iteration order (without building the rows)."""
        return (k for k, _ in self._candidates())

    def _candidates(self) -> Iterator[tuple]:
        # Keys without building an Architecture per row (62,500 rows in a fraction of a second).
        acts = (self.activation, self.recurrent_activation, self.head_activation)
        for cell in self.cells:
            for depth in self.depths:
                choices = self.layer_choices(depth)
                for lb in self.look_backs:
                    for units in itertools.product(*choices):
                        key = (cell, *acts, ",".join(map(str, units)), lb)
                        yield key, (lambda c=cell, u=units, b=lb: self._row(c, u, b))

    def describe(self) -> str:
        def ints(v):
            if len(v) > 2 and list(v) == list(range(v[0], v[-1] + 1)):
                return f"{v[0]}:{v[-1]}"
            return ",".join(map(str, v))

        units = " / ".join(ints(u) for u in self.units)
        archs = _count(self.architectures_per_cell() * len(self.cells), False)
        return (f"{self.name}: {'/'.join(self.cells)}, layers {ints(self.depths)}, units {units}, "
                f"look-back {ints(self.look_backs)} -> {archs} "
                f"architectures x {len(self.look_backs)} look-backs = {_count(self.size(), False)} rows")


class RowList(Space):
    """An explicit list of rows (duplicates dropped), iterated grouped by family and look-back.

    Parameters
    ----------
    rows : iterable of Row
    name : str
        A label.
    """

    def __init__(self, rows: Iterable[Row], *, name: str = "list") -> None:
        unique = {}
        for r in rows:
            if not isinstance(r, Row):
                raise InvalidParameterError(
                    f"The 'rows' parameter of RowList must hold Row objects. Got {r!r} instead."
                )
            unique.setdefault(r.key, r)
        self.rows = tuple(sorted(unique.values(), key=_sort_key))
        self.name = name

    def __iter__(self) -> Iterator[Row]:
        return iter(self.rows)

    def __len__(self) -> int:
        return len(self.rows)

    def __eq__(self, other) -> bool:
        return isinstance(other, RowList) and self.rows == other.rows

    def __hash__(self) -> int:
        return hash(self.rows)


# -- parsing ----------------------------------------------------------------------------------

_RANGE = re.compile(r"^(-?\d+)(?::(-?\d+)(?::(-?\d+))?)?$")


def parse_ints(text, name: str = "units", caller: str = "screen") -> tuple[int, ...]:
    """Parse ``"7:31"`` (inclusive), ``"7:31:2"`` (with a step), ``"7,15,31"`` or a mix.

    Integers, and sequences of integers, pass through.  The result is sorted, without
    duplicates, and every value is >= 1.

    Raises
    ------
    InvalidParameterError
        On malformed text, a step < 1, a range whose end is below its start, a value < 1,
        or more than :data:`MAX_ROWS` values (refused before they are made).
    """
    if isinstance(text, bool):
        raise InvalidParameterError(f"The {name!r} parameter of {caller} must be integers such as '7:31' or '1,10,20'. "
                                    f"Got {text!r} instead.")
    if isinstance(text, int):
        return _clean_ints((text,), name, caller)
    if not isinstance(text, str):
        if hasattr(text, "__len__") and not isinstance(text, (bytes, dict)) and len(text) > MAX_ROWS:
            raise InvalidParameterError(
                f"The {name!r} parameter of {caller} gives {_count(len(text))} values; a space may have at most "
                f"{MAX_ROWS:,} rows (MAX_ROWS): give fewer values")
        try:
            values = list(text)
        except TypeError:
            raise InvalidParameterError(f"The {name!r} parameter of {caller} must be integers such as '7:31' or "
                                        f"'1,10,20'. Got {text!r} instead.") from None
        return _clean_ints(values, name, caller)
    shape = f"The {name!r} parameter of {caller} must look like '7:31', '7:31:2' or '1,10,20,30'"
    if not text.strip():
        raise InvalidParameterError(f"{shape}. Got {text!r} instead.")
    parts = split_items(text, name, caller)  # an empty item is refused, naming its position
    values: list[int] = []
    planned = 0
    for p in parts:
        m = _RANGE.match(p.replace(" ", ""))
        if not m:
            raise InvalidParameterError(f"{shape}. Got {text!r} instead.")
        a = int(m.group(1))
        if m.group(2) is None:
            values.append(a)
            continue
        b = int(m.group(2))
        step = 1 if m.group(3) is None else int(m.group(3))
        if step < 1:
            raise InvalidParameterError(f"{shape}; the step in {p!r} must be >= 1. Got {text!r} instead.")
        if b < a:
            raise InvalidParameterError(f"{shape}; the range {p!r} ends below its start. Got {text!r} instead.")
        planned += len(range(a, b + 1, step))
        if planned > MAX_ROWS:  # every value is in some row: such a space could not be screened
            raise InvalidParameterError(
                f"The {name!r} parameter of {caller} gives {_count(planned)} or more values in {text!r}; a space may "
                f"have at most {MAX_ROWS:,} rows (MAX_ROWS): narrow the range or add a step (a:b:step)")
        values.extend(range(a, b + 1, step))
    return _clean_ints(values, name, caller)


def _clean_ints(values, name: str, caller: str) -> tuple[int, ...]:
    if isinstance(values, int) and not isinstance(values, bool):
        values = (values,)
    out = sorted({check_int(v, name, caller, low=1) for v in values})
    if not out:
        raise InvalidParameterError(f"The {name!r} parameter of {caller} must give at least one value; it is empty.")
    return tuple(out)


def _as_layers(units) -> list:
    """``"7:31"`` / ``range`` / ``[7, 8]`` -> one layer spec; a list of specs -> several."""
    if isinstance(units, (str, int)):
        return [units]
    try:
        items = list(units)
    except TypeError:
        return [units]
    if any(not isinstance(u, int) for u in items):
        return items
    return [items]


# -- constructors -----------------------------------------------------------------------------

#: The paper's spaces (Camero, Toutouh and Alba, 2018, Section 4): units, layers and look-backs, on its model.
SPACE_PRESETS: dict[str, dict] = {
    "paper-1layer": dict(units="1:100", layers="1", look_back="1:30"),
    "paper-2layer": dict(units="7:31", layers="2", look_back="1,10,20,30"),
    "paper-3layer": dict(units="7:31", layers="3", look_back="1,10,20,30"),
}


def grid(*, units="7:31", layers="1", look_back="1,10,20,30", cell=None, preset: str | None = None,
         activation: str | None = None, recurrent_activation: str | None = None,
         head_activation: str | None = None, name: str = "grid") -> Grid:
    """A :class:`Grid` from text or numbers.

    Parameters
    ----------
    units : str, int, sequence of int, or sequence of those
        Unit choices: ``"7:31"`` for every layer, or one entry per layer
        (``["7:31", "7:15"]``; deeper layers repeat the last).
    layers : str, int or sequence of int
        Depths, e.g. ``"1:3"``.
    look_back : str, int or sequence of int
        Look-backs, e.g. ``"1,10,20,30"`` or ``"1:30"``.
    cell : str or sequence of str
        Cell(s); with ``preset``, the preset's cell unless given.
    preset : str, optional
        A model preset of :data:`mae_ort.model.PRESETS` (``"paper"``); the activations
        below override it.  Without one: Keras 3 defaults.
    activation, recurrent_activation, head_activation : str, optional

    Raises
    ------
    InvalidParameterError
        Malformed ranges, values < 1, unknown cells, activations or presets.
    """
    caller = "grid"
    probe = resolve([1], preset=preset, activation=activation, recurrent_activation=recurrent_activation,
                    head_activation=head_activation, caller=caller)
    base = {f: getattr(probe, f) for f in MODEL_FIELDS}
    if cell is not None:
        base["cell"] = cell
    layer_specs = _as_layers(units)
    per_layer = tuple(parse_ints(u, "units", caller) for u in layer_specs)
    return Grid(
        units=per_layer,
        depths=parse_ints(layers, "layers", caller),
        look_backs=parse_ints(look_back, "look_back", caller),
        cells=base.pop("cell", "lstm"),
        name=name,
        **base,
    )


def preset_space(name: str, **overrides) -> Grid:
    """One of the paper's spaces (:data:`SPACE_PRESETS`), optionally with some parts replaced.

    Parameters
    ----------
    name : {'paper-1layer', 'paper-2layer', 'paper-3layer'}
    **overrides
        Any keyword of :func:`grid` (``look_back="1"``, ``cell="gru"``, ...); ``None``
        values are ignored.

    Examples
    --------
    >>> len(preset_space("paper-3layer"))
    62500
    """
    key = check_option(name, "space", "preset_space", SPACE_PRESETS)
    given = {k: v for k, v in overrides.items() if v is not None}
    kw = dict(SPACE_PRESETS[key], preset="paper", name=f"{key} (modified)" if given else key)
    kw.update(given)
    return grid(**kw)


def as_space(space) -> Space:
    """A :class:`Space` from itself, a preset name, or an iterable of :class:`Row`."""
    if isinstance(space, Space):
        return space
    if isinstance(space, str):
        return preset_space(space)
    try:
        rows = list(space)
    except TypeError:
        raise InvalidParameterError(
            f"The 'space' parameter of screen must be a Space, a preset name ({', '.join(SPACE_PRESETS)}) "
            f"or rows. Got {space!r} instead."
        ) from None
    return RowList(rows)


def read_rows(path, *, preset: str | None = None, cell: str | None = None, activation: str | None = None,
              recurrent_activation: str | None = None, head_activation: str | None = None) -> RowList:
    """Read an explicit list of rows from a CSV or JSON-lines file.

    Each record needs ``units`` (``"31,31"`` or, in JSON, a list) and ``look_back``;
    ``cell``, ``activation``, ``recurrent_activation`` and ``head_activation`` columns
    are optional and default to ``preset`` and the keyword overrides.  A file starting
    with ``[`` is one JSON array of records; a ``.jsonl``/``.json`` suffix or a first
    character ``{`` means JSON lines; anything else is CSV.

    Raises
    ------
    DataError
        A missing or unreadable file, a missing column, a bad record (naming its line).
    """
    p = Path(path)
    if not p.exists():
        raise DataError(f"cannot read the row list {str(p)!r}: no such file")
    try:
        text = p.read_text()
    except (OSError, UnicodeDecodeError) as e:
        raise DataError(f"cannot read the row list {str(p)!r}: {e}") from e
    probe = resolve([1], preset=preset, cell=cell, activation=activation, recurrent_activation=recurrent_activation,
                    head_activation=head_activation, caller="read_rows")
    base = {f: getattr(probe, f) for f in MODEL_FIELDS}
    records: list[tuple[int, dict]] = []
    if text.lstrip().startswith("["):  # one JSON array of records
        try:
            items = json.loads(text)
        except json.JSONDecodeError as e:
            raise DataError(f"{str(p)!r} is not valid JSON: {e.msg} (line {e.lineno})") from e
        for i, rec in enumerate(items, 1):
            if not isinstance(rec, dict):
                raise DataError(f"{str(p)!r} record {i} must be an object with 'units' and 'look_back'")
            records.append((i, rec))
    elif p.suffix.lower() in (".jsonl", ".json", ".ndjson") or text.lstrip().startswith("{"):
        for i, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as e:
                raise DataError(f"{str(p)!r} line {i} is not JSON: {e.msg}") from e
            if not isinstance(rec, dict):
                raise DataError(f"{str(p)!r} line {i} must be a JSON object with 'units' and 'look_back'")
            records.append((i, rec))
    else:
        import csv
        import io

        reader = csv.DictReader(io.StringIO(text))
        if reader.fieldnames is None:
            raise DataError(f"{str(p)!r} is empty; it needs a header with 'units' and 'look_back'")
        fields = [f.strip() for f in reader.fieldnames]
        missing = [c for c in ("units", "look_back") if c not in fields]
        if missing:
            raise DataError(f"{str(p)!r} lacks the column(s) {', '.join(missing)}; it has {', '.join(fields)}")
        for i, rec in enumerate(reader, 2):
            records.append((i, {(k or "").strip(): (v.strip() if isinstance(v, str) else v) for k, v in rec.items()}))
    rows = []
    for i, rec in records:
        try:
            if "units" not in rec or "look_back" not in rec:
                raise DataError("it needs 'units' and 'look_back'")
            units = parse_units(rec["units"] if not isinstance(rec["units"], int) else [rec["units"]], "read_rows")
            lb = rec["look_back"]
            lb = int(lb) if isinstance(lb, str) and lb.strip().lstrip("-").isdigit() else lb
            model = dict(base)
            model.update({k: rec[k] for k in MODEL_FIELDS if rec.get(k) not in (None, "")})
            rows.append(Row(Architecture(units, **model), lb))
        except (DataError, InvalidParameterError) as e:
            raise DataError(f"{str(p)!r} line {i}: {e}") from e
    if not rows:
        raise DataError(f"{str(p)!r} lists no rows")
    return RowList(rows, name=p.name)
