"""A screening grid as an Optuna define-by-run search space.

A :class:`~mae_ort.screening.space.Grid` (per-layer unit choices, depths, look-backs,
cells and activations) becomes these trial parameters, suggested in this order:

* ``cell`` -- only when the grid has several cells (categorical);
* ``depth`` -- the number of hidden layers;
* ``u1`` ... ``u{depth}`` -- the units of each layer, conditional on the depth (a
  deeper network suggests more of them; ``u3`` exists only in trials of depth >= 3);
* ``look_back`` -- the window length.

Each one is an ``IntDistribution`` when its choices form an arithmetic progression
(``7:31``, ``7:31:2``, a single value) and a ``CategoricalDistribution`` otherwise
(``1,10,20,30``: its steps differ).  A trial's parameters always name one row of the
grid, so every trial is an (architecture, look-back) that ``screen`` would run, under
the same key.
"""

from __future__ import annotations

from typing import Any

from ..errors import InvalidParameterError
from ..model.architecture import Architecture
from ..screening.space import Grid, Row, as_space

__all__ = ["SearchSpace", "as_search_space", "PARAM_DEPTH", "PARAM_LOOK_BACK", "PARAM_CELL", "unit_param"]

PARAM_DEPTH = "depth"
PARAM_LOOK_BACK = "look_back"
PARAM_CELL = "cell"


def unit_param(layer: int) -> str:
    """The parameter name of layer ``layer``'s units (1-based): ``u1``, ``u2``, ..."""
    return f"u{int(layer)}"


def _distribution(values: tuple):
    """An ``IntDistribution`` for an arithmetic progression, else a ``CategoricalDistribution``."""
    from optuna.distributions import CategoricalDistribution, IntDistribution

    values = tuple(values)
    if all(isinstance(v, int) for v in values):
        if len(values) == 1:
            return IntDistribution(values[0], values[0])
        step = values[1] - values[0]
        if step >= 1 and all(b - a == step for a, b in zip(values, values[1:])):
            return IntDistribution(values[0], values[-1], step=step)
    return CategoricalDistribution(values)


class SearchSpace:
    """The Optuna parameters of a :class:`~mae_ort.screening.space.Grid` (see the module docstring).

    Parameters
    ----------
    grid : Grid or str
        The space, or the name of one of the paper's spaces (``"paper-2layer"``).

    Attributes
    ----------
    grid : Grid
    depths, look_backs, cells : tuple
        The allowed depths, look-backs and cells, sorted.
    max_depth : int
        The largest depth.
    """

    def __init__(self, grid) -> None:
        grid = as_space(grid) if isinstance(grid, str) else grid
        if not isinstance(grid, Grid):
            raise InvalidParameterError(
                "The 'space' parameter of search must be a Grid (mae_ort.screening.grid(...)) or the name of one of "
                f"the paper's spaces; a list of rows has no parameters to search. Got {grid!r} instead."
            )
        self.grid = grid
        self.depths = tuple(grid.depths)
        self.look_backs = tuple(grid.look_backs)
        self.cells = tuple(grid.cells)
        self.max_depth = max(self.depths)

    # -- choices ------------------------------------------------------------------------------
    def layer_choices(self, layer: int) -> tuple:
        """Unit choices of layer ``layer`` (1-based; deeper layers repeat the grid's last choice)."""
        return self.grid.layer_choices(int(layer))[int(layer) - 1]

    def distributions(self) -> dict:
        """Every parameter's distribution: ``cell`` (if several), ``depth``, ``u1..u{max_depth}``, ``look_back``."""
        out = {}
        if len(self.cells) > 1:
            out[PARAM_CELL] = _distribution(self.cells)
        out[PARAM_DEPTH] = _distribution(self.depths)
        for k in range(1, self.max_depth + 1):
            out[unit_param(k)] = _distribution(self.layer_choices(k))
        out[PARAM_LOOK_BACK] = _distribution(self.look_backs)
        return out

    def __len__(self) -> int:
        return len(self.grid)

    # -- trials <-> rows ----------------------------------------------------------------------
    def suggest(self, trial) -> Row:
        """Suggest one row of the grid in ``trial`` (``cell``, ``depth``, ``u1..u{depth}``, ``look_back``)."""
        dists = self.distributions()

        def ask(name):
            return _suggest(trial, name, dists[name])

        cell = ask(PARAM_CELL) if PARAM_CELL in dists else self.cells[0]
        depth = int(ask(PARAM_DEPTH))
        units = tuple(int(ask(unit_param(k))) for k in range(1, depth + 1))
        look_back = int(ask(PARAM_LOOK_BACK))
        return self.row(cell=cell, units=units, look_back=look_back)

    def row(self, *, units, look_back: int, cell: str | None = None) -> Row:
        """The grid's row of these values (the grid's activations)."""
        g = self.grid
        arch = Architecture(tuple(int(u) for u in units), cell=cell or self.cells[0], activation=g.activation,
                            recurrent_activation=g.recurrent_activation, head_activation=g.head_activation)
        return Row(arch, int(look_back))

    def contains(self, row: Row) -> bool:
        """Whether ``row`` is a row of the grid."""
        a, g = row.arch, self.grid
        if (a.cell not in self.cells or a.depth not in self.depths or row.look_back not in self.look_backs
                or (a.activation, a.recurrent_activation, a.head_activation)
                != (g.activation, g.recurrent_activation, g.head_activation)):
            return False
        return all(u in self.layer_choices(k) for k, u in enumerate(a.units, 1))

    def params(self, row: Row) -> dict:
        """The trial parameters that name ``row`` (for ``study.enqueue_trial``)."""
        out: dict[str, Any] = {}
        if len(self.cells) > 1:
            out[PARAM_CELL] = row.arch.cell
        out[PARAM_DEPTH] = row.arch.depth
        for k, u in enumerate(row.arch.units, 1):
            out[unit_param(k)] = int(u)
        out[PARAM_LOOK_BACK] = int(row.look_back)
        return out

    def from_params(self, params: dict) -> Row | None:
        """The row that a finished trial's parameters name, or ``None`` if they name no row of the grid."""
        try:
            depth = int(params[PARAM_DEPTH])
            units = tuple(int(params[unit_param(k)]) for k in range(1, depth + 1))
            row = self.row(cell=params.get(PARAM_CELL, self.cells[0]), units=units,
                           look_back=int(params[PARAM_LOOK_BACK]))
        except (KeyError, TypeError, ValueError, InvalidParameterError):
            return None
        return row if self.contains(row) else None

    # -- identity -----------------------------------------------------------------------------
    def to_dict(self) -> dict:
        """The grid as JSON-ready fields (stored with a study, compared when it is resumed)."""
        g = self.grid
        return {
            "cells": list(self.cells),
            "depths": list(self.depths),
            "units": [list(u) for u in g.units],
            "look_backs": list(self.look_backs),
            "activation": g.activation,
            "recurrent_activation": g.recurrent_activation,
            "head_activation": g.head_activation,
        }

    def describe(self) -> str:
        """One line (the grid's)."""
        return self.grid.describe()

    def __repr__(self) -> str:
        return f"<SearchSpace {self.describe()}>"


def _suggest(trial, name, dist):
    """``trial.suggest_categorical`` or ``trial.suggest_int`` with the distribution's own arguments."""
    from optuna.distributions import CategoricalDistribution

    if isinstance(dist, CategoricalDistribution):
        return trial.suggest_categorical(name, dist.choices)
    return trial.suggest_int(name, dist.low, dist.high, step=dist.step)


def as_search_space(space) -> SearchSpace:
    """A :class:`SearchSpace` from itself, a :class:`Grid` or a preset name."""
    return space if isinstance(space, SearchSpace) else SearchSpace(space)

