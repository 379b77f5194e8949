"""mae-ort: rank recurrent architectures by MAE random sampling, without training.

For one architecture and one series, draw many sets of random Normal(0, 1) weights,
measure each random network's one-step MAE, fit a truncated normal to the MAEs and
report ``p = P(MAE < threshold)``; architectures with a larger ``log p`` tend to
train to lower errors.  The graphs run on onnxruntime; TensorFlow is never imported
on this path.

>>> import mae_ort
>>> r = mae_ort.sample(mae_ort.sine(), arch=[7], look_back=1, samples=10, seed=0)  # doctest: +SKIP

:mod:`mae_ort.search` (``mae_ort.search.search(space, series, ...)``, an Optuna study) and
:mod:`mae_ort.integrations` (:mod:`mae_ort.integrations.optuna`: helpers for your own Optuna
loops) are imported on first use: ``import mae_ort`` does not import Optuna.
"""

from __future__ import annotations

from ._version import __version__ as __version__
from .data import Series, Windows, prepare, read_csv, sine, windows
from .errors import DataError, Interrupted, InvalidParameterError, MaeOrtError, MaeOrtWarning, StoreError
from .model.architecture import PRESETS, Architecture
from .results.store import open_store
from .sampling.auto import AutoSamples
from .sampling.own import own_model, sample_own
from .sampling.sampler import Init, OutsideBoundsWarning, Sampler, SamplingResult, results_frame, sample
from .sampling.scores import scores
from .screening.own import screen_own
from .screening.sweep import screen

__all__ = [
    "Architecture",
    "AutoSamples",
    "DataError",
    "Init",
    "Interrupted",
    "InvalidParameterError",
    "MaeOrtError",
    "MaeOrtWarning",
    "OutsideBoundsWarning",
    "PRESETS",
    "Sampler",
    "SamplingResult",
    "Series",
    "StoreError",
    "Windows",
    "from_keras",
    "open_store",
    "integrations",
    "own_model",
    "prepare",
    "read_csv",
    "results_frame",
    "sample",
    "sample_own",
    "scores",
    "screen",
    "screen_own",
    "search",
    "sine",
    "train_top",
    "windows",
]


def from_keras(model):
    """Read a Keras RNN stack (+ Dense) into an architecture and its weights.

    See :func:`mae_ort.model.keras_interop.from_keras`; needs the ``keras`` extra.
    """
    from .model.keras_interop import from_keras as _from_keras

    return _from_keras(model)


def train_top(db, split=None, **options):
    """Train the ``k`` best screened rows of ``db`` by a score and keep the best network.

    See :func:`mae_ort.study.winners.train_top`; needs the ``keras`` extra.
    """
    from .study.winners import train_top as _train_top

    return _train_top(db, split, **options)


def __getattr__(name: str):
    """``mae_ort.search`` and ``mae_ort.integrations``, imported on first use (Optuna comes with them)."""
    if name in ("search", "integrations"):
        import importlib

        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
