"""Parsing sizes such as ``1GiB`` or ``512MB``."""

from __future__ import annotations

import re

from .errors import InvalidParameterError

_UNITS = {"": 1, "b": 1, "k": 10**3, "kb": 10**3, "kib": 2**10, "m": 10**6, "mb": 10**6, "mib": 2**20,
          "g": 10**9, "gb": 10**9, "gib": 2**30, "t": 10**12, "tb": 10**12, "tib": 2**40}


def parse_bytes(text, name: str = "memory_budget") -> int:
    """``"1GiB"`` -> 1073741824; plain numbers are bytes.  Must be positive."""
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        value = int(text)
    else:
        m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+(?:e[0-9]+)?)\s*([a-zA-Z]*)\s*", str(text))
        if not m or m.group(2).lower() not in _UNITS:
            raise InvalidParameterError(
                f"The {name!r} parameter must be a size such as 1073741824, 512MiB or 1GiB. Got {text!r} instead."
            )
        value = int(float(m.group(1)) * _UNITS[m.group(2).lower()])
    if value <= 0:
        raise InvalidParameterError(f"The {name!r} parameter must be a positive size. Got {text!r} instead.")
    return value
