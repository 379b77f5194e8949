"""A plain numpy forward pass of the Keras model, batched over weight samples.

This is the oracle of the tests (in float64) and the "plain numpy" contender of the
benchmark (in float32).  It follows the Keras cell equations (keras.layers.LSTMCell, GRUCell, SimpleRNNCell) literally,
gates in Keras order (LSTM i, f, c, o; GRU z, r, h), and shares no code with the
ONNX exporter or the Numba kernels.
"""

from __future__ import annotations

import numpy as np

from .architecture import Architecture

__all__ = ["activation", "hidden_states", "predict", "maes"]


def activation(name: str):
    """The numpy function of an activation name of :data:`mae_ort.model.architecture.ACTIVATIONS`."""
    return {
        "tanh": np.tanh,
        "sigmoid": lambda x: 1.0 / (1.0 + np.exp(-x)),
        "hard_sigmoid": lambda x: np.clip(x / 6.0 + 0.5, 0.0, 1.0),
        "hard_sigmoid_keras2": lambda x: np.clip(0.2 * x + 0.5, 0.0, 1.0),
        "relu": lambda x: np.maximum(x, 0.0),
        "linear": lambda x: x,
    }[name]


def _layers(arch: Architecture, X: np.ndarray, weights: list[np.ndarray], dtype):
    """Yield the hidden states of each recurrent layer in turn, shape (S, N, LB, H_k).

    The one implementation of the cells, shared by :func:`predict` and
    :func:`hidden_states`; a layer's states are the next layer's input sequence.
    """
    a, ra = activation(arch.activation), activation(arch.recurrent_activation)
    X = np.asarray(X, dtype=dtype)
    W = [np.asarray(w, dtype=dtype) for w in weights]
    S, N, LB = W[0].shape[0], X.shape[0], X.shape[1]
    seq = np.broadcast_to(X[None], (S,) + X.shape)  # (S, N, LB, d)
    for k, H in enumerate(arch.units):
        K, U, b = W[3 * k], W[3 * k + 1], W[3 * k + 2]
        h = np.zeros((S, N, H), dtype=dtype)
        c = np.zeros((S, N, H), dtype=dtype)
        out = np.empty((S, N, LB, H), dtype=dtype)
        for t in range(LB):
            xt = seq[:, :, t, :]
            if arch.cell == "lstm":
                z = xt @ K + h @ U + b[:, None, :]
                i, f, g, o = (z[..., j * H:(j + 1) * H] for j in range(4))
                c = ra(f) * c + ra(i) * a(g)
                h = ra(o) * a(c)
            elif arch.cell == "gru":
                mx = xt @ K + b[:, None, 0, :]
                mh = h @ U + b[:, None, 1, :]
                z = ra(mx[..., :H] + mh[..., :H])
                r = ra(mx[..., H:2 * H] + mh[..., H:2 * H])
                hh = a(mx[..., 2 * H:] + r * mh[..., 2 * H:])
                h = z * h + (1.0 - z) * hh
            else:
                h = a(xt @ K + h @ U + b[:, None, :])
            out[:, :, t, :] = h
        yield out
        seq = out


def hidden_states(arch: Architecture, X: np.ndarray, weights: list[np.ndarray], *,
                  dtype=np.float64) -> list[np.ndarray]:
    """Hidden states ``h_t`` of every recurrent layer at every time step, for every weight sample.

    The same computation as :func:`predict` (one shared implementation of the
    cells): the Dense head applied to ``hidden_states(...)[-1][:, :, -1, :]``
    gives :func:`predict`'s predictions.

    Parameters
    ----------
    arch : Architecture
    X : array of shape (N, LB, n_in)
    weights : list of arrays of shape (S, *shape)
        In the order of ``arch.weight_shapes``.
    dtype : numpy dtype
        The precision of the whole computation.

    Returns
    -------
    list of ndarray
        One array per layer, first to last, of shape (S, N, LB, H_k): the state
        after step ``t = 0 ... LB-1`` (the zero initial state is not included).
    """
    return list(_layers(arch, X, weights, dtype))


def predict(arch: Architecture, X: np.ndarray, weights: list[np.ndarray], *, dtype=np.float64) -> np.ndarray:
    """Predictions of every weight sample, an array of shape (S, N, n_out) (parameters as :func:`hidden_states`)."""
    for seq in _layers(arch, X, weights, dtype):  # keeps one layer's states at a time
        pass
    Wd, bd = (np.asarray(w, dtype=dtype) for w in weights[-2:])
    return activation(arch.head_activation)(seq[:, :, -1, :] @ Wd + bd[:, None, :])


def maes(arch: Architecture, X: np.ndarray, y: np.ndarray, weights: list[np.ndarray], *,
         dtype=np.float64) -> np.ndarray:
    """Mean absolute error of every weight sample, shape (S,)."""
    pred = predict(arch, X, weights, dtype=dtype)
    return np.abs(pred - np.asarray(y, dtype=dtype)[None]).mean(axis=(1, 2))
