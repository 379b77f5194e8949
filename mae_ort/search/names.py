"""The names a search accepts: samplers and objectives (importing this does not import Optuna)."""

from __future__ import annotations

__all__ = ["SAMPLERS", "OBJECTIVES"]

#: Samplers by name: Optuna's TPE (the default), GP (needs PyTorch) and random samplers, and RESN.
SAMPLERS = ("tpe", "gp", "random", "resn")

#: Scores a search can optimise, with their direction (as ``mae-ort rank`` orders them).
OBJECTIVES = {
    "log_p": "maximize",
    "log_p_exact": "maximize",
    "p": "maximize",
    "mean": "minimize",
    "sd": "maximize",
    "readout": "minimize",
}
