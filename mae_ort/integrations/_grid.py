"""What the library adapters share: expanding a grid, exporting a torch module with a free batch axis, scoring
each exported network by MAE random sampling, and the ranked frame.

Must not import: study, cli.
"""

from __future__ import annotations

import importlib
import io
import itertools
import time
import warnings
from collections.abc import Mapping

import numpy as np

from .._checks import check_int
from ..errors import InvalidParameterError, MaeOrtWarning, RuntimeUnavailableError

__all__ = ["SkippedConfigWarning", "expand_grid", "export_module", "need", "ranked_frame", "score_module"]


class SkippedConfigWarning(MaeOrtWarning):
    """A configuration of a grid cannot be represented or exported; it was skipped (the rest is scored)."""


def need(module: str, extra: str):
    """Import ``module`` or fail with one line naming the extra that installs it."""
    try:
        return importlib.import_module(module)
    except ImportError as e:
        raise RuntimeUnavailableError(f"this needs {module.split('.')[0]}: pip install 'mae-ort[{extra}]'") from e


def expand_grid(grid, caller: str) -> list[dict]:
    """The configurations of ``grid``: a mapping of parameter name to a value or a list of values (every
    combination, as scikit-learn's ``ParameterGrid``), or a list of such mappings (each expanded, in order)."""
    parts = [grid] if isinstance(grid, Mapping) else grid
    if not isinstance(parts, (list, tuple)) or not parts or not all(isinstance(p, Mapping) for p in parts):
        raise InvalidParameterError(f"The 'grid' parameter of {caller} must be a dict of parameter -> list of values "
                                    f"(or a list of such dicts). Got {grid!r} instead.")
    out: list[dict] = []
    for part in parts:
        names = [str(k) for k in part]
        values = [v if isinstance(v, (list, tuple, range)) else [v] for v in part.values()]
        for combo in itertools.product(*values):
            cfg = dict(zip(names, combo))
            if cfg not in out:
                out.append(cfg)
    if not out:
        raise InvalidParameterError(f"the grid of {caller} is empty (a parameter has no values)")
    return out


def skip(cfg: dict, param: str, why: str, caller: str) -> None:
    """Warn that ``cfg`` is skipped because of ``param``."""
    warnings.warn(f"{caller}: skipped {cfg}: {param} {why}", SkippedConfigWarning, stacklevel=3)


def export_module(module, look_back: int, n_features: int = 1) -> bytes:
    """``module`` (``forward(x)`` with x of shape (N, look_back, n_features) -> (N, 1)) as ONNX bytes with a free
    window axis ``N`` (torch's TorchScript exporter, its default opset)."""
    import torch

    buf = io.BytesIO()
    x = torch.zeros(2, look_back, n_features)
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(module.eval(), (x,), buf, input_names=["x"], output_names=["y"],
                          dynamic_axes={"x": {0: "windows"}, "y": {0: "windows"}}, dynamo=False)
    return buf.getvalue()


def score_module(onnx_bytes: bytes, series, look_back: int, *, name: str, samples, seed: int, threshold: float,
                 init, threads, store=None) -> tuple[int, dict]:
    """Score an exported network on a prepared series: its number of weights and its scores (``log_p``, ``p``,
    ``mean``, ``sd``, ``samples``, ``n_nonfinite``, ``n_outside``).

    Without ``store``, :func:`mae_ort.sample_own`; with one, :func:`mae_ort.screen_own` (the row is stored, keyed by
    the file's content hash, so a rerun reads it back and ``mae-ort rank --db`` lists it beside other rows).
    """
    from ..sampling.own import own_model, sample_own
    from ..screening.own import screen_own

    m = own_model(onnx_bytes, name=name)
    keys = ("log_p", "p", "mean", "sd", "samples", "n_nonfinite", "n_outside")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if store is None:
            r = sample_own(m, series, look_back=look_back, samples=samples, seed=seed, threshold=threshold, init=init,
                           threads=threads)
            return m.n_weights, {k: getattr(r, k) for k in keys}
        row = screen_own(m, series, store=store, look_back=look_back, samples=samples, seed=seed,
                         threshold=threshold, init=init, threads=threads).iloc[0]
    return m.n_weights, {k: row[k].item() if hasattr(row[k], "item") else row[k] for k in keys}


def ranked_frame(rows: list[dict], configs_col: str = "kwargs"):
    """The rows as a DataFrame, best ``log_p`` first (ties: lower mean MAE), with a ``rank`` column from 1."""
    import pandas as pd

    df = pd.DataFrame(rows)
    if df.empty:
        return df
    df = df.sort_values(["log_p", "mean"], ascending=[False, True], kind="stable").reset_index(drop=True)
    df.insert(0, "rank", np.arange(1, len(df) + 1))
    return df


def top_kwargs(frame, k: int = 3) -> list[dict]:
    """The constructor keyword arguments of the ``k`` best rows of a ranked frame."""
    k = check_int(k, "k", "top_kwargs", low=1)
    return [dict(kw) for kw in frame["kwargs"].head(k)]


def timer() -> float:
    """Seconds (monotonic)."""
    return time.perf_counter()
