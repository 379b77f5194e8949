"""Keras models in and out: the equivalent Keras model of an architecture, and back.

* :func:`to_keras` builds the Keras 3 ``Sequential`` that an
  :class:`~mae_ort.model.architecture.Architecture` describes (the model the ONNX graphs of
  :mod:`mae_ort.runtimes.export` compute), optionally with one weight sample loaded.
* :func:`from_keras` reads a user's Keras model (a stack of LSTM, GRU or SimpleRNN
  layers and one final Dense) into an ``Architecture`` and its weights, so that
  mae-ort can score it.
* :func:`keras_activation` gives the Keras activation of an activation name of
  :data:`mae_ort.model.architecture.ACTIVATIONS`.

Keras (and TensorFlow, its usual backend) is imported inside the functions only:
``import mae_ort.model.keras_interop`` is cheap and does not need the ``keras`` extra.
"""

from __future__ import annotations

from typing import NamedTuple, Optional

import numpy as np

from .._checks import check_int
from ..errors import InvalidParameterError, MaeOrtError, RuntimeUnavailableError
from .architecture import ACTIVATIONS, Architecture

__all__ = ["KerasModel", "keras_activation", "hard_sigmoid_keras2", "custom_objects", "to_keras", "from_keras",
           "add_last_value", "NETWORK_NAME"]

#: Keras layer class names of the recurrent cells, by mae-ort cell name.
_LAYER_OF_CELL = {"lstm": "LSTM", "gru": "GRU", "simple_rnn": "SimpleRNN"}
_CELL_OF_LAYER = {v: k for k, v in _LAYER_OF_CELL.items()}

#: Activations that Keras 3 provides under the same name and with the same meaning.
_KERAS_NAMES = ("tanh", "sigmoid", "relu", "linear", "hard_sigmoid")

#: Layers that do nothing at inference (training-only noise) and are skipped by :func:`from_keras`.
_SKIPPED_LAYERS = ("InputLayer", "Dropout", "SpatialDropout1D", "GaussianDropout", "AlphaDropout", "GaussianNoise")


def _keras():
    """Import Keras 3, with a one-line error when it is missing or too old."""
    try:
        import os

        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        import keras
    except ImportError as e:  # pragma: no cover - depends on the installation
        raise RuntimeUnavailableError(
            f"Keras is not installed ({e}); install the extra: pip install 'mae-ort[keras]'"
        ) from e
    major = int(str(keras.__version__).split(".")[0])
    if major < 3:  # pragma: no cover - depends on the installation
        raise RuntimeUnavailableError(
            f"mae-ort needs Keras 3 (found {keras.__version__}): Keras 2 means something else by 'hard_sigmoid'"
        )
    return keras


def custom_objects() -> dict:
    """What ``keras.models.load_model`` needs to read a model saved by mae-ort (its Keras 2 gate function).

    >>> model = keras.models.load_model("best.keras", custom_objects=custom_objects())  # doctest: +SKIP
    """
    return {"hard_sigmoid_keras2": hard_sigmoid_keras2}


def hard_sigmoid_keras2(x):
    """Keras <= 2.2.5's ``hard_sigmoid``: ``clip(0.2 x + 0.5, 0, 1)`` (Keras 3 ops).

    The default gate activation of the Keras 2.1 used by the paper.  Keras 3's own
    ``"hard_sigmoid"`` is ``relu6(x + 3) / 6``, a different function.  Pass this
    callable as ``recurrent_activation=`` of a Keras 3 LSTM/GRU;
    :func:`from_keras` recognises it by its name, ``hard_sigmoid_keras2``.
    """
    keras = _keras()
    ops = keras.ops
    return ops.clip(ops.add(ops.multiply(x, 0.2), 0.5), 0.0, 1.0)


def keras_activation(name: str):
    """The Keras 3 activation equivalent to ``name``, one of :data:`~mae_ort.model.architecture.ACTIVATIONS`.

    Returns the Keras string name for ``tanh``, ``sigmoid``, ``relu``, ``linear`` and
    ``hard_sigmoid`` (Keras 3's ``relu6(x + 3) / 6``), and the callable
    :func:`hard_sigmoid_keras2` (``clip(0.2 x + 0.5, 0, 1)``) for
    ``hard_sigmoid_keras2``.
    """
    if not isinstance(name, str) or name.lower() not in ACTIVATIONS:
        raise InvalidParameterError(
            f"The 'name' parameter of keras_activation must be one of "
            f"{', '.join(repr(a) for a in ACTIVATIONS)}. Got {name!r} instead."
        )
    name = name.lower()
    if name == "hard_sigmoid_keras2":
        return hard_sigmoid_keras2
    return name


def _check_weights(arch: Architecture, weights, n_in: int, n_out: int, sample, caller: str) -> list[np.ndarray]:
    shapes = arch.weight_shapes(n_in, n_out)
    try:
        weights = list(weights)
    except TypeError:
        raise InvalidParameterError(
            f"The 'weights' parameter of {caller} must be a list of {len(shapes)} arrays of shape (S, *shape). "
            f"Got {type(weights).__name__} instead."
        ) from None
    if len(weights) != len(shapes):
        raise InvalidParameterError(
            f"The 'weights' parameter of {caller} must hold {len(shapes)} arrays for {arch.label()} "
            f"({', '.join(n for n, _ in shapes)}). Got {len(weights)} instead."
        )
    out = []
    n_samples = None
    for w, (wname, shape) in zip(weights, shapes):
        a = np.asarray(w, dtype=np.float32)
        if a.shape[1:] != shape or a.ndim != len(shape) + 1:
            raise InvalidParameterError(
                f"The weight {wname!r} given to {caller} must have shape (S, {', '.join(map(str, shape))}). "
                f"Got {a.shape} instead."
            )
        if n_samples is None:
            n_samples = a.shape[0]
        elif a.shape[0] != n_samples:
            raise InvalidParameterError(
                f"Every weight given to {caller} must have the same number of samples S; "
                f"{wname!r} has {a.shape[0]}, the first has {n_samples}."
            )
        out.append(a)
    check_int(sample, "sample", caller, low=0, high=max(0, (n_samples or 1) - 1))
    return [a[sample] for a in out]


def to_keras(arch: Architecture, *, look_back: int, n_in: int, n_out: int, weights=None, sample: int = 0):
    """The Keras 3 ``Sequential`` model of ``arch``.

    ``Input((look_back, n_in))``, one recurrent layer per entry of ``arch.units``
    (``return_sequences=True`` on all but the last; GRU with ``reset_after=True``),
    then ``Dense(n_out, activation=arch.head_activation)``.  Activations come from
    :func:`keras_activation`.

    Parameters
    ----------
    arch : Architecture
    look_back, n_in, n_out : int
        Window length, input columns and output columns.
    weights : list of arrays of shape (S, *shape), optional
        Weight samples in Keras order (:meth:`Architecture.weight_shapes`), as the
        samplers and the ONNX graphs take them.  When given, sample ``sample`` is
        loaded with ``model.set_weights``; otherwise the model keeps Keras' own
        initial weights.
    sample : int
        Which weight sample to load.

    Returns
    -------
    keras.Sequential
    """
    if not isinstance(arch, Architecture):
        raise InvalidParameterError(
            f"The 'arch' parameter of to_keras must be an Architecture. Got {type(arch).__name__} instead."
        )
    look_back = check_int(look_back, "look_back", "to_keras", low=1)
    n_in = check_int(n_in, "n_in", "to_keras", low=1)
    n_out = check_int(n_out, "n_out", "to_keras", low=1)
    values = None if weights is None else _check_weights(arch, weights, n_in, n_out, sample, "to_keras")
    keras = _keras()
    layers = [keras.Input((look_back, n_in))]
    for k, units in enumerate(arch.units):
        kw = dict(activation=keras_activation(arch.activation), return_sequences=k < arch.depth - 1,
                  name=f"l{k}_{arch.cell}")
        if arch.cell == "lstm":
            gates = keras_activation(arch.recurrent_activation)
            layers.append(keras.layers.LSTM(units, recurrent_activation=gates, **kw))
        elif arch.cell == "gru":
            layers.append(keras.layers.GRU(units, recurrent_activation=keras_activation(arch.recurrent_activation),
                                           reset_after=True, **kw))
        else:
            layers.append(keras.layers.SimpleRNN(units, **kw))
    layers.append(keras.layers.Dense(n_out, activation=keras_activation(arch.head_activation), name="head"))
    model = keras.Sequential(layers, name=f"mae_ort_{arch.cell}_{'_'.join(map(str, arch.units))}")
    if values is not None:
        model.set_weights(values)
    return model


#: The name of the level network inside a model built by :func:`add_last_value`.
NETWORK_NAME = "network"


def add_last_value(network, *, look_back: int, n_in: int, n_out: int, target_inputs=None):
    """A Keras model that forecasts the level from a network that forecasts the change: ``network(X) + last``.

    The residual connection of ``target_form="delta"`` (a network whose output is 0 forecasts like
    persistence).  With ``target_inputs`` (the input column of each target,
    :func:`mae_ort.data.target_inputs`) the last value is read from the window's last step by
    standard layers (``Cropping1D``, ``Reshape`` and a frozen 0/1 ``Dense`` without bias: exact),
    and the model takes ``X`` alone; with ``None`` (a target that is not an input) it takes
    ``[X, last]``, ``last`` of shape (N, n_out).  ``network`` is kept as the layer named
    :data:`NETWORK_NAME`.  Saved and loaded with the ordinary ``.keras`` format.
    """
    keras = _keras()
    network.name = NETWORK_NAME
    x = keras.Input((look_back, n_in), name="X")
    out = network(x)
    if target_inputs is not None:
        if len(target_inputs) != n_out:
            raise InvalidParameterError(f"add_last_value: {len(target_inputs)} target input column(s) for "
                                        f"n_out={n_out}")
        step = keras.layers.Cropping1D((look_back - 1, 0), name="last_step")(x)
        step = keras.layers.Reshape((n_in,), name="last_step_flat")(step)
        pick = keras.layers.Dense(n_out, use_bias=False, trainable=False, name="last_value")
        last = pick(step)
        select = np.zeros((n_in, n_out), dtype=np.float32)
        select[list(target_inputs), list(range(n_out))] = 1.0
        pick.set_weights([select])
        inputs = x
    else:
        last = keras.Input((n_out,), name="last")
        inputs = [x, last]
    y = keras.layers.Add(name="forecast")([out, last])
    return keras.Model(inputs, y, name="mae_ort_delta")


class KerasModel(NamedTuple):
    """What :func:`from_keras` reads from a Keras model.

    A named tuple: ``arch, weights, look_back, n_in, n_out = from_keras(model)``, or
    ``from_keras(model).arch``.

    Attributes
    ----------
    arch : Architecture
    weights : list of float32 arrays of shape (1, *shape)
        The model's weights in Keras order, with a leading sample axis of 1: what
        the ONNX graphs and the runtimes take.
    look_back : int or None
        The model's fixed window length, or None when its input's time axis is
        unspecified (``Input((None, n_in))``).
    n_in, n_out : int
        Input and output columns.
    """

    arch: Architecture
    weights: list
    look_back: Optional[int]
    n_in: int
    n_out: int


def _activation_name(keras, fn, where: str) -> str:
    """The mae-ort name of a Keras activation callable, checked numerically."""
    from .reference import activation as reference_activation

    if fn is None:
        return "linear"
    label = getattr(fn, "__name__", None) or type(fn).__name__
    grid = np.linspace(-8.0, 8.0, 321, dtype=np.float32)
    try:
        got = np.asarray(keras.ops.convert_to_numpy(fn(keras.ops.convert_to_tensor(grid))), dtype=np.float64)
    except Exception as e:  # a callable that Keras cannot apply to a tensor
        raise InvalidParameterError(f"{where}: cannot evaluate the activation {label!r}: {e}") from e

    def matches(name: str) -> bool:
        want = reference_activation(name)(grid.astype(np.float64))
        return got.shape == want.shape and bool(np.allclose(got, want, rtol=1e-5, atol=1e-6))

    # The name first (tanh, keras.activations.relu, hard_sigmoid_keras2, ...), verified
    # on a grid, so that a callable with a borrowed name is not trusted blindly.
    if isinstance(label, str) and label.lower() in ACTIVATIONS and matches(label.lower()):
        return label.lower()
    for name in ACTIVATIONS:  # e.g. tf.math.tanh, keras.ops.sigmoid, a custom Keras 2 hard sigmoid
        if matches(name):
            return name
    raise InvalidParameterError(
        f"{where}: the activation {label!r} is not supported; use one of {', '.join(ACTIVATIONS)}"
    )


def _chain(model) -> list:
    """The model's layers in order, checked to form one straight chain."""
    keras = _keras()
    if not isinstance(model, keras.Model):
        raise InvalidParameterError(
            f"The 'model' parameter of from_keras must be a Keras model (Sequential or Functional). "
            f"Got {type(model).__name__} instead."
        )
    if isinstance(model, keras.Sequential):
        return list(model.layers)
    inputs, outputs = getattr(model, "inputs", None), getattr(model, "outputs", None)
    if inputs is None or outputs is None:
        raise MaeOrtError(
            f"from_keras reads Sequential and Functional models only; {type(model).__name__} is a subclassed model"
        )
    if len(inputs) != 1 or len(outputs) != 1:
        raise MaeOrtError(
            f"from_keras needs a model with one input and one output; this one has {len(inputs)} and {len(outputs)}"
        )
    layers = [l for l in model.layers if type(l).__name__ != "InputLayer"]
    prev = inputs[0]
    for layer in layers:
        try:
            inp = layer.input
        except (AttributeError, ValueError):  # called several times: not a plain chain
            inp = None
        if inp is None or isinstance(inp, (list, tuple, dict)) or inp is not prev:
            raise MaeOrtError(
                f"from_keras needs a plain stack of layers; layer {layer.name!r} does not take the previous "
                "layer's output as its only input"
            )
        prev = layer.output
    if prev is not outputs[0]:
        raise MaeOrtError("from_keras needs a plain stack of layers ending at the model's output")
    return layers


def from_keras(model) -> KerasModel:
    """Read a Keras model of stacked recurrent layers and a Dense head.

    Accepts a Keras 3 ``Sequential`` or a straight-chain Functional model made of:
    ``LSTM``, ``GRU`` (``reset_after=True``) or ``SimpleRNN`` layers, all of the same
    cell and activations, each with a bias, every one but the last with
    ``return_sequences=True``; then one ``Dense`` layer with a bias.  ``Dropout``
    layers (also ``SpatialDropout1D``, ``GaussianDropout``, ``AlphaDropout``,
    ``GaussianNoise``, and the ``dropout``/``recurrent_dropout`` of the recurrent
    layers) are skipped: they are inactive at inference, so they change no prediction.
    Activations must be among :data:`~mae_ort.model.architecture.ACTIVATIONS`; they are read by
    name and checked numerically on a grid, so ``"tanh"``, ``keras.ops.tanh`` and
    ``tf.math.tanh`` are all ``tanh``, and a callable computing
    ``clip(0.2 x + 0.5, 0, 1)`` (such as :func:`hard_sigmoid_keras2`) is
    ``hard_sigmoid_keras2``.  Weights are returned as float32 whatever the
    model's dtype.

    Parameters
    ----------
    model : keras.Model
        A built model (it has weights: give it an ``Input((look_back, n_in))``).

    Returns
    -------
    KerasModel
        ``(arch, weights, look_back, n_in, n_out)``; it unpacks as that tuple.

    Raises
    ------
    InvalidParameterError
        A layer setting mae-ort cannot represent: ``use_bias=False``,
        ``go_backwards=True``, ``stateful=True``, a GRU with ``reset_after=False``,
        an unsupported activation, a last recurrent layer that returns sequences.
    MaeOrtError
        A model that is not a stack of recurrent layers and one Dense: other layer
        types (``Bidirectional``, ``Flatten``, ``Masking``, nested models ...),
        mixed cells, no recurrent layer, no final Dense, an unbuilt model.
    """
    keras = _keras()
    layers = [l for l in _chain(model) if type(l).__name__ not in _SKIPPED_LAYERS]
    if not layers:
        raise MaeOrtError("from_keras: the model has no layers; expected recurrent layers and a final Dense")
    for layer in layers:
        kind = type(layer).__name__
        if kind not in _CELL_OF_LAYER and kind != "Dense":
            hint = " (a bidirectional RNN is not supported)" if kind == "Bidirectional" else ""
            raise MaeOrtError(
                f"from_keras: layer {layer.name!r} is a {kind}{hint}; only LSTM, GRU or SimpleRNN layers, "
                "Dropout and one final Dense are supported"
            )
    head, rnns = layers[-1], layers[:-1]
    if type(head).__name__ != "Dense":
        raise MaeOrtError(
            f"from_keras: the model must end with a Dense layer; its last layer {head.name!r} is a "
            f"{type(head).__name__}"
        )
    if not rnns:
        raise MaeOrtError("from_keras: the model has no recurrent layer before its Dense layer")
    extra = [l for l in rnns if type(l).__name__ == "Dense"]
    if extra:
        raise MaeOrtError(
            f"from_keras: only one Dense layer, the last, is supported; {extra[0].name!r} is another Dense"
        )
    kinds = {type(l).__name__ for l in rnns}
    if len(kinds) > 1:
        raise MaeOrtError(
            f"from_keras: all recurrent layers must be of one cell; this model mixes {', '.join(sorted(kinds))}"
        )
    if not model.built or not model.weights:
        raise MaeOrtError("from_keras: the model is not built; give it an Input((look_back, n_in)) first")
    cell = _CELL_OF_LAYER[kinds.pop()]

    acts, racts = set(), set()
    for k, layer in enumerate(rnns):
        where = f"from_keras: layer {layer.name!r}"
        if not layer.use_bias:
            raise InvalidParameterError(f"{where} has use_bias=False; mae-ort's architectures always have biases")
        if layer.go_backwards:
            raise InvalidParameterError(f"{where} has go_backwards=True; only forward recurrent layers are supported")
        if layer.stateful:
            raise InvalidParameterError(f"{where} is stateful; only stateless layers (zero initial state) are "
                                        "supported")
        if cell == "gru" and not layer.reset_after:
            raise InvalidParameterError(
                f"{where} is a GRU with reset_after=False; only reset_after=True (the Keras 3 default) is supported"
            )
        if getattr(layer, "return_state", False):
            raise InvalidParameterError(f"{where} has return_state=True; only the output sequence or last output is "
                                        "supported")
        last = k == len(rnns) - 1
        if layer.return_sequences and last:
            raise InvalidParameterError(
                f"{where} is the last recurrent layer but has return_sequences=True: the Dense would output "
                "a sequence; set return_sequences=False"
            )
        if not layer.return_sequences and not last:
            raise InvalidParameterError(
                f"{where} has return_sequences=False but feeds another recurrent layer; set return_sequences=True"
            )
        acts.add(_activation_name(keras, layer.activation, f"{where} (activation)"))
        if cell != "simple_rnn":
            racts.add(_activation_name(keras, layer.recurrent_activation, f"{where} (recurrent_activation)"))
    if len(acts) > 1 or len(racts) > 1:
        which = "activation" if len(acts) > 1 else "recurrent_activation"
        vals = acts if len(acts) > 1 else racts
        raise InvalidParameterError(
            f"from_keras: all recurrent layers must share one {which}; this model uses {', '.join(sorted(vals))}"
        )
    if not head.use_bias:
        raise InvalidParameterError(
            f"from_keras: the Dense layer {head.name!r} has use_bias=False; mae-ort's architectures always have biases"
        )
    head_act = _activation_name(keras, head.activation, f"from_keras: the Dense layer {head.name!r}")

    shape = tuple(model.inputs[0].shape) if getattr(model, "inputs", None) else None
    if shape is None or len(shape) != 3:
        raise MaeOrtError(f"from_keras: the model's input must be (batch, look_back, n_in); got {shape}")
    look_back = None if shape[1] is None else int(shape[1])
    n_in = int(shape[2])
    n_out = int(head.units)
    arch = Architecture(
        tuple(int(l.units) for l in rnns), cell=cell, activation=acts.pop(),
        recurrent_activation=racts.pop() if racts else "sigmoid", head_activation=head_act,
    )
    values = []
    for layer in rnns + [head]:
        values.extend(np.asarray(w, dtype=np.float32) for w in layer.get_weights())
    shapes = arch.weight_shapes(n_in, n_out)
    if [v.shape for v in values] != [s for _, s in shapes]:  # pragma: no cover - a Keras we do not know
        raise MaeOrtError(
            f"from_keras: unexpected weight shapes {[v.shape for v in values]}; expected {[s for _, s in shapes]}"
        )
    weights = [np.ascontiguousarray(v[None]) for v in values]
    return KerasModel(arch, weights, look_back, n_in, n_out)
