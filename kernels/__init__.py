"""Numba kernels of mae-ort (importable as ``mae_ort.kernels``).

A leaf package: it imports nothing from the rest of mae-ort and raises plain
``TypeError`` / ``ValueError``.  Every kernel is compiled lazily on first use and
cached on disk (``cache=True``: ``__pycache__`` next to the sources, or Numba's
fallback cache directory / ``NUMBA_CACHE_DIR``).

* :mod:`.random` -- counter-based, seeded filling of weight samples
  (:func:`fill`, :func:`glorot_limit`).
* :mod:`.forward` -- the fused float32 forward pass returning every sample's MAE
  (:func:`forward_maes`).

:func:`compiled` says whether the kernels are ready without compiling (loaded in
this process or in Numba's disk cache), so that a caller can avoid a cold compile.
"""

from __future__ import annotations

from . import forward, random
from ._cache import is_cached
from .forward import ACTIVATION_CODES, CELL_CODES, forward_maes
from .random import DISTRIBUTIONS, fill, glorot_limit

__all__ = [
    "forward",
    "random",
    "fill",
    "glorot_limit",
    "forward_maes",
    "warmup",
    "compiled",
    "is_cached",
    "ACTIVATION_CODES",
    "CELL_CODES",
    "DISTRIBUTIONS",
]


def warmup() -> None:
    """Compile (or load from the disk cache) every kernel of the package (the shared-prefix one included)."""
    random.warmup()
    forward.warmup(group=True)


def compiled() -> bool:
    """Whether :func:`warmup` would only load the kernels (from this process or Numba's disk cache), not
    compile them."""
    return random.compiled() and forward.compiled(group=True)
