"""Search: an Optuna study over a screening grid, scored by MAE random sampling through the results store.

Holds the grid as a define-by-run Optuna search space (:mod:`.space`: ``depth``, then
``u1 .. u{depth}``, then ``look_back``), the store-backed scorer that never samples a
row twice (:mod:`.scoring`), the RESN evolution strategy as an Optuna sampler
(:mod:`.resn`), the accepted names (:mod:`.names`) and :func:`search` itself
(:mod:`.engine`: TPE, GP, random or RESN; an RDB storage shared with the screening
store; resumable; worker processes or Dask).

:func:`~mae_ort.search.engine.search` is re-exported here as ``mae_ort.search.search``
(``from mae_ort.search import search``).  These names are imported on first use
(:pep:`562`), so importing this package (or the CLI) does not import Optuna.

Must not import: cli; writes the database only through :mod:`mae_ort.results` (and
Optuna's own tables through Optuna).
"""

from __future__ import annotations

import importlib

#: Public name -> the submodule that defines it.
_EXPORTS = {
    "search": ".engine", "make_sampler": ".engine", "best_frame": ".engine", "SearchInterrupted": ".engine",
    "ATTR": ".engine",
    "RESNSampler": ".resn", "RESNState": ".resn",
    "Scorer": ".scoring", "STATISTICS": ".scoring",
    "SearchSpace": ".space", "as_search_space": ".space",
    "SAMPLERS": ".names", "OBJECTIVES": ".names",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name], __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_EXPORTS))

