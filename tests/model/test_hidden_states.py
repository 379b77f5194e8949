"""The reference forward pass's hidden states: the same computation as its predictions."""

from __future__ import annotations

import numpy as np
import pytest

from mae_ort.model import reference
from mae_ort.model.architecture import Architecture


def _weights(arch, n_in, n_out, samples, rng):
    return [rng.normal(size=(samples,) + shape) for _, shape in arch.weight_shapes(n_in, n_out)]


@pytest.mark.parametrize("cell", ["lstm", "gru", "simple_rnn"])
def test_the_head_on_the_last_state_is_predict(cell, rng):
    arch = Architecture((5, 3, 4), cell=cell)
    W = _weights(arch, 2, 2, 3, rng)
    X = rng.normal(size=(7, 6, 2))
    states = reference.hidden_states(arch, X, W)
    assert [s.shape for s in states] == [(3, 7, 6, 5), (3, 7, 6, 3), (3, 7, 6, 4)]
    assert all(s.dtype == np.float64 for s in states)
    head = reference.activation(arch.head_activation)
    pred = head(states[-1][:, :, -1, :] @ W[-2] + W[-1][:, None, :])
    np.testing.assert_array_equal(pred, reference.predict(arch, X, W))


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_a_layer_runs_on_the_states_of_the_one_below(cell, rng):
    arch = Architecture((4, 3), cell=cell)
    W = _weights(arch, 1, 1, 2, rng)
    X = rng.normal(size=(5, 4, 1))
    states = reference.hidden_states(arch, X, W)
    top = Architecture((3,), cell=cell)
    for s in range(2):
        alone = reference.hidden_states(top, states[0][s], [w[s:s + 1] for w in W[3:]])[0][0]
        np.testing.assert_allclose(alone, states[1][s], rtol=1e-13, atol=1e-14)


def test_one_unit_simple_rnn_by_hand():
    arch = Architecture((1,), cell="simple_rnn")
    k, u, b = 0.7, -1.3, 0.2
    W = [np.array([[[k]]]), np.array([[[u]]]), np.array([[b]]), np.ones((1, 1, 1)), np.zeros((1, 1))]
    X = np.array([[[0.5], [-1.0], [2.0]]])
    h1 = np.tanh(0.5 * k + b)
    h2 = np.tanh(-1.0 * k + h1 * u + b)
    h3 = np.tanh(2.0 * k + h2 * u + b)
    states = reference.hidden_states(arch, X, W)[0]
    np.testing.assert_allclose(states[0, 0, :, 0], [h1, h2, h3], rtol=1e-15)
