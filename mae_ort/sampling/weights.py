"""Weight initialisation: every weight of every sample drawn from an explicit seed.

The weights of sample ``s`` come from the counter-based generator of
:mod:`mae_ort.kernels.random`, keyed by ``(seed, s, stream)``: the same seed gives the
same weights whatever the chunking or the threads.  :func:`weight_streams` gives each
weight array its stream (see :data:`mae_ort.sampling.settings.SEEDINGS`): in seeding 1 its
position in Keras order; in seeding 2 a hash of what the array's values may depend on (for
layer ``k``: the cell, the activations and the widths of layers ``1..k``; for the head: the
whole architecture), so that architectures with common first layers share their weights.
"""

from __future__ import annotations

import numpy as np

from .._system import limit_numba_threads
from ..model.architecture import Architecture
from ..model.keys import hash64
from .settings import Init

__all__ = ["fill_weights", "weight_streams"]


def weight_streams(arch: Architecture, seeding: int) -> list[int]:
    """The stream of each weight array of ``arch`` (Keras order) in a seeding version."""
    n = 3 * arch.depth + 2
    if seeding == 1:
        return list(range(n))
    model = f"{arch.cell}|{arch.activation}|{arch.recurrent_activation}"
    out = []
    for k in range(arch.depth):
        prefix = ",".join(map(str, arch.units[:k + 1]))
        out += [hash64(f"mae-ort-w2|{model}|{prefix}|{j}") for j in range(3)]
    whole = ",".join(map(str, arch.units))
    out += [hash64(f"mae-ort-w2|{model}|{arch.head_activation}|{whole}|head|{j}") for j in range(2)]
    return out


def fill_weights(bufs: list[np.ndarray], *, init: Init, seed: int, first_sample: int, threads: int,
                 streams=None) -> None:
    """Fill weight buffers of shape ``(m, *shape)`` (Keras order) with samples ``first_sample ...``.

    ``normal`` and ``uniform`` fill every weight from the distribution; ``glorot`` draws
    kernels from Glorot-uniform ``U(-l, l)``, ``l = sqrt(6 / (fan_in + fan_out))``, and
    zeroes the biases (Keras' defaults).  The fill is a Numba parallel region run on
    ``threads`` threads.  ``streams`` (one per buffer, :func:`weight_streams`) default to the
    buffers' positions.
    """
    from ..kernels import random as krandom

    limit_numba_threads(threads)
    streams = range(len(bufs)) if streams is None else streams
    for stream, buf in zip(streams, bufs):
        if init.kind in ("normal", "uniform"):
            krandom.fill(buf, seed=seed, first_sample=first_sample, stream=stream, dist=init.kind, a=init.a, b=init.b)
        elif buf.ndim == 3:  # glorot kernels
            lim = krandom.glorot_limit(buf.shape[1], buf.shape[2])
            krandom.fill(buf, seed=seed, first_sample=first_sample, stream=stream, dist="uniform", a=-lim, b=lim)
        else:  # glorot biases
            buf[...] = 0.0
