"""Series preparation, scaling and windows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mae_ort.data import prepare, sine, windows
from mae_ort.errors import DataError, InvalidParameterError


def test_sine_is_the_papers_series():
    s = sine()
    assert s.shape == (1000,)
    t = np.arange(1000) / 10.0
    np.testing.assert_allclose(s, np.sin(2 * np.pi * t), atol=1e-12)


def test_windows_are_one_step_ahead():
    x = np.arange(10, dtype=float)
    w = windows(prepare(x), 3)
    assert w.X.shape == (7, 3, 1) and w.y.shape == (7, 1)
    assert w.X.dtype == np.float32 and w.y.dtype == np.float32
    np.testing.assert_array_equal(w.X[0, :, 0], [0, 1, 2])
    np.testing.assert_array_equal(w.y[:, 0], np.arange(3, 10))
    np.testing.assert_array_equal(w.X[-1, :, 0], [6, 7, 8])


def test_multivariate_columns_and_targets(eunite_csv):
    s = prepare(eunite_csv, input=["MaxLoads", "Temperature"], target="MaxLoads")
    frame = pd.read_csv(eunite_csv)
    w = windows(s, 7)
    assert w.X.shape == (730 - 7, 7, 2) and w.y.shape == (723, 1)
    np.testing.assert_allclose(w.X[5, :, 1], frame["Temperature"].to_numpy()[5:12], rtol=1e-6)
    np.testing.assert_allclose(w.y[5, 0], frame["MaxLoads"].to_numpy()[12], rtol=1e-6)
    two = prepare(eunite_csv, input=["Temperature"], target=["MaxLoads", "Temperature"])
    assert windows(two, 3).y.shape == (727, 2)


@pytest.mark.parametrize("kind,lo,hi", [("minmax", 0.0, 1.0), ("minmax-1", -1.0, 1.0)])
def test_minmax_scaling(kind, lo, hi, eunite_csv):
    s = prepare(eunite_csv, input="MaxLoads", scale=kind)
    assert s.inputs.min() == pytest.approx(lo) and s.inputs.max() == pytest.approx(hi)


def test_standard_scaling():
    x = np.random.default_rng(0).normal(5, 3, size=500)
    s = prepare(x, scale="standard")
    assert s.inputs.mean() == pytest.approx(0, abs=1e-12) and s.inputs.std() == pytest.approx(1)


def test_fingerprint_depends_on_values_and_scaling():
    a, b = prepare(sine()), prepare(sine(), scale="minmax")
    assert a.fingerprint() != b.fingerprint()
    assert a.fingerprint() == prepare(sine()).fingerprint()


@pytest.mark.parametrize(
    "data,kwargs,match",
    [
        (np.array([]), {}, "empty"),
        (np.array([1.0, np.nan, 2.0]), {}, "NaN or infinite"),
        (np.array([1.0, np.inf, 2.0]), {}, "NaN or infinite"),
        (np.zeros((3, 2)), {}, "choose the input"),
        (np.ones(5), {"scale": "minmax"}, "constant"),
    ],
)
def test_bad_series(data, kwargs, match):
    with pytest.raises(DataError, match=match):
        prepare(data, **kwargs)


def test_too_short_for_look_back():
    with pytest.raises(DataError, match="series has 40 points; look_back=40 needs at least 41"):
        windows(prepare(np.ones(40)), 40)


def test_missing_column_suggests_the_close_name(eunite_csv):
    with pytest.raises(DataError, match="did you mean 'MaxLoads'"):
        prepare(eunite_csv, input="MaxLoad")


def test_unreadable_files(tmp_path):
    with pytest.raises(DataError, match="no such file"):
        prepare(tmp_path / "missing.csv")
    with pytest.raises(DataError, match="folder"):
        prepare(tmp_path)
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(DataError, match="cannot read"):
        prepare(empty)
    header = tmp_path / "header.csv"
    header.write_text("a,b\n")
    with pytest.raises(DataError, match="no data rows"):
        prepare(header)
    binary = tmp_path / "bin.csv"
    binary.write_bytes(b"\xff\xfe\x00\x00garbage\xff")
    with pytest.raises(DataError):
        prepare(binary, input="a")


def test_bad_scale_name():
    with pytest.raises(InvalidParameterError, match="'scale' parameter"):
        prepare(sine(), scale="log")
