"""Sampling: the settings value object, weight initialisation, the statistics and the sampler.

Holds :class:`~.settings.SamplingSettings` and :class:`~.settings.Init`, the seeded
weight fill (:mod:`.weights`), the truncated-normal fits (:mod:`.stats`, pure
functions) and :class:`~.sampler.Sampler` / :func:`~.sampler.sample`.

Must not import: results, screening, study, cli.
"""

from .sampler import Sampler, SamplingResult, sample
from .settings import Init, SamplingSettings

__all__ = ["Init", "Sampler", "SamplingResult", "SamplingSettings", "sample"]
