"""Search spaces: presets and their sizes, range parsing, subsets, row keys and seeds, row files."""

from __future__ import annotations

import json

import pytest

from mae_ort.errors import DataError, InvalidParameterError, MaeOrtError
from mae_ort.model.architecture import PRESETS, Architecture
from mae_ort.screening.space import (
    SPACE_PRESETS,
    Grid,
    Row,
    RowList,
    as_space,
    grid,
    parse_ints,
    preset_space,
    read_rows,
    row_seed,
)


@pytest.mark.parametrize("name, rows, archs", [
    ("paper-1layer", 3000, 100),
    ("paper-2layer", 2500, 625),
    ("paper-3layer", 62500, 15625),
])
def test_paper_presets_have_the_paper_sizes(name, rows, archs):
    space = preset_space(name)
    assert len(space) == rows  # computed from the ranges, nothing enumerated
    assert space.architectures_per_cell() == archs
    assert space.recurrent_activation == PRESETS["paper"]["recurrent_activation"] == "hard_sigmoid_keras2"
    assert space.cells == ("lstm",) and space.head_activation == "tanh"


def test_paper_presets_look_backs_and_units():
    two = preset_space("paper-2layer")
    assert two.look_backs == (1, 10, 20, 30) and two.depths == (2,)
    assert two.units == (tuple(range(7, 32)),)
    one = preset_space("paper-1layer")
    assert one.look_backs == tuple(range(1, 31)) and one.units == (tuple(range(1, 101)),)


def test_preset_overrides_replace_parts():
    s = preset_space("paper-2layer", look_back="1", cell="gru")
    assert len(s) == 625 and s.cells == ("gru",) and s.recurrent_activation == "hard_sigmoid_keras2"


def test_grid_counts_depth_ranges_without_enumerating():
    g = grid(units="7:31", layers="1:3", look_back="1,10,20,30", cell="lstm")
    assert len(g) == (25 + 25**2 + 25**3) * 4


def test_grid_per_layer_units_and_iteration_match_len():
    g = grid(units=["3:5", "2"], layers="1:3", look_back="1,2")
    rows = list(g)
    assert len(rows) == len(g) == (3 + 3 * 1 + 3 * 1 * 1) * 2
    assert {r.arch.units for r in rows if r.arch.depth == 3} == {(3, 2, 2), (4, 2, 2), (5, 2, 2)}
    assert list(g.keys()) == [r.key for r in rows]


def test_rows_come_grouped_by_family_and_look_back():
    rows = list(grid(units="3:5", layers="1:2", look_back="1,2,3", cell="lstm"))
    groups = [r.group for r in rows]
    changes = sum(1 for a, b in zip(groups, groups[1:]) if a != b)
    assert changes + 1 == len(set(groups)) == 6


@pytest.mark.parametrize("text, expected", [
    ("7:31", tuple(range(7, 32))),
    ("7:31:2", tuple(range(7, 32, 2))),
    ("7,15,31", (7, 15, 31)),
    ("1,10:12, 30", (1, 10, 11, 12, 30)),
    ("5", (5,)),
    ("3,3,1", (1, 3)),
    (4, (4,)),
    ([2, 1], (1, 2)),
    (range(1, 4), (1, 2, 3)),
])
def test_parse_ints(text, expected):
    assert parse_ints(text) == expected


@pytest.mark.parametrize("text, fragment", [
    ("7:", "must look like"),
    (":7", "must look like"),
    ("a", "must look like"),
    ("", "must look like"),
    ("1,,2", "empty item 2 of 3"),
    ("7:31:0", "step"),
    ("31:7", "ends below its start"),
    ("0:3", "range [1, inf)"),
    ("1:2:3:4", "must look like"),
    ("1.5", "must look like"),
])
def test_parse_ints_errors_are_one_clear_line(text, fragment):
    with pytest.raises(InvalidParameterError) as e:
        parse_ints(text, "units", "screen")
    msg = str(e.value)
    assert fragment in msg and "\n" not in msg and "'units'" in msg


def test_unknown_preset_and_bad_model():
    with pytest.raises(InvalidParameterError, match="paper-1layer"):
        preset_space("paper-4layer")
    with pytest.raises(InvalidParameterError, match="cell"):
        grid(units="3", cell="transformer")
    with pytest.raises(InvalidParameterError, match="preset"):
        grid(units="3", preset="keras1")


def test_empty_spaces_are_refused():
    with pytest.raises(InvalidParameterError):
        Grid(units=((),), depths=(1,), look_backs=(1,))
    with pytest.raises(InvalidParameterError):
        Grid(units=((3,),), depths=(1,), look_backs=(1,), cells=())
    assert len(RowList([])) == 0  # screen() refuses it (tests/test_screen.py)


def test_row_key_seed_and_label():
    r = Row(Architecture((31, 31), cell="lstm", recurrent_activation="hard_sigmoid_keras2"), 10)
    assert r.key == ("lstm", "tanh", "hard_sigmoid_keras2", "tanh", "31,31", 10)
    assert r.key_text() == "lstm/tanh/hard_sigmoid_keras2/tanh/31,31/lb10"
    s = r.seed(0)
    assert s == row_seed(0, r) == r.seed(0) and 0 <= s < 2**63
    assert r.seed(1) != s
    other = Row(Architecture((31, 31), cell="lstm", recurrent_activation="hard_sigmoid_keras2"), 20)
    assert other.seed(0) != s
    # A pure function of the key: an equal row built anew has the same seed.
    assert Row(Architecture([31, 31], recurrent_activation="hard_sigmoid_keras2"), 10).seed(0) == s
    with pytest.raises(InvalidParameterError):
        Row(Architecture((3,)), 0)


def test_subset_is_deterministic_nested_and_order_free():
    g = grid(units="3:9", layers="1:2", look_back="1,2,3")
    a = g.subset(20, seed=1)
    assert len(a) == 20 and a == g.subset(20, seed=1)
    assert set(a.keys()) <= set(g.keys())
    assert set(g.subset(20, seed=2).keys()) != set(a.keys())
    # The choice depends on keys only: reversed enumeration, same subset.
    assert RowList(list(g)[::-1]).subset(20, seed=1) == a
    # Nested: a larger subset contains the smaller one.
    assert set(a.keys()) <= set(g.subset(40, seed=1).keys())
    # Asking for more than there is returns everything.
    assert len(g.subset(10**6, seed=0)) == len(g)


def test_subset_of_the_large_preset_is_quick_and_stable():
    s = preset_space("paper-3layer").subset(50, seed=1)
    assert len(s) == 50
    assert list(s.keys()) == list(preset_space("paper-3layer").subset(50, seed=1).keys())
    assert all(r.arch.recurrent_activation == "hard_sigmoid_keras2" for r in s)
    with pytest.raises(InvalidParameterError):
        preset_space("paper-3layer").subset(0, seed=1)


def test_read_rows_csv_and_jsonl(tmp_path):
    csv = tmp_path / "rows.csv"
    csv.write_text('units,look_back\n"31,31",10\n7,1\n"31,31",10\n')
    rows = read_rows(csv, preset="paper")
    assert len(rows) == 2  # the duplicate is dropped
    assert {r.key[4:] for r in rows} == {("31,31", 10), ("7", 1)}
    assert all(r.arch.recurrent_activation == "hard_sigmoid_keras2" for r in rows)

    jl = tmp_path / "rows.jsonl"
    jl.write_text(json.dumps({"units": [5, 4], "look_back": 3, "cell": "gru"}) + "\n\n"
                  + json.dumps({"units": "6", "look_back": 2}) + "\n")
    rows = list(read_rows(jl))
    assert [(r.arch.cell, r.units, r.look_back) for r in rows] == [("gru", "5,4", 3), ("lstm", "6", 2)]


@pytest.mark.parametrize("content, suffix, fragment", [
    ("units\n3\n", ".csv", "look_back"),
    ('units,look_back\n"3,x",2\n', ".csv", "line 2"),
    ("units,look_back\n3,0\n", ".csv", "line 2"),
    ('{"units": [3]}\n', ".jsonl", "line 1"),
    ("{not json\n", ".jsonl", "not JSON"),
    ("units,look_back\n", ".csv", "no rows"),
])
def test_read_rows_errors_name_the_line(tmp_path, content, suffix, fragment):
    p = tmp_path / f"bad{suffix}"
    p.write_text(content)
    with pytest.raises(DataError, match=fragment):
        read_rows(p)


def test_read_rows_missing_file(tmp_path):
    with pytest.raises(DataError, match="no such file"):
        read_rows(tmp_path / "nope.csv")


def test_as_space():
    assert len(as_space("paper-2layer")) == 2500
    g = grid(units="3")
    assert as_space(g) is g
    rows = list(g)
    assert len(as_space(rows)) == len(rows)
    with pytest.raises(MaeOrtError):
        as_space(3)
    assert set(SPACE_PRESETS) == {"paper-1layer", "paper-2layer", "paper-3layer"}


def test_read_rows_json_array(tmp_path):
    p = tmp_path / "rows.json"
    p.write_text(json.dumps([{"units": "7,7", "look_back": 1}, {"units": [9], "look_back": 30}]))
    assert [r.key[4:] for r in read_rows(p)] == [("9", 30), ("7,7", 1)]  # grouped: depth 1 first


# -- issue 10: spaces too large to enumerate ----------------------------------------------------------

def test_a_range_of_more_values_than_max_rows_is_refused_before_it_is_made():
    import time

    from mae_ort.screening.space import MAX_ROWS

    t0 = time.perf_counter()
    with pytest.raises(InvalidParameterError, match=f"at most {MAX_ROWS:,} rows") as e:
        parse_ints("1:100000000", "units", "screen")
    with pytest.raises(InvalidParameterError, match="MAX_ROWS"):
        parse_ints("1:6000000,6000001:12000000")  # the parts together
    with pytest.raises(InvalidParameterError, match="MAX_ROWS"):
        parse_ints(range(1, 10**9))
    assert time.perf_counter() - t0 < 1 and "\n" not in str(e.value) and "'units'" in str(e.value)
    with pytest.raises(InvalidParameterError, match="MAX_ROWS"):
        parse_ints(f"1:{MAX_ROWS + 1}")  # one more than the limit


def test_check_size_counts_without_enumerating():
    from mae_ort.screening.space import MAX_ROWS, check_size

    g = grid(units="7:31", layers="1:3")
    assert check_size(g) == len(g) == g.size()
    huge = grid(units="7:31", layers="1:50")
    assert huge.size() == sum(25**d for d in range(1, 51)) * 4  # beyond sys.maxsize: len() could not say it
    assert "3.29e+70 rows" in huge.describe()
    with pytest.raises(InvalidParameterError, match=f"3.29e\\+70 rows; a screen enumerates them all, and at most "
                                                    f"{MAX_ROWS:,}"):
        check_size(huge)
    with pytest.raises(InvalidParameterError, match="a random subset"):
        huge.subset(5, seed=0)
