"""``--json`` output of every command: one JSON document on stdout, non-finite numbers as ``null``.

The encoder turns what the commands hold (dicts, lists, numpy scalars and arrays, pandas frames,
timestamps, paths) into plain JSON values; ``NaN``, ``inf`` and pandas' missing values become
``None`` (``null``), since strict JSON (RFC 8259) has no non-finite numbers.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import sys
from pathlib import PurePath
from typing import Any

import click
import numpy as np

__all__ = ["jsonable", "echo_json", "frame_records"]


def jsonable(value: Any) -> Any:
    """``value`` as plain JSON values: dict keys as strings, non-finite and missing numbers as ``None``."""
    if value is None or isinstance(value, (bool, str)):
        return value
    pd = sys.modules.get("pandas")  # not imported for it: a value of pandas means pandas is loaded (sample's is not)
    if pd is not None and (value is pd.NaT or value is pd.NA):
        return None
    if isinstance(value, (np.bool_,)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if pd is not None and isinstance(value, pd.DataFrame):
        return frame_records(value)
    if pd is not None and isinstance(value, pd.Series):
        return [jsonable(v) for v in value.tolist()]
    if isinstance(value, np.ndarray):
        return [jsonable(v) for v in value.tolist()]
    if isinstance(value, (list, tuple, set, frozenset)):
        return [jsonable(v) for v in value]
    if isinstance(value, (_dt.datetime, _dt.date)):  # pandas' Timestamp is a datetime
        return value.isoformat()
    if isinstance(value, PurePath):
        return str(value)
    return str(value)


def frame_records(frame) -> list[dict]:
    """The rows of ``frame`` as JSON-ready dicts (column name: value), in order."""
    return [jsonable(r) for r in frame.to_dict("records")]


def echo_json(document: Any) -> None:
    """Print ``document`` as one line of strict JSON on stdout (``allow_nan=False``: a NaN left would raise)."""
    click.echo(json.dumps(jsonable(document), allow_nan=False))
