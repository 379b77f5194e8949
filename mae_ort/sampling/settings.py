"""The sampling settings: one value object that the sampler, the sweep, its workers and the store share.

:class:`SamplingSettings` holds everything that decides a sampling run's result
besides the architecture, the look-back and the data: the number of weight samples,
the threshold and truncation bounds of ``p``, the fit, the weight distribution
(:class:`Init`), the seed and the target form (``level`` or ``delta``).  Runtimes, threads and memory
budgets are not part of it: they never change which weights are drawn.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass

from .._checks import check_int, check_option, check_real, check_seed
from ..data import TARGET_FORMS, check_target_form
from ..errors import InvalidParameterError
from .auto import AutoSamples
from .stats import FITS, check_bounds

__all__ = ["AutoSamples", "Init", "SamplingSettings", "SEEDING", "SEEDINGS", "TARGET_FORMS", "check_sampling_settings",
           "split_samples"]

#: Seeding versions: how a seed becomes weights (:func:`mae_ort.sampling.weights.weight_streams`).
#: ``1``: every array of an architecture from its own stream, and each row of a sweep from its own
#: seed (a hash of the sweep's seed and the row's key; mae-ort up to 0.1).  ``2`` (the default): the
#: weights of layer ``k`` depend only on the seed, the cell and activations and the widths of
#: layers ``1..k``; the head's on the whole architecture; a sweep samples every row with its own
#: seed.  Architectures that share their first layers then share those layers' weights (common
#: random numbers: each architecture's MAEs follow the same law as before, their differences are
#: less noisy), and a sweep computes the shared layers once.
SEEDINGS = (1, 2)
SEEDING = 2


@dataclass(frozen=True)
class Init:
    """How weights are drawn: ``normal`` (loc, scale), ``uniform`` (low, high) or ``glorot``.

    ``glorot`` draws every kernel from Glorot-uniform ``U(-l, l)``,
    ``l = sqrt(6 / (fan_in + fan_out))``, and sets biases to zero (Keras' defaults).
    Parse text with :meth:`parse`: ``"normal"``, ``"normal:0,1"``, ``"uniform:-0.5,0.5"``,
    ``"glorot"``.
    """

    kind: str = "normal"
    a: float = 0.0
    b: float = 1.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", check_option(self.kind, "init", "Init", ("normal", "uniform", "glorot")))
        a = check_real(self.a, "a", "Init")
        b = check_real(self.b, "b", "Init")
        if self.kind == "normal" and b <= 0:
            raise InvalidParameterError(f"normal weights need a positive scale; got scale={b!r}")
        if self.kind == "uniform" and not a < b:
            raise InvalidParameterError(f"uniform weights need low < high; got low={a!r}, high={b!r}")
        object.__setattr__(self, "a", a)
        object.__setattr__(self, "b", b)

    @classmethod
    def parse(cls, value) -> "Init":
        """An :class:`Init` from itself, a name, or ``"name:a,b"``."""
        if isinstance(value, Init):
            return value
        if not isinstance(value, str):
            raise InvalidParameterError(f"The 'init' parameter must be text such as 'normal:0,1'. "
                                        f"Got {value!r} instead.")
        m = re.fullmatch(r"\s*([a-z_]+)\s*(?::\s*([^,]+)\s*,\s*([^,]+))?\s*", value.lower())
        if not m:
            raise InvalidParameterError(
                "The 'init' parameter must look like 'normal', 'normal:0,1', 'uniform:-0.5,0.5' or 'glorot'. "
                f"Got {value!r} instead."
            )
        kind = m.group(1)
        if kind == "uniform" and m.group(2) is None:
            return cls("uniform", -1.0, 1.0)
        if m.group(2) is None:
            return cls(kind)
        try:
            a, b = float(m.group(2)), float(m.group(3))
        except ValueError:
            raise InvalidParameterError(f"The 'init' parameter has non-numeric bounds: {value!r}") from None
        return cls(kind, a, b)

    def __str__(self) -> str:
        return "glorot" if self.kind == "glorot" else f"{self.kind}:{self.a:g},{self.b:g}"


def split_samples(samples, caller: str) -> tuple[int, str]:
    """``(samples, auto)`` of a ``samples`` argument: an int >= 2 gives ``(samples, "")``; ``"auto"``,
    ``"auto:key=value,..."`` or an :class:`AutoSamples` give ``(its maximum, its text)``.

    Raises :class:`InvalidParameterError` naming ``caller``.
    """
    if isinstance(samples, (str, AutoSamples)):
        auto = AutoSamples.parse(samples, caller)
        return auto.maximum, str(auto)
    return check_int(samples, "samples", caller, low=2), ""


def check_sampling_settings(samples, threshold, lower, upper, fit, caller: str) -> tuple[int, float, float, float, str]:
    """The settings of one sampling, checked: an int ``samples`` >= 2 (``"auto"`` is split off first by
    :func:`split_samples`), a finite ``threshold``, finite bounds with ``lower < upper``, a name of :data:`FITS`.

    Used by :class:`SamplingSettings`; raises :class:`InvalidParameterError` naming ``caller``.
    """
    samples = check_int(samples, "samples", caller, low=2)
    threshold = check_real(threshold, "threshold", caller)
    lower, upper = check_bounds(lower, upper, caller)
    fit = check_option(fit, "fit", caller, FITS)
    return samples, threshold, lower, upper, fit


@dataclass(frozen=True)
class SamplingSettings:
    """How one architecture is sampled (checked on construction).

    Parameters
    ----------
    samples : int
        Random weight samples S >= 2 (the paper: 100).
    threshold : float
        ``p = P(MAE < threshold)`` (the paper: 0.01).
    lower, upper : float
        Truncation bounds of the fitted normal (the reference: 0 and 2).
    fit : {'moments', 'mle'}
        The reference implementation's moment fit, or maximum likelihood.
    init : str or Init
        The weight distribution, stored as text (``"normal:0,1"``, the paper's).
    seed : int
        The seed of every weight (in a sweep: the sweep's seed).
    seeding : {1, 2}
        How the seed becomes weights (:data:`SEEDINGS`; 2, the default, shares the weights of
        common first layers; 1 reproduces mae-ort 0.1's rows).
    auto : str
        ``""`` (a fixed ``samples``), or the text of an :class:`AutoSamples` (sample in rounds until
        the answer is known; ``samples`` is then its maximum).  Passing ``samples="auto"`` (or
        ``"auto:tol=0.3"``, or an :class:`AutoSamples`) sets both.  Only the ``moments`` fit.
    target_form : {'level', 'delta'}
        What the network forecasts (:data:`~mae_ort.data.TARGET_FORMS`): the target's next value
        (``level``, the paper's), or its change from the last observed value, added back to that value
        (``delta``: a network whose output is 0 forecasts like persistence).  MAEs are in the target's
        own units either way, and every score (the readout included) follows the form.
    """

    samples: int = 100
    threshold: float = 0.01
    lower: float = 0.0
    upper: float = 2.0
    fit: str = "moments"
    init: str = "normal:0,1"
    seed: int = 0
    seeding: int = SEEDING
    auto: str = ""
    target_form: str = "level"

    def __post_init__(self) -> None:
        caller = type(self).__name__
        object.__setattr__(self, "target_form", check_target_form(self.target_form, caller))
        if isinstance(self.samples, (str, AutoSamples)) or self.auto:
            auto = AutoSamples.parse(self.samples if isinstance(self.samples, (str, AutoSamples)) else self.auto,
                                     caller)
            object.__setattr__(self, "samples", auto.maximum)
            object.__setattr__(self, "auto", str(auto))
        checked = check_sampling_settings(self.samples, self.threshold, self.lower, self.upper, self.fit, caller)
        for f, v in zip(("samples", "threshold", "lower", "upper", "fit"), checked):
            object.__setattr__(self, f, v)
        object.__setattr__(self, "seed", check_seed(self.seed, "seed", caller))
        object.__setattr__(self, "init", str(Init.parse(self.init)))
        if self.seeding not in SEEDINGS or isinstance(self.seeding, bool):
            raise InvalidParameterError(f"The 'seeding' parameter of {caller} must be one of "
                                        f"{', '.join(map(str, SEEDINGS))}. Got {self.seeding!r} instead.")
        object.__setattr__(self, "seeding", int(self.seeding))
        if self.auto and self.fit != "moments":
            raise InvalidParameterError(f"samples='auto' needs fit='moments' (its intervals are those of the moments "
                                        f"fit); got fit={self.fit!r}")

    @classmethod
    def checked(cls, caller: str, **fields) -> "SamplingSettings":
        """Settings from user input, with errors naming the public ``caller`` (``sample``, ``screen``)."""
        names = ("samples", "threshold", "lower", "upper", "fit")
        defaults = {f.name: f.default for f in dataclasses.fields(cls)}
        values = [fields.get(n, defaults[n]) for n in names]
        samples, auto = split_samples(values[0], caller)
        fields.update(zip(names, check_sampling_settings(samples, *values[1:], caller)))
        if auto:
            fields["auto"] = auto
        fields["seed"] = check_seed(fields.get("seed", defaults["seed"]), "seed", caller)
        fields["target_form"] = check_target_form(fields.get("target_form", defaults["target_form"]), caller)
        return cls(**fields)

    @property
    def weights(self) -> Init:
        """The weight distribution as an :class:`Init`."""
        return Init.parse(self.init)

    @property
    def sampling(self) -> "SamplingSettings":
        """These settings as a plain :class:`SamplingSettings` (without what a subclass adds)."""
        return SamplingSettings(**{f.name: getattr(self, f.name) for f in dataclasses.fields(SamplingSettings)})

    @property
    def samples_arg(self) -> int | str:
        """What ``samples`` was given as: the ``"auto:..."`` text, or the fixed count."""
        return self.auto or self.samples

    @property
    def auto_samples(self) -> AutoSamples | None:
        """The :class:`AutoSamples` of ``samples="auto"``, or None for a fixed ``samples``."""
        return AutoSamples.parse(self.auto) if self.auto else None

    def replace(self, **changes) -> "SamplingSettings":
        """A copy with some fields changed (checked again)."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict:
        """Plain fields, JSON-ready."""
        return dataclasses.asdict(self)
