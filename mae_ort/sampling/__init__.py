"""Sampling: the settings value object, weight initialisation, the statistics and the sampler.

Holds :class:`~.settings.SamplingSettings` and :class:`~.settings.Init`, the seeded
weight fill (:mod:`.weights`), the truncated-normal fits (:mod:`.stats`, pure
functions), the rounds of ``samples="auto"`` (:mod:`.auto`) and :class:`~.sampler.Sampler` /
:func:`~.sampler.sample`, and the sampling of own ONNX models (:mod:`.own`).

Must not import: results, screening, study, cli.
"""

from .auto import AutoSamples
from .sampler import OutsideBoundsWarning, Sampler, SamplingResult, results_frame, sample
from .scores import (  # the function scores stays in .scores (mae_ort.scores): a name here would hide it
           SCORES,
           scores_of,
)
from .settings import SEEDING, Init, SamplingSettings

__all__ = ["AutoSamples", "Init", "OutsideBoundsWarning", "SCORES", "SEEDING", "Sampler", "SamplingResult",
           "SamplingSettings", "results_frame", "sample", "scores_of"]
