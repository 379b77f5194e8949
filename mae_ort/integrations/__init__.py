"""Integrations: other libraries' models ranked without training.

Holds one adapter per library, each importing its library on first use (``import mae_ort.integrations``
imports none of them): :mod:`.darts` (Darts ``BlockRNNModel`` configurations, the ``darts`` extra) and
:mod:`.neuralforecast` (NeuralForecast ``LSTM`` and ``GRU``, the ``neuralforecast`` extra), with what they share
in :mod:`._grid` (grids, the ONNX export of a library's torch module, scoring through the own-model path).

Must not import: study, cli.
"""
