"""Screening: search spaces and the sweep that samples every row of one into the results store.

Holds the spaces (:mod:`.space`: grids, the paper's presets, seeded subsets, row
lists, row seeds), what a space costs before it runs (:mod:`.cost`: its largest member
against the memory budget, its FLOPs, a first time estimate), :func:`~.sweep.screen`
with its executors (in-process, worker processes with the shared lifecycle of
:mod:`mae_ort._workers`, a Dask cluster), :mod:`.many` (many series of a long-format table in one
screen, each series' best and the mean rank across series) and :func:`~.own.screen_own` for own ONNX models.

Must not import: study, cli; writes the database only through :mod:`mae_ort.results`.
"""

from .space import SPACE_PRESETS, Grid, Row, RowList, Space, grid, preset_space, read_rows
from .sweep import ScreenInterrupted, screen

__all__ = ["SPACE_PRESETS", "Grid", "Row", "RowList", "ScreenInterrupted", "Space", "grid", "preset_space",
           "read_rows", "screen"]
