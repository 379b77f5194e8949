"""The exception and warning family of mae-ort.

Every error that bad input can cause is a :class:`MaeOrtError` (a ``ValueError``),
raised where the input is first seen; the CLI prints its message on one line and
exits with code 2.
"""

from __future__ import annotations

__all__ = [
    "MaeOrtError",
    "InvalidParameterError",
    "DataError",
    "StoreError",
    "RuntimeUnavailableError",
    "OnnxModelError",
    "Interrupted",
    "MaeOrtWarning",
    "FallbackWarning",
    "NonFiniteWarning",
]


class MaeOrtError(ValueError):
    """Base class of every error raised on bad input to mae-ort."""


class InvalidParameterError(MaeOrtError, TypeError):
    """A parameter has a wrong type or a value outside its allowed range."""


class DataError(MaeOrtError):
    """A series, file or column cannot be used (missing, too short, NaN, ...)."""


class StoreError(MaeOrtError, RuntimeError):
    """The results database cannot be opened, read or written."""


class RuntimeUnavailableError(MaeOrtError, RuntimeError):
    """A requested runtime or device cannot be used on this machine."""


class OnnxModelError(DataError):
    """An own ONNX model cannot be sampled: not ONNX, truncated, inputs or outputs that do not fit, no
    weights, an unknown tensor name, or an opset onnxruntime cannot run (:mod:`mae_ort.model.onnx_model`)."""


class Interrupted(KeyboardInterrupt):
    """Long work (``screen``, ``validate``) was stopped by a signal (SIGTERM); every
    finished result is stored, and rerunning the same call resumes.

    Attributes
    ----------
    signum : int
        The signal's number (the CLI exits with ``128 + signum``).
    """

    def __init__(self, signum: int) -> None:
        import signal

        super().__init__(f"stopped by signal {signal.Signals(signum).name}")
        self.signum = signum


class MaeOrtWarning(UserWarning):
    """Base class of mae-ort's non-fatal warnings."""


class FallbackWarning(MaeOrtWarning):
    """A requested device was not available and another one was used."""


class NonFiniteWarning(MaeOrtWarning):
    """Some weight samples gave non-finite predictions (see ``SamplingResult.n_nonfinite``)."""
