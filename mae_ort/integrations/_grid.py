"""What the library adapters share: expanding a grid, exporting a torch module with a free batch axis, scoring
each exported network by MAE random sampling, and the ranked frame.

Must not import: cli; study only for its forecasting baselines (no Keras), lazily.
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
from ..sampling.readout import PASS_SCORES

__all__ = ["HIDDEN", "OUTPUT", "SCORE_COLUMNS", "SkippedConfigWarning", "check_by", "expand_grid", "export_module",
           "baseline_records", "need", "ranked_frame", "score_module"]


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


#: The exported networks' outputs: the one-step forecast (N, 1) and the last layer's final hidden state (N, H),
#: the feature tensor of the readout scores (:mod:`mae_ort.sampling.readout`).
OUTPUT, HIDDEN = "y", "h"


def export_module(module, look_back: int, n_features: int = 1) -> bytes:
    """``module`` (``forward(x)`` with x of shape (N, look_back, n_features) -> ``(y, h)``: the forecast (N, 1) and
    the last layer's final hidden state (N, H)) as ONNX bytes with outputs :data:`OUTPUT` and :data:`HIDDEN` and a
    free window axis ``N`` (torch's TorchScript exporter, its default opset).  Read it with
    ``mae_ort.own_model(data, output="y", feature="h")``."""
    import torch

    buf = io.BytesIO()
    x = torch.zeros(2, look_back, n_features)
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(module.eval(), (x,), buf, input_names=["x"], output_names=[OUTPUT, HIDDEN],
                          dynamic_axes={"x": {0: "windows"}, OUTPUT: {0: "windows"}, HIDDEN: {0: "windows"}},
                          dynamo=False)
    return buf.getvalue()


def score_module(onnx_bytes: bytes, series, look_back: int, *, name: str, samples, seed: int, threshold: float,
                 init, threads, store=None) -> tuple[int, dict]:
    """Score an exported network (:func:`export_module`) on a prepared series: its number of weights and its scores
    (:data:`SCORE_COLUMNS`: ``log_p``, ``p``, ``mean``, ``sd``, ``readout``, ``readout_window``, ``samples``,
    ``n_nonfinite``, ``n_outside``; the readout scores from the hidden-state output :data:`HIDDEN`).

    Without ``store``, :func:`mae_ort.sample_own`; with one, :func:`mae_ort.screen_own` (the row is stored, keyed by
    the file's content hash, so a rerun reads it back and ``mae-ort rank --db`` lists it beside other rows).
    """
    from ..sampling.own import own_model, sample_own
    from ..screening.own import screen_own

    m = own_model(onnx_bytes, name=name, output=OUTPUT, feature=HIDDEN)
    keys = ("log_p", "p", "mean", "sd", "samples", "n_nonfinite", "n_outside")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if store is None:
            r = sample_own(m, series, look_back=look_back, samples=samples, seed=seed, threshold=threshold, init=init,
                           threads=threads)
            return m.n_weights, {**{k: getattr(r, k) for k in keys}, **{k: float(r.scores[k]) for k in PASS_SCORES}}
        row = screen_own(m, series, store=store, look_back=look_back, samples=samples, seed=seed,
                         threshold=threshold, init=init, threads=threads).iloc[0]
    out = {k: row[k].item() if hasattr(row[k], "item") else row[k] for k in keys}
    return m.n_weights, {**out, **{k: float(row[f"score_{k}"]) for k in PASS_SCORES}}


#: The scores of a ranked frame, each a column (``readout`` and ``readout_window`` from the hidden state).
SCORE_COLUMNS = ("log_p", "p", "mean", "sd", "readout", "readout_window")


def check_by(by, caller: str) -> str | None:
    """``by`` if a ranked frame can be ordered by it (None: :data:`~mae_ort.sampling.scores.DEFAULT_RANKING`)."""
    if by is None or (isinstance(by, str) and by in SCORE_COLUMNS):
        return by
    raise InvalidParameterError(f"The 'by' parameter of {caller} must be one of {', '.join(SCORE_COLUMNS)} or None. "
                                f"Got {by!r} instead.")


def ranked_frame(rows: list[dict], by: str | None = None):
    """The rows as a DataFrame, best first by ``by`` in its direction (:data:`~mae_ort.sampling.scores.RANK_ASCENDING`;
    None: :data:`~mae_ort.sampling.scores.DEFAULT_RANKING`, ``readout``, where every row has it, else ``log_p``;
    ties: lower mean MAE), with a ``rank`` column from 1 and the score it ranks by in ``frame.attrs["by"]``."""
    import pandas as pd

    from ..sampling.scores import DEFAULT_RANKING, RANK_ASCENDING

    df = pd.DataFrame(rows)
    if df.empty:
        return df
    if by is None:
        by = DEFAULT_RANKING if DEFAULT_RANKING in df and np.isfinite(df[DEFAULT_RANKING].to_numpy(float)).all() \
            else "log_p"
    df = df.sort_values([by, "mean"], ascending=[RANK_ASCENDING[by], True], kind="stable").reset_index(drop=True)
    df.insert(0, "rank", np.arange(1, len(df) + 1))
    df.attrs["by"] = by
    return df


def top_kwargs(frame, k: int = 3) -> list[dict]:
    """The constructor keyword arguments of the ``k`` best rows of a ranked frame."""
    k = check_int(k, "k", "top_kwargs", low=1)
    return [dict(kw) for kw in frame["kwargs"].head(k)]


def timer() -> float:
    """Seconds (monotonic)."""
    return time.perf_counter()


def baseline_records(values, n_train: int, *, look_backs=(1,), season: int | None = None, statistical: bool = True,
                     scale: str = "minmax", name: str = "series", caller: str = "baselines") -> list[dict]:
    """The forecasting baselines of :func:`mae_ort.study.baselines.evaluate` on one univariate series ``values``
    (T,), split at ``n_train`` (the test part: every later point, one step ahead), as its ``as_records`` rows.

    The training part is scaled by ``scale`` on itself (:func:`mae_ort.prepare`) and the test part with the
    training part's parameters, so the MAEs are in the units the networks see (``scale="none"``: the data's own).
    """
    from ..data import Scaler, TrainTestSplit, prepare
    from ..study.baselines import as_records, evaluate

    v = np.asarray(values, dtype=np.float64).reshape(-1)
    n_train = check_int(n_train, "n_train", caller, low=2, high=max(2, v.size - 1))
    train = prepare(v[:n_train], scale=scale, name=f"{name}[0:{n_train}]")
    test = Scaler(train.scale, train.params.get("targets", {})).apply(v[n_train:, None])
    split = TrainTestSplit(train, prepare(test, scale="none", name=f"{name}[{n_train}:]"))
    lbs = [look_backs] if isinstance(look_backs, (int, np.integer)) else list(look_backs)
    return as_records(evaluate(split, look_backs=lbs, season=season, statistical=statistical, caller=caller))
