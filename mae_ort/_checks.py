"""One place for parameter checks, with one message shape (scikit-learn's).

Imports nothing of mae-ort but :mod:`mae_ort.errors`.

``"The 'look_back' parameter of sample must be an int in the range [1, inf). Got 0 instead."``
"""

from __future__ import annotations

import math
import numbers
import re
from typing import Iterable

from .errors import InvalidParameterError


def _fail(name: str, caller: str, rule: str, value) -> InvalidParameterError:
    return InvalidParameterError(
        f"The {name!r} parameter of {caller} must be {rule}. Got {value!r} instead."
    )


def check_int(value, name: str, caller: str, *, low: int | None = None, high: int | None = None) -> int:
    """Return ``value`` as an int, or raise if it is not an integer in ``[low, high]``."""
    lo = "-inf" if low is None else str(low)
    hi = "inf" if high is None else str(high)
    rule = f"an int in the range [{lo}, {hi}{']' if high is not None else ')'}"
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise _fail(name, caller, rule, value)
    value = int(value)
    if (low is not None and value < low) or (high is not None and value > high):
        raise _fail(name, caller, rule, value)
    return value


def check_real(
    value,
    name: str,
    caller: str,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
) -> float:
    """Return ``value`` as a finite float, or raise if it is outside the interval (open ends on request)."""
    lo = "-inf" if low is None else repr(float(low))
    hi = "inf" if high is None else repr(float(high))
    opening = "(" if low_open or low is None else "["
    closing = "]" if high is not None and not high_open else ")"
    rule = f"a finite real number in the range {opening}{lo}, {hi}{closing}"
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise _fail(name, caller, rule, value)
    value = float(value)
    if not math.isfinite(value):
        raise _fail(name, caller, rule, value)
    if low is not None and (value < low or (low_open and value == low)):
        raise _fail(name, caller, rule, value)
    if high is not None and (value > high or (high_open and value == high)):
        raise _fail(name, caller, rule, value)
    return value


def check_option(value, name: str, caller: str, options: Iterable[str]) -> str:
    """Return ``value`` lower-cased if it is one of ``options``, or raise naming them."""
    options = list(options)
    rule = "one of " + ", ".join(repr(o) for o in options)
    if not isinstance(value, str) or value.lower() not in options:
        raise _fail(name, caller, rule, value)
    return value.lower()


def check_seed(value, name: str = "seed", caller: str = "sample") -> int:
    """Return a seed as a non-negative int below 2**63."""
    return check_int(value, name, caller, low=0, high=2**63 - 1)


def resolve_seed(value, name: str = "seed", caller: str = "sample") -> int:
    """A seed as a non-negative int below 2**63, from an int, None or a numpy random generator.

    ``None`` draws fresh entropy (``numpy.random.SeedSequence().entropy``, reduced to
    63 bits); a ``numpy.random.Generator`` (or ``RandomState``) gives one draw from
    it, so a seeded generator gives a reproducible seed.  The seed used is what the
    result records, so any run can be repeated with it.
    """
    if value is None or type(value).__module__.startswith("numpy.random"):
        import numpy as np

        if value is None:
            return int(np.random.SeedSequence().entropy) & (2**63 - 1)
        if isinstance(value, np.random.Generator):
            return int(value.integers(0, 2**63 - 1, dtype=np.int64, endpoint=True))
        if isinstance(value, np.random.RandomState):
            return int(value.randint(0, 2**63 - 1, dtype=np.int64))
    rule = "an int in the range [0, 9223372036854775807], None or a numpy.random.Generator"
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or not 0 <= int(value) <= 2**63 - 1:
        raise _fail(name, caller, rule, value)
    return int(value)


def split_items(text, name: str, caller: str | None = None) -> list[str]:
    """The comma-separated items of ``text``, stripped; an empty item anywhere is refused.

    ``name`` is a parameter (``'units'``, with ``caller``) or a command-line option
    (``'--arch'``); the message names it and the item's position, e.g. ``"The '--arch'
    option has an empty item 2 of 3 in '4,,4'; remove the extra comma or give a value."``.
    The one parser of every list option (``--arch``, ``--units``, ``--input``, ...).
    """
    text = str(text)
    items = [p.strip() for p in text.split(",")]
    for i, item in enumerate(items, 1):
        if item == "":
            who = f"The {name!r} option" if name.startswith("-") or caller is None else \
                f"The {name!r} parameter of {caller}"
            if len(items) == 1:
                raise InvalidParameterError(f"{who} is empty (item 1 of 1 in {text!r}); give a value, or leave the "
                                            "option out for its default")
            raise InvalidParameterError(f"{who} has an empty item {i} of {len(items)} in {text!r}; remove the extra "
                                        "comma or give a value")
    return items


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
