"""Keras' own initialisation of an architecture's weights, the one training starts from, seeded.

What ``keras.layers.LSTM`` / ``GRU`` / ``SimpleRNN`` and ``Dense`` draw by default
(Keras 3, ``keras/src/initializers``): every kernel ``GlorotUniform`` (uniform on
``[-l, l]``, ``l = sqrt(6 / (fan_in + fan_out))``, fans of the 2-D shape), every recurrent
kernel ``Orthogonal`` (QR of a standard normal matrix of shape ``(max(r, c), min(r, c))``,
``Q`` times the signs of ``R``'s diagonal, transposed when ``r < c``), every bias zero, and
the LSTM's forget-gate block of its bias one (``unit_forget_bias=True``).  The random
numbers are numpy's, not TensorFlow's: the distribution is Keras', the draws are this
package's, from ``(seed, sample)`` so that sample ``s`` does not depend on how many are drawn.
"""

from __future__ import annotations

import numpy as np

from ..model.architecture import Architecture

__all__ = ["glorot_uniform", "orthogonal", "keras_init_weights"]

#: Seed-sequence tag of Keras-initialised weights, a stream of their own.
_KERAS_STREAM = 0x6B657261


def glorot_uniform(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    """``keras.initializers.GlorotUniform`` of a 2-D shape (fan_in = rows, fan_out = columns)."""
    limit = np.sqrt(6.0 / (shape[0] + shape[1]))
    return rng.uniform(-limit, limit, size=shape)


def orthogonal(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    """``keras.initializers.Orthogonal(gain=1)`` of a 2-D shape."""
    rows, cols = shape
    a = rng.standard_normal((max(rows, cols), min(rows, cols)))
    q, r = np.linalg.qr(a)
    q = q * np.sign(np.diag(r))
    return q.T if rows < cols else q


def keras_init_weights(arch: Architecture, *, n_in: int, n_out: int, samples: int, seed: int) -> list[np.ndarray]:
    """``samples`` draws of Keras' default initialisation of ``arch``, float32 arrays (S, *shape) in
    :meth:`~mae_ort.model.Architecture.weight_shapes` order (the sampler's layout)."""
    shapes = arch.weight_shapes(n_in, n_out)
    out = [np.zeros((samples,) + shape, dtype=np.float32) for _, shape in shapes]
    for s in range(samples):
        rng = np.random.default_rng([int(seed), _KERAS_STREAM, s])
        for k, H in enumerate(arch.units):
            kernel, rec, bias = out[3 * k:3 * k + 3]
            kernel[s] = glorot_uniform(rng, kernel.shape[1:])
            rec[s] = orthogonal(rng, rec.shape[1:])
            if arch.cell == "lstm":
                bias[s, H:2 * H] = 1.0
        out[-2][s] = glorot_uniform(rng, out[-2].shape[1:])
    return out
