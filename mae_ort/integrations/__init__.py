"""Bridges to other libraries: rank their models' configurations without training.

Each adapter imports its library on first use (``import mae_ort.integrations`` imports none of them):

* :mod:`mae_ort.integrations.darts` -- Darts ``BlockRNNModel`` configurations (the ``darts`` extra);
* :mod:`mae_ort.integrations.neuralforecast` -- NeuralForecast ``LSTM`` and ``GRU`` (the ``neuralforecast`` extra).
"""
