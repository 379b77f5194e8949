"""Row keys: the natural key of an (architecture, look-back) row, its text, and seeded hashed ranks.

A row's key ``(cell, activation, recurrent_activation, head_activation, units,
look_back)`` (``units`` as text, ``"31,31"``) names the row in the results database
and, hashed with a seed, gives the row its own seed and its rank in seeded random
subsets and picks.  Pure functions.
"""

from __future__ import annotations

import hashlib

from .architecture import MODEL_FIELDS, Architecture

__all__ = ["KEY_COLUMNS", "row_key", "key_text", "hash64", "hashed_rank"]

#: Names of the natural-key fields of a row, in key order.
KEY_COLUMNS = (*MODEL_FIELDS, "units", "look_back")


def row_key(arch: Architecture, look_back: int) -> tuple:
    """The natural key of ``arch`` at ``look_back``."""
    return (arch.cell, arch.activation, arch.recurrent_activation, arch.head_activation,
            ",".join(map(str, arch.units)), int(look_back))


def key_text(key: tuple) -> str:
    """The key as one line of text, ``lstm/tanh/hard_sigmoid_keras2/tanh/31,31/lb10``."""
    return "/".join(map(str, key[:5])) + f"/lb{key[5]}"


def hash64(text: str) -> int:
    """A non-negative 63-bit integer: the first 8 bytes of the SHA-256 of ``text``, shifted right by one."""
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big") >> 1


def hashed_rank(tag: str, seed: int, key: tuple) -> int:
    """``hash64("mae-ort-{tag}|{seed}|{key text}")``: a seeded rank that depends on nothing but the key.

    ``tag`` separates the uses: ``row`` (a row's seed), ``subset`` (seeded subsets of a
    space), ``pick`` (which rows a validation trains).
    """
    return hash64(f"mae-ort-{tag}|{int(seed)}|{key_text(key)}")
