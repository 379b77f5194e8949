"""Strict list options: an empty item anywhere is one line naming the option and its position, before any work."""

from __future__ import annotations

import pytest

from mae_ort.errors import InvalidParameterError
from tests.conftest import one_line_error, run_cli

SCREEN = ["--units", "3", "--layers", "1", "--look-back", "2", "--samples", "4", "--workers", "1", "--quiet"]

#: (bad value, what the message says about it)
BAD = [("4,,4", "empty item 2 of 3 in '4,,4'"), ("4,", "empty item 2 of 2 in '4,'"), ("", "is empty (item 1 of 1"),
       (",", "empty item 1 of 2 in ','"), (" , 4", "empty item 1 of 2")]


def _cases():
    """(command line before the option, option, the rest): every list option of every command that has one."""
    sample = ["sample", "--samples", "4"]
    csv = ["--csv", "{csv}"]
    yield [*sample, "--arch"], []
    yield [*sample, "--arch", "3", *csv, "--input"], []
    yield [*sample, "--arch", "3", *csv, "--target"], []
    yield [*sample, "--arch", "3", "--scores"], []
    for command in ("screen", "search"):
        base = [command, "--db", "{db}", "--samples", "4", "--quiet"] + (["--trials", "1"] if command == "search"
                                                                           else ["--workers", "1"])
        yield [*base, "--layers", "1", "--look-back", "2", "--units"], []
        yield [*base, "--units", "3", "--look-back", "2", "--layers"], []
        yield [*base, "--units", "3", "--layers", "1", "--look-back"], []
        yield [*base, "--units", "3", "--units", "3", "--layers", "1", "--look-back", "2", "--units"], []
    yield ["screen", "--db", "{db}", *SCREEN, "--scores"], []
    for command in ("validate", "train"):
        yield [command, "--db", "{db}", "--epochs"], []
        yield [command, "--db", "{db}", "--depth"], []
        yield [command, "--db", "{db}", "--look-back"], []
    rest = {"rank": [], "export": ["--out", "{out}"], "plot": ["--out", "{out}", "--figure", "heatmap"]}
    for command, after in rest.items():
        yield [command, "--db", "{db}", "--look-back"], after
        yield [command, "--db", "{db}", "--depth"], after


CASES = list(_cases())


@pytest.mark.parametrize("bad,says", BAD, ids=["4,,4", "4,", "empty", "comma", "leading"])
@pytest.mark.parametrize("before,after", CASES, ids=[" ".join([c[0][0], c[0][-1]] + [str(i)]) for i, c in
                                                     enumerate(CASES)])
def test_an_empty_item_is_refused_naming_the_option_and_its_position(capsys, tmp_path, before, after, bad, says):
    path = tmp_path / "s.csv"
    path.write_text("a,b\n" + "".join(f"{i % 7},{i % 5}\n" for i in range(40)))
    fill = {"{db}": str(tmp_path / "r.sqlite"), "{csv}": str(path), "{out}": str(tmp_path / "out.png")}
    args = [fill.get(a, a) for a in before] + [bad] + [fill.get(a, a) for a in after]
    line = one_line_error(*run_cli(capsys, *args)[::2])
    assert f"The '{before[-1]}' option" in line and says in line
    assert not (tmp_path / "r.sqlite").exists()  # refused before any work: nothing stored


def test_the_library_parsers_refuse_an_empty_item_too():
    from mae_ort.model.architecture import Architecture, resolve
    from mae_ort.screening.space import grid, parse_ints
    from mae_ort.study.train import parse_epochs

    with pytest.raises(InvalidParameterError, match=r"'units' parameter of sample has an empty item 2 of 3 in '4,,4'"):
        resolve("4,,4")
    with pytest.raises(InvalidParameterError, match=r"'units' parameter of Architecture has an empty item 2 of 2"):
        Architecture("4,")
    with pytest.raises(InvalidParameterError, match=r"'units' parameter of Architecture must be comma-separated"):
        Architecture("3 1")  # no longer read as 31
    with pytest.raises(InvalidParameterError, match=r"'look_back' parameter of screen has an empty item 3 of 3"):
        parse_ints("1,2,", "look_back")
    with pytest.raises(InvalidParameterError, match=r"'units' parameter of grid has an empty item 1 of 2"):
        grid(units=",7")
    with pytest.raises(InvalidParameterError, match=r"'epochs' parameter of validate has an empty item 2 of 3"):
        parse_epochs("1,,100", "validate")
    assert resolve(" 4 , 5 ").units == (4, 5) and parse_ints("1:3, 7") == (1, 2, 3, 7)
    assert parse_epochs("100, 1") == (1, 100)


def test_good_lists_still_run(capsys, tmp_path):
    code, out, err = run_cli(capsys, "screen", "--db", tmp_path / "r.sqlite", "--units", "3, 4", "--layers", "1",
                             "--look-back", "1:2", "--samples", "4", "--workers", "1", "--quiet", "--scores",
                             "readout, lookback_ridge")
    assert code == 0, err
    assert "4 rows of grid" in out
