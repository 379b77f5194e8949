"""Seeded, counter-based filling of weight samples (Numba).

Every value depends only on ``(seed, global sample index, stream, element index)``:
the same weights come out whatever Numba's thread count and however the samples are
split into chunks.  The generator is a counter-based hash:

* ``key = mix64(mix64(mix64(seed) + sample) + stream)`` per sample, where ``mix64`` is
  the SplitMix64 finalizer (all arithmetic modulo 2**64);
* element ``e`` draws the 64-bit word ``mix64(key + (e + 1) * 0x9E3779B97F4A7C15)``
  (the SplitMix64 sequence started at ``key``);
* a uniform in the open interval (0, 1) is ``((word >> 11) + 0.5) * 2**-53``;
* normals come in Box-Muller pairs: elements ``2p`` and ``2p + 1`` share two uniforms
  ``u1`` (from element ``2p``'s word) and ``u2`` (from ``2p + 1``'s) and receive
  ``r cos(2 pi u2)`` and ``r sin(2 pi u2)`` with ``r = sqrt(-2 log u1)``.

Values are computed in float64 and rounded to float32.

This module is a leaf: it knows nothing of the rest of mae-ort and raises plain
``TypeError`` / ``ValueError``.
"""

from __future__ import annotations

import math
import numbers

import numpy as np
from numba import njit, prange

from ._cache import is_cached

__all__ = ["fill", "glorot_limit", "warmup", "compiled", "DISTRIBUTIONS"]

#: Distributions ``fill`` knows, by name, with their integer codes in the kernel.
DISTRIBUTIONS = {"normal": 0, "uniform": 1}

_U64_MAX = 2**64 - 1
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_S30 = np.uint64(30)
_S27 = np.uint64(27)
_S31 = np.uint64(31)
_S11 = np.uint64(11)
_ONE = np.uint64(1)
_TWO_M53 = 1.0 / 9007199254740992.0  # 2**-53
_TWO_PI = 2.0 * math.pi
#: Elements per parallel task (even, so that Box-Muller pairs never straddle tasks).
_BLOCK = 8192


@njit(cache=True, inline="always")
def _mix64(z):
    """SplitMix64 finalizer of a uint64 (wraps modulo 2**64)."""
    z = (z ^ (z >> _S30)) * _M1
    z = (z ^ (z >> _S27)) * _M2
    return z ^ (z >> _S31)


@njit(cache=True, inline="always")
def _sample_key(seed, sample, stream):
    return _mix64(_mix64(_mix64(seed) + sample) + stream)


@njit(cache=True, inline="always")
def _uniform01(key, element):
    """Uniform double in (0, 1) of one element counter."""
    word = _mix64(key + (np.uint64(element) + _ONE) * _GOLDEN)
    return (np.float64(word >> _S11) + 0.5) * _TWO_M53


@njit(parallel=True, cache=True)
def _fill_kernel(out, seed, first_sample, stream, dist, a, b):
    """Fill ``out`` (S, M) float32 in place; row ``j`` is global sample ``first_sample + j``."""
    S, M = out.shape
    nblocks = (M + _BLOCK - 1) // _BLOCK
    for task in prange(S * nblocks):
        j = task // nblocks
        e0 = (task - j * nblocks) * _BLOCK
        e1 = min(M, e0 + _BLOCK)
        key = _sample_key(seed, np.uint64(first_sample + j), stream)
        row = out[j]
        if dist == 0:
            for p in range(e0 // 2, (e1 + 1) // 2):
                e = 2 * p
                u1 = _uniform01(key, e)
                u2 = _uniform01(key, e + 1)
                r = math.sqrt(-2.0 * math.log(u1))
                th = _TWO_PI * u2
                row[e] = np.float32(a + b * (r * math.cos(th)))
                if e + 1 < e1:
                    row[e + 1] = np.float32(a + b * (r * math.sin(th)))
        else:
            span = b - a
            for e in range(e0, e1):
                row[e] = np.float32(a + span * _uniform01(key, e))


def _check_uint64(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(
            f"fill: '{name}' must be an integer in [0, 2**64), got {value!r} of type {type(value).__name__}."
        )
    value = int(value)
    if not 0 <= value <= _U64_MAX:
        raise ValueError(f"fill: '{name}' must be in [0, 2**64), got {value}.")
    return value


def _check_real(value, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"fill: '{name}' must be a real number, got {value!r} of type {type(value).__name__}.")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"fill: '{name}' must be finite, got {value}.")
    return value


def fill(
    out: np.ndarray,
    *,
    seed: int,
    first_sample: int,
    stream: int,
    dist: str = "normal",
    a: float = 0.0,
    b: float = 1.0,
) -> None:
    """Fill a chunk of weight samples in place, reproducibly.

    Parameters
    ----------
    out : float32 C-contiguous array of shape (S_chunk, *per_sample_shape)
        Row ``j`` (``out[j]``) receives global sample ``first_sample + j``.
    seed : int in [0, 2**64)
    first_sample : int >= 0
        Global index of ``out[0]``.
    stream : int in [0, 2**64)
        Distinguishes the tensors of one sample (e.g. the position of the weight in
        ``Architecture.weight_shapes``).
    dist : {'normal', 'uniform'}
        ``normal``: Normal(loc=a, scale=b); ``uniform``: Uniform(low=a, high=b).
    a, b : float
        Parameters of the distribution (see ``dist``).
    """
    if not isinstance(out, np.ndarray):
        raise TypeError(f"fill: 'out' must be a numpy array, got {type(out).__name__}.")
    if out.dtype != np.float32:
        raise TypeError(f"fill: 'out' must have dtype float32, got {out.dtype}.")
    if not out.flags.c_contiguous:
        raise ValueError("fill: 'out' must be C-contiguous.")
    if not out.flags.writeable:
        raise ValueError("fill: 'out' must be writeable.")
    if out.ndim < 1:
        raise ValueError("fill: 'out' must have at least one dimension (the samples).")
    seed = _check_uint64(seed, "seed")
    stream = _check_uint64(stream, "stream")
    first_sample = _check_uint64(first_sample, "first_sample")
    if first_sample + out.shape[0] > 2**63 - 1:
        raise ValueError(f"fill: 'first_sample' + chunk size must stay below 2**63, got {first_sample}.")
    if not isinstance(dist, str) or dist not in DISTRIBUTIONS:
        raise ValueError(f"fill: 'dist' must be one of {sorted(DISTRIBUTIONS)}, got {dist!r}.")
    a = _check_real(a, "a")
    b = _check_real(b, "b")
    if dist == "normal" and b < 0:
        raise ValueError(f"fill: the normal scale 'b' must be >= 0, got {b}.")
    if dist == "uniform" and b < a:
        raise ValueError(f"fill: the uniform bounds need a <= b, got a={a}, b={b}.")
    if out.size == 0:
        return
    _fill_kernel(*_fill_args(out, seed, first_sample, stream, dist, a, b))


def _fill_args(out, seed, first_sample, stream, dist, a, b):
    """The arguments of ``_fill_kernel`` for checked ones of :func:`fill`."""
    return (out.reshape(out.shape[0], -1), np.uint64(seed), np.int64(first_sample), np.uint64(stream),
            np.int64(DISTRIBUTIONS[dist]), a, b)


def glorot_limit(fan_in: int, fan_out: int) -> float:
    """Glorot (Xavier) uniform limit ``sqrt(6 / (fan_in + fan_out))``."""
    if fan_in + fan_out <= 0:
        raise ValueError(f"glorot_limit: fan_in + fan_out must be positive, got {fan_in} + {fan_out}.")
    return math.sqrt(6.0 / (fan_in + fan_out))


def warmup() -> None:
    """Compile (or load from the disk cache) the float32 kernels of this module."""
    tmp = np.empty((2, 3), dtype=np.float32)
    fill(tmp, seed=0, first_sample=0, stream=0, dist="normal")
    fill(tmp, seed=0, first_sample=0, stream=0, dist="uniform")


def compiled() -> bool:
    """Whether :func:`warmup` needs no compilation (the kernel is loaded or in Numba's disk cache)."""
    return is_cached(_fill_kernel, _fill_args(np.empty((2, 3), dtype=np.float32), 0, 0, 0, "normal", 0.0, 1.0))
