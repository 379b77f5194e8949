"""Series preparation, scaling and windows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mae_ort.data import prepare, sine, windows
from mae_ort.errors import DataError, InvalidParameterError
from tests.conftest import DATA

DATA_CSV = DATA / "eunite-training.csv"


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


# -- ordinary CSV files (issue 10) -----------------------------------------------------------------
def _csv(tmp_path, text: str, name: str = "s.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path


DATED = "date,value\n2020-01-01,1.0\n2020-01-02,2.5\n2020-01-03,-1.25\n2020-01-04,3\n2020-01-05,2\n"


def test_a_date_column_is_ignored_unless_named(tmp_path):
    s = prepare(_csv(tmp_path, DATED))
    assert s.input_names == ("value",) and s.target_names == ("value",) and s.name == "s.csv"
    np.testing.assert_array_equal(s.inputs[:, 0], [1.0, 2.5, -1.25, 3.0, 2.0])
    with pytest.raises(DataError, match=r"^column 'date' is not numeric \(it holds text such as '2020-01-01'\); "
                                        r"choose numeric input and target columns, or make it the index with "
                                        r"index_col='date' \(--index-col date\)$"):
        prepare(_csv(tmp_path, DATED), input="date")


def test_index_col_sets_a_numeric_time_column_aside(tmp_path):
    path = _csv(tmp_path, "t,value\n1,10\n2,20\n3,15\n")
    with pytest.raises(DataError, match=r"the data has 2 numeric columns \(t, value\)"):
        prepare(path)
    s = prepare(path, index_col="t")
    np.testing.assert_array_equal(s.inputs[:, 0], [10, 20, 15])
    with pytest.raises(DataError, match="no index column 'tt'; did you mean 't'"):
        prepare(path, index_col="tt")
    frame = pd.DataFrame({"t": [1, 2, 3], "value": [10.0, 20.0, 15.0]})
    np.testing.assert_array_equal(prepare(frame, index_col="t").inputs[:, 0], [10, 20, 15])


def test_a_stray_text_cell_names_its_line_and_column(tmp_path):
    path = _csv(tmp_path, "date,value\n2020-01-01,1\n2020-01-02,2\n2020-01-03,oops\n2020-01-04,4\n")
    with pytest.raises(DataError, match=r"^column 'value' has the text 'oops' at line 4 of '.*s\.csv' where a "
                                        r"number is expected; fix or remove it$"):
        prepare(path)
    frame = pd.DataFrame({"a": ["1", "x", "3", "y"]})
    with pytest.raises(DataError, match=r"'x' at row 1 where a number is expected \(and 1 more text cell"):
        prepare(frame)
    # numbers stored as text are numbers
    np.testing.assert_array_equal(prepare(pd.DataFrame({"a": ["1", "2.5", "3"]})).inputs[:, 0], [1, 2.5, 3])


def test_nan_in_a_csv_names_the_file_line(tmp_path):
    with pytest.raises(DataError, match=r"the first is NaN at line 4 of '.*s\.csv'"):
        prepare(_csv(tmp_path, "v\n1\n2\nnan\n4\n"))


SEMI = "date;value\n2020-01-01;1,5\n2020-01-02;2,5\n2020-01-03;-1,25\n2020-01-04;3,0\n"


def test_semicolons_and_decimal_commas_are_read_or_refused(tmp_path):
    path = _csv(tmp_path, SEMI)
    with pytest.raises(DataError, match=r"looks semicolon-separated \(its header is 'date;value'\); read it with "
                                        r"sep=';' and decimal=',' \(--sep ';' --decimal ','\)$"):
        prepare(path)
    with pytest.raises(DataError, match=r"column 'value' of '.*' holds numbers with decimal commas \(such as '1,5'\);"
                                        r" read it with sep=';' and decimal=','"):
        prepare(path, sep=";")
    s = prepare(path, sep=";", decimal=",")
    np.testing.assert_array_equal(s.inputs[:, 0], [1.5, 2.5, -1.25, 3.0])
    # decimal commas in a comma-separated file: every row has a field too many
    with pytest.raises(DataError, match=r"line 2 of '.*' has more fields than the header's 2: .*--sep ';' "
                                        r"--decimal ','"):
        prepare(_csv(tmp_path, "date,value\n2020-01-01,1,5\n2020-01-02,2,5\n", "c.csv"))
    # and the other way round
    with pytest.raises(DataError, match=r"holds numbers with decimal points \(such as '1.5'\) but decimal=','"):
        prepare(_csv(tmp_path, "date;value\n2020-01-01;1.5\n2020-01-02;2.5\n", "p.csv"), sep=";", decimal=",")
    tabs = prepare(_csv(tmp_path, "a\tb\n1\t2\n3\t4\n", "t.tsv"), sep="tab", input="b")
    np.testing.assert_array_equal(tabs.inputs[:, 0], [2, 4])


def test_a_blank_line_inside_the_series_is_an_error(tmp_path):
    with pytest.raises(DataError, match=r"^line 4 of '.*s\.csv' is blank \(and 1 more\): a blank line inside a "
                                        r"series is a missing time point; remove the line or fill in its values$"):
        prepare(_csv(tmp_path, "v\n1\n2\n\n3\n  \n4\n"))
    # blank lines before the header or after the last row are not inside the series
    s = prepare(_csv(tmp_path, "\nv\n1\n2\n3\n\n\n", "ends.csv"))
    np.testing.assert_array_equal(s.inputs[:, 0], [1, 2, 3])
    # Windows line ends and a UTF-8 byte-order mark
    path = tmp_path / "win.csv"
    path.write_bytes(b"\xef\xbb\xbfv\r\n1\r\n2\r\n")
    assert prepare(path).input_names == ("v",)


def test_values_beyond_float32_are_refused_before_sampling(tmp_path):
    path = _csv(tmp_path, "v\n1\n-5e38\n3\n")
    with pytest.raises(DataError, match=r"beyond float32's range \(\|x\| > 3.4e38\), the first -5e\+38 at line 3 of"):
        prepare(path)
    assert np.abs(prepare(path, scale="standard").inputs).max() < 2  # scaled first, then it fits
    from mae_ort.data import Series

    big = Series(np.array([[1.0], [1e39], [2.0]]), np.ones((3, 1)), ("v",), ("v",))
    with pytest.raises(DataError, match="the series' inputs has 1 value"):
        windows(big, 1)


@pytest.mark.parametrize("data,kwargs", [
    ({"a": [1, 2], "b": [1]}, {}),
    (object(), {}),
    ([[1.0, 2.0], [3.0]], {}),
    (pd.DataFrame({"a": pd.array([1, None, 3], dtype="Int64")}), {}),
    (pd.DataFrame({"a": [1.0, 2.0], "flag": [True, False]}), {"input": "flag"}),
    (pd.DataFrame({"a": [1.0, 2.0], "when": pd.to_datetime(["2020-01-01", "2020-01-02"])}), {"input": "when"}),
    (pd.DataFrame({"a": [1.0, 2.0], "s": pd.array(["x", "y"], dtype="string")}), {"input": "s"}),
    (pd.DataFrame({"a": [1.0, 2.0], "c": pd.Categorical(["x", "y"])}), {"input": "c"}),
    (pd.DataFrame({"a": [1.0, 2.0]}), {"input": 0}),
])
def test_data_problems_raise_data_error_never_type_error(data, kwargs):
    with pytest.raises(DataError) as info:
        prepare(data, **kwargs)
    assert type(info.value) is DataError and "\n" not in str(info.value)


def test_an_empty_column_from_trailing_separators_is_ignored(tmp_path):
    s = prepare(_csv(tmp_path, "date,value,\n2020-01-01,1,\n2020-01-02,2,\n2020-01-03,4,\n"))
    np.testing.assert_array_equal(s.inputs[:, 0], [1, 2, 4])
    with pytest.raises(DataError, match=r"3 NaN or infinite value\(s\); the first is NaN at line 2 of"):
        prepare(_csv(tmp_path, "date,value,\n2020-01-01,1,\n2020-01-02,2,\n2020-01-03,4,\n", "e.csv"),
                input="Unnamed: 2")


def test_columns_with_integer_labels(tmp_path):
    frame = pd.DataFrame(np.arange(6.0).reshape(3, 2))
    s = prepare(frame, input=1, target=[0])
    np.testing.assert_array_equal(s.inputs[:, 0], [1, 3, 5])
    np.testing.assert_array_equal(s.targets[:, 0], [0, 2, 4])


def test_csv_options_are_checked():
    with pytest.raises(InvalidParameterError, match=r"'sep' parameter of read_csv must be a single character"):
        prepare(DATA_CSV, sep=";;")
    with pytest.raises(InvalidParameterError, match=r"'decimal' parameter of read_csv must differ from sep=','"):
        prepare(DATA_CSV, decimal=",")
    with pytest.raises(InvalidParameterError, match="sep, decimal and header apply to CSV files"):
        prepare(sine(), sep=";")
    with pytest.raises(InvalidParameterError, match="index_col applies to DataFrames and CSV files"):
        prepare(sine(), index_col="t")
    with pytest.raises(InvalidParameterError, match=r"'input' parameter of prepare must be a column name"):
        prepare(sine(), input=1.5)


def test_csv_split_records_its_csv_options_and_rebuilds(tmp_path):
    from mae_ort.data import csv_split, split_from_spec

    rows = "".join(f"2020-01-{i + 1:02d};{np.sin(i / 3):.4f}\n".replace(".", ",") for i in range(30))
    path = _csv(tmp_path, "date;value\n" + rows)
    sp = csv_split(path, sep=";", decimal=",", index_col="date", scale="minmax", test_points=5)
    assert sp.spec["sep"] == ";" and sp.spec["decimal"] == "," and sp.spec["index_col"] == "date"
    assert sp.train.length == 25 and sp.test.length == 5
    raw = np.array([float(f"{np.sin(i / 3):.4f}") for i in range(30)])
    lo, hi = raw[:25].min(), raw[:25].max()
    np.testing.assert_allclose(sp.test.inputs[:, 0], (raw[25:] - lo) / (hi - lo), rtol=1e-12)
    back = split_from_spec(sp.spec)
    np.testing.assert_array_equal(back.train.inputs, sp.train.inputs)
    np.testing.assert_array_equal(back.test.targets, sp.test.targets)
    test_file = _csv(tmp_path, "date;value\n2020-02-01;0,5\n2020-02-02;0,25\n", "test.csv")
    two = split_from_spec(csv_split(path, test_file, sep=";", decimal=",").spec)
    np.testing.assert_array_equal(two.test.inputs[:, 0], [0.5, 0.25])
    with pytest.raises(DataError, match="looks semicolon-separated"):
        split_from_spec({**sp.spec, "sep": None, "decimal": None})


@pytest.mark.parametrize("kw", [dict(rate=0), dict(rate=-1.0), dict(rate=float("inf")), dict(amplitude=float("nan")),
                                dict(frequency=float("inf")), dict(phase="x")])
def test_sine_checks_its_parameters(kw):
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no numpy warning before the error: the check comes first
        with pytest.raises(InvalidParameterError, match=f"'{next(iter(kw))}' parameter of sine"):
            sine(100, **kw)


def test_a_headerless_csv_loses_no_point(tmp_path):
    from mae_ort.data import read_csv

    p = tmp_path / "no_header.csv"
    p.write_text("\n".join(str(v) for v in range(1, 61)) + "\n")
    f = read_csv(p)
    assert f.shape == (60, 1) and list(f.columns) == ["0"] and f.attrs["header"] is False
    assert f.iloc[0, 0] == 1 and f.attrs["first_line"] == 1
    assert windows(prepare(str(p)), 3).n == 57  # 60 points, look-back 3
    forced = read_csv(p, header="yes")  # the first line named the column after all
    assert forced.shape == (59, 1) and list(forced.columns) == ["1"]
    q = tmp_path / "two.csv"
    q.write_text("1;5,5\n2;6,5\n3;7,5\n")
    f = read_csv(q, sep=";", decimal=",")
    assert list(f.columns) == ["0", "1"] and f.shape == (3, 2) and f.iloc[0, 1] == 5.5
    h = tmp_path / "h.csv"
    h.write_text("x,2020\n1,2\n3,4\n")
    assert read_csv(h).shape == (2, 2)  # one text cell: a header
    assert read_csv(h, header="none").shape == (3, 2)
    with pytest.raises(InvalidParameterError, match="'header' parameter of read_csv"):
        read_csv(h, header="maybe")


def _exact_standard(values):
    """Standardised values from exact rational arithmetic (mean, population variance) and a 60-digit sqrt."""
    from decimal import Decimal, localcontext
    from fractions import Fraction

    xs = [Fraction(v) for v in values]
    mean = sum(xs) / len(xs)
    var = sum((x - mean) ** 2 for x in xs) / len(xs)
    with localcontext() as ctx:
        ctx.prec = 60
        sd = (Decimal(var.numerator) / Decimal(var.denominator)).sqrt()
        return [float((Decimal((x - mean).numerator) / Decimal((x - mean).denominator)) / sd) for x in xs]


def _exact_minmax(values, kind):
    from fractions import Fraction

    xs = [Fraction(v) for v in values]
    lo, hi = min(xs), max(xs)
    unit = [(x - lo) / (hi - lo) for x in xs]
    return [float(u if kind == "minmax" else 2 * u - 1) for u in unit]


HUGE = [
    [1e300, -1e300, 5e299, 3e300, -2e300, 7e299, 1e300],  # squares overflow (1e600)
    [1.7e308, -1.7e308, 0.0, 1e308, -5e307],  # sums, spans and differences overflow too
    [1.5e308, 1.6e308, 1.7e308, 1.65e308],  # the sum overflows, the spread does not
    [1e-300, 3e-300, 0.0, 2.5e-300],  # squares underflow to 0 (an sd of 0 is not a constant column)
]


@pytest.mark.parametrize("values", HUGE, ids=["1e300", "1.7e308", "sum", "1e-300"])
@pytest.mark.parametrize("kind", ["standard", "minmax", "minmax-1"])
def test_scaling_cannot_overflow_for_any_finite_column(values, kind):
    import warnings

    want = _exact_standard(values) if kind == "standard" else _exact_minmax(values, kind)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # numpy's "overflow encountered in square" would fail here
        s = prepare(np.array(values), scale=kind)
        two = prepare(np.column_stack([values, np.arange(len(values), dtype=float)]), input=[0, 1], target=[0],
                      scale=kind)
    np.testing.assert_allclose(s.inputs[:, 0], want, rtol=1e-14, atol=1e-15)
    np.testing.assert_allclose(two.inputs[:, 0], want, rtol=1e-14, atol=1e-15)
    np.testing.assert_allclose(two.targets[:, 0], want, rtol=1e-14, atol=1e-15)


def test_ordinary_columns_scale_exactly_as_numpy_does():
    from mae_ort.data import Scaler

    x = np.random.default_rng(1).normal(5, 3, size=(300, 2))
    sc = Scaler.fit("standard", x)
    assert sc.params == {"mean": x.mean(axis=0).tolist(), "sd": x.std(axis=0).tolist()}
    np.testing.assert_array_equal(sc.apply(x), (x - x.mean(axis=0)) / x.std(axis=0))
    lo, hi = x.min(axis=0), x.max(axis=0)
    np.testing.assert_array_equal(Scaler.fit("minmax", x).apply(x), (x - lo) / (hi - lo))


def test_a_test_part_far_beyond_the_training_range_is_refused_not_overflowed(tmp_path):
    import warnings

    from mae_ort.data import csv_split

    train, test = _csv(tmp_path, "v\n1\n2\n3\n4\n", "train.csv"), _csv(tmp_path, "v\n1e308\n", "test.csv")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        # (1e308 - 2.5) / 1.118...: beyond float32, so the runtimes would see inf: refused, not overflowed
        with pytest.raises(DataError, match="the scaled test part's inputs has 1 value.s. beyond float32's range"):
            csv_split(train, test, scale="standard")
        huge = _csv(tmp_path, "v\n" + "".join(f"{v:g}\n" for v in HUGE[0]), "huge.csv")
        sp = csv_split(huge, huge, scale="standard")  # raw values beyond float32 are fine once scaled
        np.testing.assert_allclose(sp.test.inputs[:, 0], _exact_standard(HUGE[0]), rtol=1e-14)
        assert csv_split(huge, test_points=2, scale="minmax").train.length == 5
    with pytest.raises(DataError, match="beyond float32's range"):
        csv_split(huge, test_points=2)  # unscaled: refused at once


def test_header_reaches_prepare_csv_split_and_its_spec(tmp_path):
    from mae_ort.data import csv_split, header_note, split_from_spec

    p = tmp_path / "no_header.csv"
    p.write_text("\n".join(str(v) for v in range(1, 61)) + "\n")
    q = tmp_path / "test.csv"
    q.write_text("61\n62\n63\n")
    s = prepare(str(p))
    assert s.length == 60 and windows(s, 3).n == 57 and header_note(s) == "no header: columns numbered 0..0"
    named = prepare(str(p), header="yes")  # the old reading: the first value names the column
    assert named.length == 59 and named.input_names == ("1",) and header_note(named) is None
    assert header_note(prepare(str(p), header="none")) is None  # asked for: nothing to say
    assert header_note(prepare(sine())) is None
    sp = csv_split(p, q, header="none")
    assert sp.spec["header"] == "none" and sp.train.length == 60 and sp.test.length == 3
    back = split_from_spec(sp.spec)
    np.testing.assert_array_equal(back.train.inputs, sp.train.inputs)
    assert split_from_spec({**sp.spec, "header": "yes"}).train.length == 59
    old = {k: v for k, v in sp.spec.items() if k != "header"}  # a spec stored before the option: auto
    assert split_from_spec(old).train.length == 60
    tail = csv_split(p, test_points=10)
    assert tail.train.length == 50 and header_note(tail.train) == "no header: columns numbered 0..0"
    with pytest.raises(InvalidParameterError, match="'header' parameter of csv_split"):
        csv_split(p, q, header="no")
    with pytest.raises(InvalidParameterError, match="header apply to CSV files"):
        prepare(sine(), header="none")


@pytest.mark.parametrize("kw,name", [(dict(train_points=1), "train_points"), (dict(test_points=0), "test_points"),
                                     (dict(train_points=1.5), "train_points"), (dict(scale="log"), "scale")])
def test_sine_split_checks_its_parameters(kw, name):
    from mae_ort.data import sine_split

    with pytest.raises(InvalidParameterError, match=f"'{name}' parameter of sine_split"):
        sine_split(**kw)


def test_delta_windows_hold_the_change_and_the_last_value():
    x = np.array([1.0, 4.0, 2.0, 7.0, 3.0, 3.5])
    w = windows(prepare(x), 2, target_form="delta")
    np.testing.assert_array_equal(w.X[:, :, 0], [[1, 4], [4, 2], [2, 7], [7, 3]])
    np.testing.assert_array_equal(w.last[:, 0], [4, 2, 7, 3])
    np.testing.assert_array_equal(w.y[:, 0], [2 - 4, 7 - 2, 3 - 7, 3.5 - 3])
    assert w.target_form == "delta" and windows(prepare(x), 2).target_form == "level"
    np.testing.assert_array_equal(windows(prepare(x), 2).last, w.last)  # level windows know the last value too
    # a target that is no input: the last value is still the target's own previous value
    data = np.column_stack([np.arange(6.0), 10 * x])
    v = windows(prepare(data, input=[0], target=[1]), 2, target_form="delta")
    np.testing.assert_array_equal(v.last[:, 0], 10 * x[1:-1])
    np.testing.assert_allclose(v.y[:, 0], 10 * (x[2:] - x[1:-1]))
    with pytest.raises(InvalidParameterError, match="'target_form' parameter of windows"):
        windows(prepare(x), 2, target_form="diff")


def test_delta_test_windows_start_from_the_training_parts_last_value():
    from mae_ort.data import sine_split, target_inputs

    split = sine_split(50, 10)
    te = split.test_windows(3, "delta")
    assert te.n == 10 and te.last[0, 0] == np.float32(split.train.targets[-1, 0])
    np.testing.assert_allclose(te.y[:, 0] + te.last[:, 0], split.test.targets[:, 0], atol=1e-6)
    assert target_inputs(split.train) == (0,)
    data = np.column_stack([np.arange(8.0), np.arange(8.0) ** 2])
    assert target_inputs(prepare(data, input=[0, 1], target=[1])) == (1,)
    assert target_inputs(prepare(data, input=[0], target=[1])) is None
