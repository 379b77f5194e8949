"""mae_ort.model.keras_interop: Keras models of architectures, and architectures of Keras models."""

from __future__ import annotations

import os

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

pytestmark = pytest.mark.keras
keras = pytest.importorskip("keras")
ort = pytest.importorskip("onnxruntime")

from mae_ort.errors import InvalidParameterError, MaeOrtError  # noqa: E402
from mae_ort.model import keras_interop as keras_io  # noqa: E402
from mae_ort.model import reference
from mae_ort.model.architecture import PRESETS, Architecture  # noqa: E402
from mae_ort.runtimes import export  # noqa: E402

L = keras.layers


def normal_weights(arch, n_in, n_out, samples=3, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal((samples,) + shape).astype(np.float32) for _, shape in arch.weight_shapes(n_in, n_out)]


def onnx_pred(arch, X, weights, n_out):
    sess = ort.InferenceSession(export.build_model(arch, X.shape[1]).SerializeToString(),
                                providers=["CPUExecutionProvider"])
    names = [n for n, _ in arch.weight_shapes(X.shape[2], n_out)]
    y = np.zeros((X.shape[0], n_out), np.float32)
    return sess.run(["pred"], {"X": X, "y": y, **dict(zip(names, weights))})[0]


# -- round trip -------------------------------------------------------------------------
ROUND_TRIP = [
    (Architecture((4,)), 5, 1, 1),
    (Architecture((3, 5), recurrent_activation="hard_sigmoid_keras2", head_activation="linear"), 7, 2, 3),
    (Architecture((2, 3, 4), activation="relu", recurrent_activation="hard_sigmoid", head_activation="sigmoid"),
     4, 1, 2),
    (Architecture((6,), cell="gru", activation="linear", recurrent_activation="hard_sigmoid_keras2"), 3, 3, 1),
    (Architecture((3, 2), cell="gru", head_activation="sigmoid"), 2, 1, 1),
    # SimpleRNN has no gate activation: keep the Architecture default so the round trip is exact.
    (Architecture((5,), cell="simple_rnn", activation="relu", head_activation="linear"), 6, 2, 2),
    (Architecture((1, 1, 1), cell="simple_rnn", activation="linear"), 1, 1, 1),
    (Architecture((8, 8), **PRESETS["paper"]), 10, 1, 1),
]


@pytest.mark.parametrize("arch,look_back,n_in,n_out", ROUND_TRIP,
                         ids=lambda v: v.label() if isinstance(v, Architecture) else str(v))
def test_round_trip(arch, look_back, n_in, n_out):
    weights = normal_weights(arch, n_in, n_out, samples=3, seed=look_back)
    model = keras_io.to_keras(arch, look_back=look_back, n_in=n_in, n_out=n_out, weights=weights, sample=2)
    assert model.input_shape == (None, look_back, n_in) and model.output_shape == (None, n_out)
    info = keras_io.from_keras(model)
    assert info.arch == arch
    assert (info.look_back, info.n_in, info.n_out) == (look_back, n_in, n_out)
    assert len(info.weights) == len(weights)
    for got, w, (name, shape) in zip(info.weights, weights, arch.weight_shapes(n_in, n_out)):
        assert got.dtype == np.float32 and got.shape == (1,) + shape, name
        np.testing.assert_array_equal(got, w[2:3], err_msg=name)
    # It unpacks as a tuple, too.
    arch2, weights2, lb2, n_in2, n_out2 = info
    assert arch2 == arch and weights2 is info.weights and (lb2, n_in2, n_out2) == (look_back, n_in, n_out)


def test_to_keras_layers_and_activations():
    arch = Architecture((3, 4), cell="gru", recurrent_activation="hard_sigmoid_keras2", head_activation="sigmoid")
    model = keras_io.to_keras(arch, look_back=5, n_in=2, n_out=1)
    rnn0, rnn1, head = model.layers
    assert isinstance(rnn0, L.GRU) and isinstance(rnn1, L.GRU) and isinstance(head, L.Dense)
    assert rnn0.return_sequences and not rnn1.return_sequences
    assert rnn0.reset_after and rnn1.reset_after
    assert rnn0.recurrent_activation is keras_io.hard_sigmoid_keras2
    assert rnn0.activation is keras.activations.tanh and head.activation is keras.activations.sigmoid
    assert [tuple(w.shape) for w in model.weights] == [s for _, s in arch.weight_shapes(2, 1)]


def test_keras_activation_names():
    for name in ("tanh", "sigmoid", "relu", "linear", "hard_sigmoid"):
        assert keras_io.keras_activation(name) == name
    fn = keras_io.keras_activation("HARD_SIGMOID_KERAS2")
    assert fn is keras_io.hard_sigmoid_keras2 and fn.__name__ == "hard_sigmoid_keras2"
    x = np.array([-3.0, -2.5, -1.0, 0.0, 1.0, 2.5, 3.0], np.float32)
    np.testing.assert_allclose(np.asarray(fn(x)), np.clip(0.2 * x + 0.5, 0, 1), atol=1e-7)
    with pytest.raises(InvalidParameterError, match="'name' parameter of keras_activation must be one of"):
        keras_io.keras_activation("swish")


def test_to_keras_checks_its_weights():
    arch = Architecture((3,))
    good = normal_weights(arch, 1, 1, samples=2)
    with pytest.raises(InvalidParameterError, match="must hold 5 arrays for lstm\\[3\\]"):
        keras_io.to_keras(arch, look_back=2, n_in=1, n_out=1, weights=good[:-1])
    with pytest.raises(InvalidParameterError, match="'l0.kernel' given to to_keras must have shape \\(S, 1, 12\\)"):
        keras_io.to_keras(arch, look_back=2, n_in=1, n_out=1, weights=[good[0][0]] + good[1:])
    with pytest.raises(InvalidParameterError, match="same number of samples S"):
        keras_io.to_keras(arch, look_back=2, n_in=1, n_out=1, weights=good[:-1] + [good[-1][:1]])
    match = "'sample' parameter of to_keras must be an int in the range \\[0, 1\\]"
    with pytest.raises(InvalidParameterError, match=match):
        keras_io.to_keras(arch, look_back=2, n_in=1, n_out=1, weights=good, sample=2)
    with pytest.raises(InvalidParameterError, match="'look_back' parameter of to_keras"):
        keras_io.to_keras(arch, look_back=0, n_in=1, n_out=1)
    with pytest.raises(InvalidParameterError, match="'arch' parameter of to_keras must be an Architecture"):
        keras_io.to_keras("lstm", look_back=2, n_in=1, n_out=1)


# -- a user's hand-written models ---------------------------------------------------------
def test_hand_written_paper_model_with_dropout():
    """The paper's trainer: LSTM layers, Dropout(0.3) after each, Keras 2 gates, tanh head."""
    model = keras.Sequential([
        keras.Input((10, 1)),
        L.LSTM(8, return_sequences=True, recurrent_activation=keras_io.hard_sigmoid_keras2, dropout=0.1),
        L.Dropout(0.3),
        L.LSTM(5, recurrent_activation=keras_io.hard_sigmoid_keras2, recurrent_dropout=0.1),
        L.Dropout(0.3),
        L.Dense(1, activation="tanh"),
    ])
    rng = np.random.default_rng(3)
    model.set_weights([rng.standard_normal(w.shape).astype(np.float32) for w in model.get_weights()])
    arch, weights, look_back, n_in, n_out = keras_io.from_keras(model)
    assert arch == Architecture((8, 5), **PRESETS["paper"])
    assert (look_back, n_in, n_out) == (10, 1, 1)
    for got, want in zip(weights, model.get_weights()):
        np.testing.assert_array_equal(got[0], want)
    # Dropout is inactive at inference: the ONNX graph on the read weights predicts as Keras does.
    X = rng.standard_normal((64, 10, 1)).astype(np.float32)
    np.testing.assert_allclose(onnx_pred(arch, X, weights, 1)[0], model.predict_on_batch(X), atol=1e-5)


def test_activations_recognised_by_value():
    """A callable counts by what it computes: keras.ops / TensorFlow functions, a home-made Keras 2 hard sigmoid."""
    import tensorflow as tf

    def my_hard_sigmoid(x):  # a user's own Keras 2 hard sigmoid, under another name
        return keras.ops.clip(0.2 * x + 0.5, 0.0, 1.0)

    model = keras.Sequential([
        keras.Input((4, 2)),
        L.GRU(3, activation=tf.math.tanh, recurrent_activation=my_hard_sigmoid, return_sequences=True),
        L.GRU(2, activation=keras.ops.tanh, recurrent_activation=my_hard_sigmoid),
        L.Dense(2, activation=None),
    ])
    arch = keras_io.from_keras(model).arch
    assert arch == Architecture((3, 2), cell="gru", activation="tanh", recurrent_activation="hard_sigmoid_keras2",
                                head_activation="linear")


def test_functional_chain_and_free_look_back():
    inp = keras.Input((None, 2))
    h = L.SimpleRNN(4, activation="relu", return_sequences=True)(inp)
    h = L.Dropout(0.5)(h)
    h = L.SimpleRNN(3, activation="relu")(h)
    out = L.Dense(1, activation="linear")(h)
    model = keras.Model(inp, out)
    info = keras_io.from_keras(model)
    assert info.arch == Architecture((4, 3), cell="simple_rnn", activation="relu", head_activation="linear")
    assert info.look_back is None and (info.n_in, info.n_out) == (2, 1)
    assert [w.shape[1:] for w in info.weights] == [s for _, s in info.arch.weight_shapes(2, 1)]


# -- unsupported models -------------------------------------------------------------------
def _seq(*layers, shape=(6, 1)):
    return keras.Sequential([keras.Input(shape), *layers])


UNSUPPORTED = [
    ("non-rnn layer", lambda: _seq(L.LSTM(3, return_sequences=True), L.Flatten(), L.Dense(1)),
     MaeOrtError, "layer 'flatten.*' is a Flatten; only LSTM, GRU or SimpleRNN layers"),
    ("conv", lambda: _seq(L.Conv1D(2, 3), L.LSTM(3), L.Dense(1)),
     MaeOrtError, "is a Conv1D"),
    ("bidirectional", lambda: _seq(L.Bidirectional(L.LSTM(3)), L.Dense(1)),
     MaeOrtError, "is a Bidirectional \\(a bidirectional RNN is not supported\\)"),
    ("mixed cells", lambda: _seq(L.LSTM(3, return_sequences=True), L.GRU(3), L.Dense(1)),
     MaeOrtError, "all recurrent layers must be of one cell; this model mixes GRU, LSTM"),
    ("gru reset_after=False", lambda: _seq(L.GRU(3, reset_after=False), L.Dense(1)),
     InvalidParameterError, "GRU with reset_after=False; only reset_after=True"),
    ("rnn use_bias=False", lambda: _seq(L.LSTM(3, use_bias=False), L.Dense(1)),
     InvalidParameterError, "has use_bias=False; mae-ort's architectures always have biases"),
    ("dense use_bias=False", lambda: _seq(L.SimpleRNN(3), L.Dense(1, use_bias=False)),
     InvalidParameterError, "the Dense layer '.*' has use_bias=False"),
    ("go_backwards", lambda: _seq(L.LSTM(3, go_backwards=True), L.Dense(1)),
     InvalidParameterError, "has go_backwards=True; only forward recurrent layers"),
    ("stateful", lambda: keras.Sequential([keras.Input(batch_shape=(4, 6, 1)), L.LSTM(3, stateful=True), L.Dense(1)]),
     InvalidParameterError, "is stateful; only stateless layers"),
    ("no final dense", lambda: _seq(L.LSTM(3)),
     MaeOrtError, "must end with a Dense layer; its last layer '.*' is a LSTM"),
    ("no rnn", lambda: _seq(L.Dense(1)),
     MaeOrtError, "no recurrent layer before its Dense layer"),
    ("two dense", lambda: _seq(L.LSTM(3), L.Dense(4), L.Dense(1)),
     MaeOrtError, "only one Dense layer, the last, is supported"),
    ("sequence output", lambda: _seq(L.LSTM(3, return_sequences=True), L.Dense(1)),
     InvalidParameterError, "last recurrent layer but has return_sequences=True: the Dense would output a sequence"),
    ("cell activation", lambda: _seq(L.LSTM(3, activation="softsign"), L.Dense(1)),
     InvalidParameterError, "\\(activation\\): the activation 'softsign' is not supported; use one of tanh, sigmoid"),
    ("gate activation", lambda: _seq(L.GRU(3, recurrent_activation="swish"), L.Dense(1)),
     InvalidParameterError, "\\(recurrent_activation\\): the activation '(swish|silu)' is not supported"),
    ("head activation", lambda: _seq(L.LSTM(3), L.Dense(1, activation="elu")),
     InvalidParameterError, "the Dense layer '.*': the activation 'elu' is not supported"),
    ("mixed activations", lambda: _seq(L.LSTM(3, return_sequences=True), L.LSTM(3, activation="relu"), L.Dense(1)),
     InvalidParameterError, "must share one activation; this model uses relu, tanh"),
    ("not built", lambda: keras.Sequential([L.LSTM(3), L.Dense(1)]),
     MaeOrtError, "the model is not built; give it an Input\\(\\(look_back, n_in\\)\\)"),
]


@pytest.mark.parametrize("what,make,error,message", UNSUPPORTED, ids=[u[0] for u in UNSUPPORTED])
def test_unsupported_models_are_refused(what, make, error, message):
    model = make()
    with pytest.raises(error, match=message) as info:
        keras_io.from_keras(model)
    assert "\n" not in str(info.value), "messages are one line"
    assert str(info.value).startswith("from_keras")


def test_branching_functional_model_is_refused():
    inp = keras.Input((6, 1))
    a = L.LSTM(3)(inp)
    b = L.LSTM(3)(inp)
    out = L.Dense(1)(L.Add()([a, b]))
    with pytest.raises(MaeOrtError, match="plain stack of layers"):
        keras_io.from_keras(keras.Model(inp, out))
    i1, i2 = keras.Input((6, 1)), keras.Input((6, 1))
    two = keras.Model([i1, i2], [L.Dense(1)(L.LSTM(2)(i1)), L.Dense(1)(L.LSTM(2)(i2))])
    with pytest.raises(MaeOrtError, match="one input and one output; this one has 2 and 2"):
        keras_io.from_keras(two)


def test_not_a_model_is_refused():
    with pytest.raises(InvalidParameterError, match="'model' parameter of from_keras must be a Keras model"):
        keras_io.from_keras("model.keras")
    with pytest.raises(InvalidParameterError, match="must be a Keras model"):
        keras_io.from_keras(L.LSTM(3))


def test_read_weights_reproduce_keras_predictions():
    """from_keras on a model with Keras' own initial weights: the ONNX graph predicts what Keras does."""
    model = keras.Sequential([keras.Input((7, 3)), L.LSTM(6, return_sequences=True), L.LSTM(4), L.Dense(2)])
    arch, weights, look_back, n_in, n_out = keras_io.from_keras(model)
    X = np.random.default_rng(0).standard_normal((50, look_back, n_in)).astype(np.float32)
    want = model.predict_on_batch(X)
    np.testing.assert_allclose(onnx_pred(arch, X, weights, n_out)[0], want, atol=1e-5)
    np.testing.assert_allclose(reference.predict(arch, X, weights)[0], want, atol=1e-5)
