"""Sampling: the settings value object, weight initialisation, the statistics and the sampler.

Holds :class:`~.settings.SamplingSettings` and :class:`~.settings.Init`, the seeded
weight fill (:mod:`.weights`), the truncated-normal fits (:mod:`.stats`, pure
functions) and :class:`~.sampler.Sampler` / :func:`~.sampler.sample`.

Must not import: results, screening, study, cli.
"""

from .sampler import OutsideBoundsWarning, Sampler, SamplingResult, results_frame, sample
from .scores import SCORES, scores, scores_of
from .settings import SEEDING, Init, SamplingSettings

__all__ = ["Init", "OutsideBoundsWarning", "SCORES", "SEEDING", "Sampler", "SamplingResult", "SamplingSettings",
           "results_frame", "sample", "scores", "scores_of"]
