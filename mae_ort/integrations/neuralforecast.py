"""NeuralForecast ``LSTM`` and ``GRU`` configurations ranked by MAE random sampling, without training.

Each configuration of the grid is built by NeuralForecast itself (``LSTM(h=1, **kwargs)`` or ``GRU(...)``) and
wrapped as NeuralForecast's own prediction step runs it on one window (``BaseModel._normalization``, ``forward``
with its dict of inputs, ``loss.domain_map``, ``_inv_normalization``): the window is normalised by the model's
``scaler_type`` statistics over its ``input_size`` points, the network predicts, and the prediction is scaled
back. The wrapper takes the windows ``(N, input_size, 1)`` and returns ``(N, 1)``; it is exported to ONNX with a
free window axis and sampled through mae-ort's own-model path (:func:`mae_ort.sample_own`: every weight tensor
drawn from Normal(0, 1)). ONNX has no NaN-aware mean or median, so for ``standard`` and ``robust`` (the default)
the window statistics are computed here with NeuralForecast's formulas on windows without missing values
(``neuralforecast.common._scalers``: mean and population sd; median and mean absolute deviation from it, the
lower median for an even count, with the sd-based fallback where it is 0); the other supported scalers
(``identity``, ``minmax``, ``minmax1``) call NeuralForecast's own functions.

Data: NeuralForecast's long format (``unique_id``, ``ds``, ``y``). Each series is min-max scaled to [0, 1] on
the rows given (pass the training part), as ``NeuralForecast(..., local_scaler_type="minmax")`` scales it
before fitting; ``scale="none"`` scores the values as given. With several series, each configuration is sampled
on each series (same seed) and its row gives the mean ``log_p`` and mean MAE over the series.

NeuralForecast: Olivares et al., "NeuralForecast: User friendly state-of-the-art neural forecasting models",
PyCon Salt Lake City (2022), https://github.com/Nixtla/neuralforecast.

Must not import: cli; study only for its forecasting baselines (no Keras), lazily.
"""

from __future__ import annotations

import warnings

import numpy as np

from .._checks import check_int, check_option, resolve_seed
from ..data import SCALINGS, prepare
from ..errors import DataError, InvalidParameterError
from ..results.store import open_store
from ._grid import (
    SCORE_COLUMNS,
    SkippedConfigWarning,
    baseline_records,
    check_by,
    expand_grid,
    export_module,
    need,
    ranked_frame,
    score_module,
    skip,
    timer,
    top_kwargs,
)

__all__ = ["MODELS", "SCALERS", "SkippedConfigWarning", "auto_space", "baselines", "long_series", "model_onnx",
           "one_step_module", "rank", "top_kwargs", "top_models"]

#: The NeuralForecast models that are ranked.
MODELS = ("LSTM", "GRU")
#: The ``scaler_type`` values that export (``invariant`` and ``revin`` do not).
SCALERS = ("identity", "standard", "robust", "minmax", "minmax1")
_CALLER = "mae_ort.integrations.neuralforecast.rank"
_NO_EXOG = ("futr_exog_list", "hist_exog_list", "stat_exog_list", "cat_exog_list")


def long_series(df, *, id_col: str = "unique_id", time_col: str = "ds", target_col: str = "y",
                caller: str = _CALLER) -> dict:
    """The series of a long-format table: ``{unique_id: values (T,) in time order}``.

    Raises
    ------
    DataError
        A missing column, or a series with a repeated time stamp (named).
    """
    import pandas as pd

    if not isinstance(df, pd.DataFrame):
        raise DataError(f"{caller} takes NeuralForecast's long format: a DataFrame with columns {id_col}, "
                        f"{time_col}, {target_col}; got {type(df).__name__}")
    missing = [c for c in (id_col, time_col, target_col) if c not in df.columns]
    if missing:
        raise DataError(f"the table has no column {missing[0]!r} (columns: {', '.join(map(str, df.columns))})")
    out = {}
    for uid, part in df.groupby(id_col, sort=True):
        part = part.sort_values(time_col, kind="stable")
        if part[time_col].duplicated().any():
            raise DataError(f"series {uid!r} has a repeated time stamp in {time_col!r}")
        out[uid] = part[target_col].to_numpy(dtype=np.float64)
    if not out:
        raise DataError("the table is empty")
    return out


def _stats(kind: str, x):
    """NeuralForecast's ``standard`` / ``robust`` window statistics (shift, scale) of x (N, L, C) over time, every
    point valid, with ops that export to ONNX (``neuralforecast.common._scalers.std_statistics`` and
    ``robust_statistics``, eps 1e-6)."""
    import torch

    eps = 1e-6
    mean = x.mean(dim=1, keepdim=True)
    std = torch.sqrt(((x - mean) ** 2).mean(dim=1, keepdim=True))
    if kind == "standard":
        return mean, torch.where(std == 0, torch.ones_like(std), std) + eps
    k = (x.shape[1] - 1) // 2  # torch's (nan)median: the lower of the two middle values
    median = torch.sort(x, dim=1).values[:, k:k + 1]
    mad = torch.sort(torch.abs(x - median), dim=1).values[:, k:k + 1]
    mad = mad * (mad > 0) + std * 0.6744897501960817 * (mad == 0)
    return median, torch.where(mad == 0, torch.ones_like(mad), mad) + eps


class _OneStep:
    """Builds the thin wrapper lazily (torch is imported on first use)."""

    cls = None

    @classmethod
    def wrap(cls, model):
        if cls.cls is None:
            import torch

            class OneStep(torch.nn.Module):
                """A NeuralForecast model's direct one-step prediction on plain windows: (N, L, 1) -> (N, 1), and
                its encoder's last layer's final hidden state (N, encoder_hidden_size), kept by a hook on
                ``hist_encoder``."""

                def __init__(self, inner):
                    super().__init__()
                    self.inner = inner
                    self._h = None
                    inner.hist_encoder.register_forward_hook(self._keep)

                def _keep(self, module, args, out):
                    self._h = out[0]  # (N, L, encoder_hidden_size): the last layer's output at every step

                def forward(self, x):
                    sc = self.inner.scaler
                    mask = torch.ones_like(x)
                    if sc.scaler_type in ("standard", "robust"):
                        shift, scale = _stats(sc.scaler_type, x)
                    else:
                        shift, scale = sc.compute_statistics(x=x, mask=mask, dim=sc.dim, eps=sc.eps)
                    z = sc.scaler(x, shift, scale)
                    out = self.inner({"insample_y": z, "insample_mask": mask[..., 0], "futr_exog": None,
                                      "hist_exog": None, "stat_exog": None})
                    out = sc.inverse_scaler(self.inner.loss.domain_map(out), shift, scale)
                    return out[:, 0, 0].unsqueeze(1), self._h[:, -1, :]

            cls.cls = OneStep
        return cls.cls(model)


def _why_not(cfg: dict) -> tuple[str, str] | None:
    """Why ``cfg`` cannot be ranked: (the parameter, the reason), or None."""
    name = cfg.get("model", "LSTM")
    if name not in MODELS:
        return f"model={name!r}", f"is not one of {', '.join(MODELS)}"
    if cfg.get("h", 1) != 1:
        return f"h={cfg['h']!r}", "cannot be ranked: mae-ort measures the one-step forecast (h=1)"
    if cfg.get("recurrent", False):
        return "recurrent=True", "cannot be ranked: only the direct (MLP decoder) forecast is exported"
    for p in _NO_EXOG:
        if cfg.get(p):
            return f"{p}={cfg[p]!r}", "cannot be ranked: the target is the network's only input"
    st = cfg.get("scaler_type", "robust")
    if st not in SCALERS:
        return f"scaler_type={st!r}", f"does not export to ONNX (supported: {', '.join(SCALERS)})"
    if cfg.get("input_size", -1) == -1 and "input_size" not in cfg:
        return "input_size", "is missing (the look-back of every configuration)"
    return None


def _build(cfg: dict, seed: int = 0):
    import torch

    mod = need("neuralforecast.models", "neuralforecast")
    kw = {"h": 1, **{k: v for k, v in cfg.items() if k != "model"}}
    torch.manual_seed(seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = getattr(mod, cfg.get("model", "LSTM"))(**kw)
    if model.loss.outputsize_multiplier != 1 or getattr(model.loss, "is_distribution_output", False):
        raise InvalidParameterError(f"loss={type(model.loss).__name__}: not a point forecast (one value per step)")
    return kw, model


def one_step_module(cfg: dict, seed: int = 0):
    """The model that ``LSTM(h=1, **kwargs)`` (``cfg["model"]="GRU"``: ``GRU``) builds, wrapped as its direct
    one-step prediction on windows ``(N, input_size, 1) -> (y, h)``: the forecast (N, 1) and the encoder's last
    layer's final hidden state (N, encoder_hidden_size) (the model is ``module.inner``).

    Parameters
    ----------
    cfg : dict
        ``model`` (``"LSTM"`` or ``"GRU"``) and the model's keyword arguments (``input_size`` required).
    seed : int
        ``torch.manual_seed`` before building (the initial weights; MRS draws its own).
    """
    return _OneStep.wrap(_build(cfg, seed)[1]).eval()


def model_onnx(cfg: dict, seed: int = 0) -> bytes:
    """:func:`one_step_module` exported to ONNX (free window axis, outputs ``y`` and ``h``), ready for
    ``mae_ort.own_model(data, output="y", feature="h")``."""
    net = one_step_module(cfg, seed)
    return export_module(net, int(net.inner.input_size))


def rank(df, grid, *, samples=100, seed=0, threshold: float = 0.01, init="normal", scale: str = "minmax",
         id_col: str = "unique_id", time_col: str = "ds", target_col: str = "y", store=None,
         threads: int | None = None, by: str | None = None):
    """Rank NeuralForecast ``LSTM``/``GRU`` configurations for long-format data by MAE random sampling.

    Parameters
    ----------
    df : pandas.DataFrame
        NeuralForecast's long format (``unique_id``, ``ds``, ``y``; other names with ``id_col``, ``time_col``,
        ``target_col``): the training part.
    grid : dict or list of dict
        Parameter -> value or list of values, e.g. ``{"model": ["LSTM", "GRU"], "encoder_hidden_size": [16, 64],
        "encoder_n_layers": [1, 2], "input_size": [12, 24]}``; ``h`` is 1, every other parameter at
        NeuralForecast's default (a configuration that cannot be exported is skipped with a warning).
    samples, seed, threshold, init
        As :func:`mae_ort.sample_own`.
    scale : {'minmax', 'none', 'minmax-1', 'standard'}
        How each series is scaled before scoring (see the module docstring).
    store : None, str, Path or Store, optional
        A results database: each (network, series) row is stored there (:func:`mae_ort.screen_own`, keyed by the
        exported file's content hash), so a rerun reads it back and ``mae-ort rank --db`` lists it. Default:
        nothing stored.
    threads : int, optional
        onnxruntime runs side by side (default: all cores).
    by : {'readout', 'readout_window', 'log_p', 'p', 'mean', 'sd'}, optional
        The score the rows are ranked by, in its direction (``readout``: lower first). Default:
        :data:`mae_ort.sampling.scores.DEFAULT_RANKING` (``readout``) where every row has it, else ``log_p``;
        ``frame.attrs["by"]`` says which.

    Returns
    -------
    pandas.DataFrame
        One row per scored configuration, best first: ``rank``, the grid's parameters, ``log_p``, ``p``, ``mean``,
        ``sd``, ``readout`` and ``readout_window`` (the echo-state readout on the encoder's last hidden state,
        :mod:`mae_ort.sampling.readout`; each the mean over the series), ``log_p_min``, ``n_series``,
        ``samples``, ``n_nonfinite`` and ``n_outside`` (summed over the series), ``n_weights``, ``seconds`` and
        ``kwargs`` (the keyword arguments of the ``model`` column's class; see :func:`top_models` and
        :func:`auto_space`).

    Warns
    -----
    SkippedConfigWarning
        A configuration that cannot be represented or exported, or a look-back longer than a series allows
        (naming the parameter); the rest is scored.
    """
    need("neuralforecast.models", "neuralforecast")
    by = check_by(by, _CALLER)
    seed = resolve_seed(seed, "seed", _CALLER)
    scale = check_option(scale, "scale", _CALLER, SCALINGS)
    series = {uid: prepare(v, scale=scale, name=f"neuralforecast-{uid}")
              for uid, v in long_series(df, id_col=id_col, time_col=time_col, target_col=target_col).items()}
    shortest = min(s.length for s in series.values())
    st = None if store is None else open_store(store)
    rows = []
    for cfg in expand_grid(grid, _CALLER):
        cfg = {"model": "LSTM", **cfg}
        why = _why_not(cfg)
        if why is not None:
            skip(cfg, *why, caller=_CALLER)
            continue
        t0 = timer()
        try:
            kw, model = _build(cfg, seed)
            lb = int(model.input_size)
            if lb < 1 or shortest < lb + 1:
                skip(cfg, f"input_size={cfg['input_size']!r}", f"needs a look-back in [1, {shortest - 1}]: the "
                     f"shortest series has {shortest} points", _CALLER)
                continue
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                data = export_module(_OneStep.wrap(model).eval(), lb)
        except (TypeError, ValueError, AssertionError) as e:  # NeuralForecast refuses a parameter (its message)
            skip(cfg, "a parameter", f"is refused: {str(e).splitlines()[0] if str(e) else type(e).__name__}", _CALLER)
            continue
        except Exception as e:  # noqa: BLE001 - torch's exporter: any failure skips this configuration
            skip(cfg, "the network", f"does not export to ONNX: {type(e).__name__}: {str(e).splitlines()[0]}",
                 _CALLER)
            continue
        results = [score_module(data, s, lb, name=f"neuralforecast-{cfg}", samples=samples, seed=seed,
                                threads=threads, threshold=threshold, init=init, store=st) for s in series.values()]
        n_weights, results = results[0][0], [r for _, r in results]
        log_ps = np.array([r["log_p"] for r in results], dtype=np.float64)
        rows.append({**cfg, **{k: float(np.mean([r[k] for r in results])) for k in SCORE_COLUMNS},
                     "log_p_min": float(log_ps.min()), "n_series": len(results),
                     "samples": results[0]["samples"], "n_nonfinite": sum(r["n_nonfinite"] for r in results),
                     "n_outside": sum(r["n_outside"] for r in results), "n_weights": n_weights,
                     "seconds": timer() - t0, "kwargs": kw})
    if not rows:
        raise InvalidParameterError(f"{_CALLER}: no configuration of the grid could be scored (see the warnings)")
    return ranked_frame(rows, by)


def baselines(df, test_points: int, *, look_backs=(1,), season=None, statistical: bool = True,
              scale: str = "minmax", id_col: str = "unique_id", time_col: str = "ds", target_col: str = "y"):
    """The forecasting baselines (:func:`mae_ort.study.baselines.evaluate`: training mean, persistence, seasonal
    naive, ridge autoregression per look-back, ETS, ARIMA) of each series of a long-format table on its last
    ``test_points`` points, one step ahead: the points of ``NeuralForecast.cross_validation(df,
    n_windows=test_points, step_size=1, refit=False)`` with ``h=1``.

    Parameters
    ----------
    df : pandas.DataFrame
        NeuralForecast's long format (training and test parts).
    test_points : int
        The test points at the end of each series.
    look_backs : int or sequence of int
        The ridge autoregression's look-backs (the networks' ``input_size``).
    season : int or dict, optional
        The season of the seasonal naive forecast, ETS and ARIMA; a dict gives one per ``unique_id``.
    statistical : bool
        Fit ETS and ARIMA (statsmodels).
    scale : {'minmax', 'none', 'minmax-1', 'standard'}
        The units of the MAEs: ``minmax`` (the default) those of each series min-max scaled on its training part
        (as :func:`rank` scores it); ``none`` the data's own.

    Returns
    -------
    pandas.DataFrame
        One row per (series, baseline): ``unique_id`` (``id_col``) and the columns of
        :func:`mae_ort.study.baselines.as_records` (``name``, ``label``, ``test_mae``, ``look_back``, ``model``,
        ``error``).
    """
    import pandas as pd

    caller = "mae_ort.integrations.neuralforecast.baselines"
    scale = check_option(scale, "scale", caller, SCALINGS)
    test_points = check_int(test_points, "test_points", caller, low=1)
    rows = []
    for uid, v in long_series(df, id_col=id_col, time_col=time_col, target_col=target_col, caller=caller).items():
        p = season.get(uid) if isinstance(season, dict) else season
        rows += [{id_col: uid, **r} for r in baseline_records(
            v, len(v) - test_points, look_backs=look_backs, season=p, statistical=statistical, scale=scale,
            name=f"neuralforecast-{uid}", caller=caller)]
    return pd.DataFrame(rows)


def top_models(frame, k: int = 3, **common) -> list:
    """The ``k`` best configurations of a ranked frame as NeuralForecast models (``common``: extra keyword
    arguments for every one, e.g. ``max_steps``), each with ``alias`` ``"<model>-rank<r>"`` unless given."""
    mod = need("neuralforecast.models", "neuralforecast")
    k = check_int(k, "k", "top_models", low=1)
    out = []
    for _, row in frame.head(k).iterrows():
        kw = {**row["kwargs"], **common}
        kw.setdefault("alias", f"{row['model']}-rank{row['rank']}")
        out.append(getattr(mod, row["model"])(**kw))
    return out


def auto_space(frame, k: int = 3) -> dict:
    """The values that the ``k`` best rows take, per parameter (``{"encoder_hidden_size": [64, 16], ...}``, best
    first): wrap each list in ``ray.tune.choice`` (or an Optuna ``suggest_categorical``) to seed an ``AutoLSTM``
    search space. Parameters that every row shares (``h``) are left out."""
    k = check_int(k, "k", "auto_space", low=1)
    out: dict = {}
    for kw in top_kwargs(frame, k):
        for name, value in kw.items():
            if name != "h" and value not in out.setdefault(name, []):
                out[name].append(value)
    return out
