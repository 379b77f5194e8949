"""Architectures, presets and weight shapes."""

from __future__ import annotations

import pytest

from mae_ort.errors import InvalidParameterError
from mae_ort.model.architecture import Architecture, parse_units, preset


def test_weight_shapes_follow_keras_order():
    a = Architecture((31, 20))
    assert a.weight_shapes(2, 1) == [
        ("l0.kernel", (2, 124)), ("l0.recurrent_kernel", (31, 124)), ("l0.bias", (124,)),
        ("l1.kernel", (31, 80)), ("l1.recurrent_kernel", (20, 80)), ("l1.bias", (80,)),
        ("head.kernel", (20, 1)), ("head.bias", (1,)),
    ]
    g = Architecture((5,), cell="gru")
    assert g.weight_shapes(1, 3)[2] == ("l0.bias", (2, 15))
    assert Architecture((4,), cell="simple_rnn").weight_shapes(1, 1)[0] == ("l0.kernel", (1, 4))


def test_flops_match_the_cost_model():
    # the cost model: [31,31,31], LB 30, 970 windows, 100 samples is about 113 GFLOP
    assert 100 * Architecture((31, 31, 31)).flops(1, 1, 30, 970) / 1e9 == pytest.approx(112.6, abs=0.1)


def test_family_ignores_widths():
    assert Architecture((3, 4)).family == Architecture((30, 7)).family
    assert Architecture((3, 4)).family != Architecture((3,)).family


def test_paper_preset_uses_keras2_hard_sigmoid():
    a = preset("paper", [7, 7])
    assert (a.cell, a.activation, a.recurrent_activation, a.head_activation) == (
        "lstm", "tanh", "hard_sigmoid_keras2", "tanh")


@pytest.mark.parametrize("text,expected", [("31,31,31", (31, 31, 31)), (" 7 ", (7,)), ([3, 4], (3, 4))])
def test_parse_units(text, expected):
    assert parse_units(text) == expected


@pytest.mark.parametrize("bad", ["", "a,b", "3,0", [0], [], "3,-1"])
def test_bad_units(bad):
    with pytest.raises(InvalidParameterError):
        Architecture(bad)


@pytest.mark.parametrize("field,value", [("cell", "transformer"), ("activation", "swish"),
                                         ("recurrent_activation", "softmax"), ("head_activation", "elu")])
def test_unknown_names(field, value):
    with pytest.raises(InvalidParameterError, match=f"'{field}' parameter of Architecture must be one of"):
        Architecture((3,), **{field: value})


def test_cell_aliases():
    assert Architecture((3,), cell="SimpleRNN").cell == "simple_rnn"
