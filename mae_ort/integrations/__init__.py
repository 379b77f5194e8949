"""Integrations: mae-ort inside other libraries' loops, and other libraries' models ranked without training.

Holds :mod:`.optuna` (MRS as an objective of your own Optuna study, and ``enqueue_top``, which starts any study
from a screen's best rows), :mod:`.darts` (Darts ``BlockRNNModel`` configurations, the ``darts`` extra) and
:mod:`.neuralforecast` (NeuralForecast ``LSTM`` and ``GRU``, the ``neuralforecast`` extra), with what the last two
share in :mod:`._grid` (grids, the ONNX export of a library's torch module, scoring through the own-model path).
Each module imports its library on first use; this package imports none of them, so ``import mae_ort.integrations``
stays light.

Must not import: cli (the forecasting baselines of :mod:`mae_ort.study.baselines` are imported lazily).
"""
