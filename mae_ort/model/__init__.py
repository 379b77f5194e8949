"""The model: what an architecture is, its row key, Keras interop and the numpy reference.

Holds :class:`Architecture` (cells, activations, presets, weight shapes in Keras
order, :meth:`Architecture.from_row`), the row keys (:mod:`.keys`), the Keras
interop (:mod:`.keras_interop`, needs the ``keras`` extra, imported lazily) and a
plain numpy forward pass (:mod:`.reference`, the tests' float64 oracle) and own ONNX forecasters read with their
weights lifted to graph inputs (:mod:`.onnx_model`).

Must not import: runtimes, sampling, results, screening, study, cli.
"""

from .architecture import ACTIVATIONS, CELLS, GATES, MODEL_FIELDS, PRESETS, Architecture, parse_units, resolve
from .keys import KEY_COLUMNS, hashed_rank, row_key

__all__ = ["ACTIVATIONS", "CELLS", "GATES", "MODEL_FIELDS", "PRESETS", "Architecture", "KEY_COLUMNS",
           "hashed_rank", "parse_units", "resolve", "row_key"]
