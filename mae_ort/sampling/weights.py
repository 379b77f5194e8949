"""Weight initialisation: every weight of every sample drawn from an explicit seed.

The weights of sample ``s`` come from the counter-based generator of
:mod:`mae_ort.kernels.random`, keyed by ``(seed, s, stream)`` where ``stream`` is the
weight's position in Keras order: the same seed gives the same weights whatever the
chunking or the threads.
"""

from __future__ import annotations

import numpy as np

from .._system import limit_numba_threads
from .settings import Init

__all__ = ["fill_weights"]


def fill_weights(bufs: list[np.ndarray], *, init: Init, seed: int, first_sample: int, threads: int) -> None:
    """Fill weight buffers of shape ``(m, *shape)`` (Keras order) with samples ``first_sample ...``.

    ``normal`` and ``uniform`` fill every weight from the distribution; ``glorot`` draws
    kernels from Glorot-uniform ``U(-l, l)``, ``l = sqrt(6 / (fan_in + fan_out))``, and
    zeroes the biases (Keras' defaults).  The fill is a Numba parallel region run on
    ``threads`` threads.
    """
    from ..kernels import random as krandom

    limit_numba_threads(threads)
    for stream, buf in enumerate(bufs):
        if init.kind in ("normal", "uniform"):
            krandom.fill(buf, seed=seed, first_sample=first_sample, stream=stream, dist=init.kind, a=init.a, b=init.b)
        elif buf.ndim == 3:  # glorot kernels
            lim = krandom.glorot_limit(buf.shape[1], buf.shape[2])
            krandom.fill(buf, seed=seed, first_sample=first_sample, stream=stream, dist="uniform", a=-lim, b=lim)
        else:  # glorot biases
            buf[...] = 0.0
