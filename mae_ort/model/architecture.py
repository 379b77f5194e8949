"""Architectures: cells, activations, presets and weight shapes in Keras order.

An :class:`Architecture` says everything that determines a model except the data's
width: the cell, the units of each hidden layer, the activations and the Dense head.
Its weights are listed in the order of Keras' ``model.weights`` (layer by layer:
kernel, recurrent kernel, bias; then the Dense kernel and bias).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Sequence

from .._checks import check_int, check_option, split_items
from ..errors import InvalidParameterError

__all__ = [
    "CELLS",
    "ACTIVATIONS",
    "GATES",
    "Architecture",
    "PRESETS",
    "MODEL_FIELDS",
    "parse_units",
    "resolve",
    "ONE_SIGNED_HEADS",
    "DELTA_HEAD",
    "head_for",
    "check_head",
]

#: Cells and the number of gate blocks stacked along their kernels' last axis.
GATES = {"lstm": 4, "gru": 3, "simple_rnn": 1}
CELLS = tuple(GATES)

#: Activations by name.  ``hard_sigmoid`` is Keras 3's ``relu6(x + 3) / 6``;
#: ``hard_sigmoid_keras2`` is Keras <= 2.2.5's ``clip(0.2 x + 0.5, 0, 1)``, the
#: default gate activation of the Keras 2.1 the paper used.
ACTIVATIONS = (
    "tanh",
    "sigmoid",
    "hard_sigmoid",
    "hard_sigmoid_keras2",
    "relu",
    "linear",
)

#: Heads whose output cannot go below zero: on a change target (``target_form="delta"``) they could only add
#: to the last value, never forecast a fall, so they are refused there.
ONE_SIGNED_HEADS = ("sigmoid", "hard_sigmoid", "hard_sigmoid_keras2", "relu")

#: The head of a change target when none is given: ``linear``, unbounded both ways (a change is as often
#: negative as positive, and its size is not bounded by the scaling as a level's is).
DELTA_HEAD = "linear"


def head_for(head_activation: str | None, target_form: str) -> str | None:
    """The head to use: ``head_activation`` when given, else :data:`DELTA_HEAD` for ``target_form="delta"``
    (else None: the preset's or Keras' default).  For units and presets; an :class:`Architecture` given
    whole keeps its own head."""
    if head_activation is None and target_form == "delta":
        return DELTA_HEAD
    return head_activation


def check_head(head_activation: str, target_form: str, caller: str) -> None:
    """Refuse a head that cannot go below zero (:data:`ONE_SIGNED_HEADS`) on a change target, in one line."""
    if target_form == "delta" and head_activation in ONE_SIGNED_HEADS:
        raise InvalidParameterError(
            f"The 'head_activation' parameter of {caller} cannot be {head_activation!r} with target_form='delta': "
            f"its output is never below zero, so it could only add to the last value; use a head that goes both "
            f"ways ({DELTA_HEAD}, the default for delta, or tanh)")


_CELL_ALIASES = {"simplernn": "simple_rnn", "rnn": "simple_rnn", "simple": "simple_rnn"}


def parse_units(text: str | Sequence[int], caller: str = "Architecture") -> tuple[int, ...]:
    """Turn ``"31,31,31"`` (or a sequence of ints) into a tuple of layer widths >= 1."""
    if isinstance(text, str):
        if not text.strip():
            raise InvalidParameterError(
                f"The 'units' parameter of {caller} must list at least one layer width, e.g. '31,31'. "
                f"Got {text!r} instead."
            )
        parts = split_items(text, "units", caller)  # '4,,4' and '4,' are refused, naming the empty item
        try:
            values = [int(p) for p in parts]
        except ValueError:
            raise InvalidParameterError(
                f"The 'units' parameter of {caller} must be comma-separated integers, e.g. '31,31'. "
                f"Got {text!r} instead."
            ) from None
    else:
        values = list(text)
        if not values:
            raise InvalidParameterError(
                f"The 'units' parameter of {caller} must list at least one layer width. Got {text!r} instead."
            )
    return tuple(check_int(v, "units", caller, low=1) for v in values)


@dataclass(frozen=True)
class Architecture:
    """A stacked recurrent network with a Dense head, as a Keras ``Sequential``.

    Parameters
    ----------
    units : sequence of int
        Units of each hidden recurrent layer, first to last (``(31, 31, 31)``).
    cell : {'lstm', 'gru', 'simple_rnn'}
        The recurrent cell of every layer.  GRU follows Keras 3 (``reset_after=True``).
    activation : str
        Cell activation (Keras ``activation``), one of :data:`ACTIVATIONS`.
    recurrent_activation : str
        Gate activation of LSTM and GRU (Keras ``recurrent_activation``); unused by
        SimpleRNN.
    head_activation : str
        Activation of the Dense output layer (``tanh``, as the reference implementation).

    Examples
    --------
    >>> Architecture((31, 31)).weight_shapes(1, 1)[0]
    ('l0.kernel', (1, 124))
    """

    units: tuple[int, ...]
    cell: str = "lstm"
    activation: str = "tanh"
    recurrent_activation: str = "sigmoid"
    head_activation: str = "tanh"

    def __post_init__(self) -> None:
        caller = "Architecture"
        object.__setattr__(self, "units", parse_units(self.units, caller))
        cell = self.cell.lower() if isinstance(self.cell, str) else self.cell
        cell = _CELL_ALIASES.get(cell, cell)
        object.__setattr__(self, "cell", check_option(cell, "cell", caller, CELLS))
        for field in ("activation", "recurrent_activation", "head_activation"):
            object.__setattr__(self, field, check_option(getattr(self, field), field, caller, ACTIVATIONS))

    # -- derived facts ------------------------------------------------------------
    @property
    def depth(self) -> int:
        """Number of hidden recurrent layers."""
        return len(self.units)

    @property
    def gates(self) -> int:
        """Gate blocks per cell (4 LSTM, 3 GRU, 1 SimpleRNN)."""
        return GATES[self.cell]

    @property
    def family(self) -> tuple:
        """What determines the ONNX graph: everything but the layer widths."""
        return (self.cell, self.depth, self.activation, self.recurrent_activation, self.head_activation)

    def weight_shapes(self, n_in: int, n_out: int) -> list[tuple[str, tuple[int, ...]]]:
        """Names and per-sample shapes of all weights, in Keras ``model.weights`` order."""
        g = self.gates
        shapes: list[tuple[str, tuple[int, ...]]] = []
        d = n_in
        for k, h in enumerate(self.units):
            shapes.append((f"l{k}.kernel", (d, g * h)))
            shapes.append((f"l{k}.recurrent_kernel", (h, g * h)))
            shapes.append((f"l{k}.bias", (2, g * h) if self.cell == "gru" else (g * h,)))
            d = h
        shapes.append(("head.kernel", (d, n_out)))
        shapes.append(("head.bias", (n_out,)))
        return shapes

    def n_weights(self, n_in: int, n_out: int) -> int:
        """Total number of weights of one model."""
        total = 0
        for _, shape in self.weight_shapes(n_in, n_out):
            size = 1
            for s in shape:
                size *= s
            total += size
        return total

    def flops(self, n_in: int, n_out: int, look_back: int, windows: int) -> float:
        """Product FLOPs of one forward pass over all windows.

        Per window and time step a layer of input width ``d`` and ``H`` units costs
        ``2 (d + H) g H`` (``g`` gate blocks); the Dense head ``2 H n_out`` once per window.
        """
        g = self.gates
        per_step = 0
        d = n_in
        for h in self.units:
            per_step += 2 * (d + h) * g * h
            d = h
        return float(windows) * (look_back * per_step + 2 * d * n_out)

    def replace(self, **changes) -> "Architecture":
        """A copy with some fields changed."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict:
        """Plain fields, JSON-ready."""
        return {
            "units": list(self.units),
            "cell": self.cell,
            "activation": self.activation,
            "recurrent_activation": self.recurrent_activation,
            "head_activation": self.head_activation,
        }

    def label(self) -> str:
        """Short text such as ``lstm[31,31]``."""
        return f"{self.cell}[{','.join(map(str, self.units))}]"

    def describe(self) -> str:
        """The whole model in one readable line: ``lstm[31,31] tanh/sigmoid -> tanh``."""
        gates = "" if self.cell == "simple_rnn" else f"/{self.recurrent_activation}"
        return f"{self.label()} {self.activation}{gates} -> {self.head_activation}"

    @classmethod
    def from_row(cls, row) -> "Architecture":
        """The architecture of a stored row (a mapping, a pandas row or a namedtuple).

        The row needs ``units`` (``"31,31"`` or a sequence of ints) and the model
        columns ``cell``, ``activation``, ``recurrent_activation``, ``head_activation``.

        Examples
        --------
        >>> Architecture.from_row({"units": "31,31", "cell": "lstm", "activation": "tanh",
        ...                        "recurrent_activation": "sigmoid", "head_activation": "tanh"}).label()
        'lstm[31,31]'
        """
        def get(name):
            return row_field(row, name)

        units = get("units")
        if units is None:
            raise InvalidParameterError(f"a stored row needs a 'units' field to rebuild its architecture: {row!r}")
        model = {f: get(f) for f in MODEL_FIELDS if get(f) is not None}
        return cls(parse_units(units if isinstance(units, str) else [int(u) for u in units], "Architecture.from_row"),
                   **model)


#: Named settings.  ``paper`` is the model of Camero, Toutouh and Alba (2018): LSTM
#: layers with the Keras 2.1 defaults (``tanh`` cells, Keras 2 ``hard_sigmoid``
#: gates) and the reference implementation's ``tanh`` Dense head; sample with
#: ``samples=100, threshold=0.01, lower=0, upper=2`` and Normal(0, 1) weights.
PRESETS: dict[str, dict] = {
    "paper": dict(
        cell="lstm",
        activation="tanh",
        recurrent_activation="hard_sigmoid_keras2",
        head_activation="tanh",
    ),
    "keras3": dict(
        cell="lstm",
        activation="tanh",
        recurrent_activation="sigmoid",
        head_activation="tanh",
    ),
}


def row_field(row, name: str):
    """Field ``name`` of a stored row: a mapping, a pandas row (``Series``) or a namedtuple (``None`` if absent)."""
    if hasattr(row, "get") and not hasattr(row, "_fields"):
        return row.get(name)
    return getattr(row, name, None)


#: The fields besides the units that make a model (its cell and activations).
MODEL_FIELDS = ("cell", "activation", "recurrent_activation", "head_activation")


def resolve(arch, *, preset: str | None = None, cell=None, activation=None, recurrent_activation=None,
            head_activation=None, caller: str = "sample") -> Architecture:
    """The one preset resolver: an :class:`Architecture` from one, or from units, a preset and overrides.

    Parameters
    ----------
    arch : Architecture, int, sequence of int or str
        An architecture (returned with the overrides applied), or the units of its
        hidden layers (``[31, 31]``, ``"31,31"``, ``7`` for one layer).
    preset : str, optional
        A name of :data:`PRESETS`; without one, Keras 3 defaults.
    cell, activation, recurrent_activation, head_activation : str, optional
        Override the preset's (or the architecture's) field.

    Raises
    ------
    InvalidParameterError
        Unknown preset, cell or activation; bad units.
    """
    overrides = {k: v for k, v in dict(cell=cell, activation=activation, recurrent_activation=recurrent_activation,
                                       head_activation=head_activation).items() if v is not None}
    if isinstance(arch, Architecture):
        return arch.replace(**overrides) if overrides else arch
    base = {}
    if preset is not None:
        base = dict(PRESETS[check_option(preset, "preset", caller, PRESETS)])
    base.update(overrides)
    if isinstance(arch, int) and not isinstance(arch, bool):
        arch = [arch]
    elif not isinstance(arch, str):
        try:
            arch = list(arch)
        except TypeError:
            raise InvalidParameterError(
                f"The 'arch' parameter of {caller} must be an Architecture or a list of units such as [31, 31]. "
                f"Got {arch!r} instead."
            ) from None
    return Architecture(parse_units(arch, caller), **base)


def model_fields(*, preset: str | None = None, cell=None, activation=None, recurrent_activation=None,
                 head_activation=None, caller: str = "model_fields") -> dict:
    """The model fields that a preset and single overrides fix, e.g. to filter stored rows.

    A preset fixes all four (:data:`MODEL_FIELDS`), and a single option replaces its field;
    without a preset only the fields given are returned.  Checked like :func:`resolve`.
    """
    given = dict(cell=cell, activation=activation, recurrent_activation=recurrent_activation,
                 head_activation=head_activation)
    if preset is not None:
        arch = resolve([1], preset=preset, **given, caller=caller)
        return {f: getattr(arch, f) for f in MODEL_FIELDS}
    if any(v is not None for v in given.values()):
        probe = Architecture((1,), **{k: v for k, v in given.items() if v is not None})
        return {k: getattr(probe, k) for k, v in given.items() if v is not None}
    return {}


def preset(name: str, units) -> Architecture:
    """The architecture of a named preset with the given layer widths (see :func:`resolve`)."""
    return resolve(units, preset=name, caller="preset")
