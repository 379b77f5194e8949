"""Darts ``BlockRNNModel`` configurations ranked by MAE random sampling, without training.

Each configuration of the grid is built by Darts itself (``BlockRNNModel(**kwargs)``, whose Lightning module
``_BlockRNNModule`` is created for a univariate target exactly as ``fit`` creates it), wrapped so that its
``forward(PLModuleInput)`` takes the windows ``(N, input_chunk_length, 1)`` and returns the one-step forecast
``(N, 1)``, exported to ONNX with a free window axis, and sampled through mae-ort's own-model path
(:func:`mae_ort.sample_own`: every weight tensor of Darts' network drawn from Normal(0, 1)).

Scaling: like every mae-ort score, the series is min-max scaled to [0, 1] on the series given (pass the
training part); train the chosen models on the series scaled the same way, which is Darts'
``Scaler()`` (scikit-learn's ``MinMaxScaler``) fitted on the training part. ``scale="none"`` scores the series
as given (already scaled).

Darts: Herzen et al., "Darts: User-Friendly Modern Machine Learning for Time Series", JMLR 23 (2022).

Must not import: cli; study only for its forecasting baselines (no Keras), lazily.
"""

from __future__ import annotations

import warnings

import numpy as np

from .._checks import check_option, resolve_seed
from ..data import SCALINGS, prepare
from ..errors import DataError, InvalidParameterError
from ..results.store import open_store
from ._grid import (
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

__all__ = ["CELLS", "SkippedConfigWarning", "baselines", "block_rnn_module", "block_rnn_onnx", "rank", "series_values",
           "top_kwargs"]

#: The recurrent layers of ``BlockRNNModel(model=...)`` that are ranked.
CELLS = ("LSTM", "GRU", "RNN")
#: Parameters with one admissible value: the one-step forecast MRS measures, one value per window.
_FIXED = {"output_chunk_length": 1, "output_chunk_shift": 0, "likelihood": None}
_CALLER = "mae_ort.integrations.darts.rank"


def series_values(series, caller: str = _CALLER) -> np.ndarray:
    """The values (T,) of a univariate deterministic Darts ``TimeSeries`` (or of anything
    :func:`mae_ort.prepare` reads)."""
    if type(series).__name__ == "TimeSeries":
        if series.n_components != 1:
            raise DataError(f"{caller} ranks one-step forecasts of one target: the TimeSeries has "
                            f"{series.n_components} components ({', '.join(map(str, series.components))}); "
                            "pick one with series['name']")
        if series.n_samples != 1:
            raise DataError(f"{caller} needs a deterministic TimeSeries; this one has {series.n_samples} samples")
        return np.asarray(series.values(copy=True), dtype=np.float64)[:, 0]
    return prepare(series).targets[:, 0]


class _OneStep:
    """Builds the thin wrapper lazily (torch is imported on first use)."""

    cls = None

    @classmethod
    def wrap(cls, module):
        if cls.cls is None:
            import torch
            from darts.utils.data.torch_datasets.utils import PLModuleInput

            class OneStep(torch.nn.Module):
                """Darts' module on plain windows: (N, L, 1) -> the first step of the first component (N, 1) and
                the last recurrent layer's final hidden state (N, hidden_dim), kept by a hook on its ``rnn``."""

                def __init__(self, inner):
                    super().__init__()
                    self.inner = inner
                    self._h = None
                    inner.rnn.register_forward_hook(self._keep)

                def _keep(self, module, args, out):
                    self._h = out[0]  # (N, L, hidden_dim): the last layer's output at every step

                def forward(self, x):
                    y = self.inner(PLModuleInput(past_target=x)).prediction[:, 0, 0, 0:1]
                    return y, self._h[:, -1, :]

            cls.cls = OneStep
        return cls.cls(module)


def _check_config(cfg: dict) -> tuple[str, str] | None:
    """Why ``cfg`` cannot be ranked: (the parameter, the reason), or None."""
    if "input_chunk_length" not in cfg:
        return "input_chunk_length", "is missing (the look-back of every configuration)"
    for name, value in _FIXED.items():
        if name in cfg and cfg[name] != value:
            return f"{name}={cfg[name]!r}", f"cannot be ranked: mae-ort measures one deterministic one-step " \
                f"forecast ({name}={value!r})"
    model = cfg.get("model", "RNN")
    if not isinstance(model, str) or model not in CELLS:
        return f"model={model!r}", f"is not one of {', '.join(CELLS)} (a custom module has no known network to export)"
    return None


def block_rnn_module(kwargs: dict, seed: int = 0):
    """The torch module that ``BlockRNNModel(**kwargs).fit`` builds for a univariate series (``module.inner``),
    wrapped as ``(N, input_chunk_length, 1) -> (y, h)``: the one-step forecast (N, 1) and the last recurrent layer's
    final hidden state (N, hidden_dim) (``output_chunk_length=1`` is added when missing).

    Parameters
    ----------
    kwargs : dict
        ``BlockRNNModel`` keyword arguments (``input_chunk_length`` required).
    seed : int
        ``torch.manual_seed`` before building (the module's initial weights; MRS draws its own).
    """
    need("darts", "darts")
    import torch
    from darts.models import BlockRNNModel
    from darts.utils.data.torch_datasets.utils import TorchTrainingSample

    kw = {"output_chunk_length": 1, **kwargs}
    model = BlockRNNModel(**kw)
    icl = int(kw["input_chunk_length"])
    sample = TorchTrainingSample(past_target=np.zeros((icl, 1), np.float32),
                                 future_target=np.zeros((1, 1), np.float32))
    model.pl_module_params["train_sample_shape"] = sample.sample_shapes()
    torch.manual_seed(seed)
    return _OneStep.wrap(model._create_model(sample)).eval()


def block_rnn_onnx(kwargs: dict, seed: int = 0) -> bytes:
    """:func:`block_rnn_module` exported to ONNX (free window axis, outputs ``y`` and ``h``), ready for
    ``mae_ort.own_model(data, output="y", feature="h")``."""
    return export_module(block_rnn_module(kwargs, seed), int(kwargs["input_chunk_length"]))


def rank(series, grid, *, samples=100, seed=0, threshold: float = 0.01, init="normal", scale: str = "minmax",
         store=None, threads: int | None = None, by: str | None = None):
    """Rank ``BlockRNNModel`` configurations for a series by MAE random sampling.

    Parameters
    ----------
    series : darts.TimeSeries (univariate, deterministic) or anything :func:`mae_ort.prepare` reads
        The training part.
    grid : dict or list of dict
        Parameter -> value or list of values, e.g. ``{"model": ["LSTM", "GRU"], "hidden_dim": [8, 16],
        "n_rnn_layers": [1, 2], "input_chunk_length": [10, 20]}``; every other parameter at Darts' default.
        ``output_chunk_length`` is 1 (another value is skipped with a warning).
    samples, seed, threshold, init
        As :func:`mae_ort.sample_own`.
    scale : {'minmax', 'none', 'minmax-1', 'standard'}
        How the series is scaled before scoring (see the module docstring).
    store : None, str, Path or Store, optional
        A results database: each network's row is stored there (:func:`mae_ort.screen_own`, keyed by the exported
        file's content hash), so a rerun reads it back and ``mae-ort rank --db`` lists it (``model_file``
        ``darts-{...}``). Default: nothing stored.
    threads : int, optional
        onnxruntime runs side by side (default: all cores).
    by : {'readout', 'readout_window', 'log_p', 'p', 'mean', 'sd'}, optional
        The score the rows are ranked by, in its direction (``readout``: lower first). Default:
        :data:`mae_ort.sampling.scores.DEFAULT_RANKING` (``readout``) where every row has it, else ``log_p``;
        ``frame.attrs["by"]`` says which.

    Returns
    -------
    pandas.DataFrame
        One row per scored configuration, best first: ``rank``, the grid's parameters, ``log_p``, ``p``,
        ``mean`` and ``sd`` (of the MAEs), ``readout`` and ``readout_window`` (the echo-state readout on the
        network's last hidden state, :mod:`mae_ort.sampling.readout`), ``samples``, ``n_nonfinite`` and
        ``n_outside`` (weight samples with non-finite predictions, MAEs outside the fit's bounds), ``n_weights``,
        ``seconds`` and ``kwargs`` (the keyword arguments to pass to ``BlockRNNModel``; :func:`top_kwargs` lists
        the best ones).

    Warns
    -----
    SkippedConfigWarning
        A configuration that cannot be represented or exported (naming the parameter); the rest is scored.
    """
    need("darts", "darts")
    need("torch", "darts")  # Darts installs without it (its torch extra), and then has no BlockRNNModel
    by = check_by(by, _CALLER)
    seed = resolve_seed(seed, "seed", _CALLER)
    scale = check_option(scale, "scale", _CALLER, SCALINGS)
    values = series_values(series)
    prepared = prepare(values, scale=scale, name="darts-series")
    st = None if store is None else open_store(store)
    rows = []
    for cfg in expand_grid(grid, _CALLER):
        why = _check_config(cfg)
        if why is not None:
            skip(cfg, *why, caller=_CALLER)
            continue
        kw = {"output_chunk_length": 1, **cfg}
        lb = kw["input_chunk_length"]
        if not isinstance(lb, (int, np.integer)) or lb < 1 or prepared.length < lb + 1:
            skip(cfg, f"input_chunk_length={lb!r}", f"needs an int in [1, {prepared.length - 1}] for a series of "
                 f"{prepared.length} points", _CALLER)
            continue
        t0 = timer()
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                data = block_rnn_onnx(kw, seed)
        except (TypeError, ValueError) as e:  # Darts refuses a parameter (its message names it)
            skip(cfg, "a parameter", f"is refused by Darts: {str(e).splitlines()[0]}", _CALLER)
            continue
        except Exception as e:  # noqa: BLE001 - torch's exporter: any failure skips this configuration
            skip(cfg, "the network", f"does not export to ONNX: {type(e).__name__}: {str(e).splitlines()[0]}",
                 _CALLER)
            continue
        n_weights, scores = score_module(data, prepared, int(lb), name=f"darts-{cfg}", samples=samples, seed=seed,
                                         threshold=threshold, init=init, threads=threads, store=st)
        rows.append({**cfg, **scores, "n_weights": n_weights, "seconds": timer() - t0, "kwargs": kw})
    if not rows:
        raise InvalidParameterError(f"{_CALLER}: no configuration of the grid could be scored (see the warnings)")
    return ranked_frame(rows, by)


def baselines(series, n_train: int, *, look_backs=(1,), season: int | None = None, statistical: bool = True,
              scale: str = "minmax"):
    """The forecasting baselines (:func:`mae_ort.study.baselines.evaluate`: training mean, persistence, seasonal
    naive, ridge autoregression per look-back, ETS, ARIMA) on the one-step test points of ``series`` after its
    first ``n_train`` points, the points a trained model's ``historical_forecasts(series, start=n_train,
    forecast_horizon=1)`` forecasts.

    Parameters
    ----------
    series : darts.TimeSeries (univariate, deterministic) or anything :func:`mae_ort.prepare` reads
        The whole series (training and test parts).
    n_train : int
        The training part's length; every later point is a test point.
    look_backs : int or sequence of int
        The ridge autoregression's look-backs (the networks' ``input_chunk_length``).
    season : int, optional
        The season of the seasonal naive forecast, ETS and ARIMA.
    statistical : bool
        Fit ETS and ARIMA (statsmodels).
    scale : {'minmax', 'none', 'minmax-1', 'standard'}
        The units of the MAEs: ``minmax`` (the default) those of the series min-max scaled on its training part
        (Darts' ``Scaler()`` fitted on it, what :func:`rank` scores); ``none`` the data's own.

    Returns
    -------
    pandas.DataFrame
        One row per baseline (:func:`mae_ort.study.baselines.as_records`): ``name``, ``label``, ``test_mae``,
        ``look_back``, ``model``, ``error``.
    """
    import pandas as pd

    scale = check_option(scale, "scale", "mae_ort.integrations.darts.baselines", SCALINGS)
    values = series_values(series, "mae_ort.integrations.darts.baselines")
    return pd.DataFrame(baseline_records(values, n_train, look_backs=look_backs, season=season,
                                         statistical=statistical, scale=scale, name="darts-series",
                                         caller="mae_ort.integrations.darts.baselines"))
