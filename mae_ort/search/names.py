"""The names a search accepts: samplers and objectives (importing this does not import Optuna)."""

from __future__ import annotations

from ..sampling.scores import RANK_ASCENDING

__all__ = ["SAMPLERS", "OBJECTIVES"]

#: Samplers by name: Optuna's TPE (the default), GP (needs PyTorch) and random samplers, and RESN.
SAMPLERS = ("tpe", "gp", "random", "resn")

#: Scores a search can optimise (every score a ranking accepts,
#: :data:`mae_ort.sampling.scores.RANKABLE`), with their direction from the one table of directions
#: (:data:`mae_ort.sampling.scores.RANK_ASCENDING`: ``mae-ort rank`` orders them the same way).
OBJECTIVES = {name: "minimize" if ascending else "maximize" for name, ascending in RANK_ASCENDING.items()}
