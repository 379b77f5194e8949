"""Integrations: mae-ort inside other libraries' loops.

Holds :mod:`.optuna` (MRS as an objective of your own Optuna study, and ``enqueue_top``, which starts any study
from a screen's best rows).  Each module imports its library; this package imports nothing, so
``import mae_ort.integrations`` stays light.

Must not import: cli.
"""
