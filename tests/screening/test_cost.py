"""A space's cost before it runs: its largest member against the memory budget, its FLOPs, a first estimate."""

from __future__ import annotations

import pytest

from mae_ort.data import prepare, sine, windows
from mae_ort.errors import InvalidParameterError
from mae_ort.sampling.sampler import Sampler
from mae_ort.screening.cost import FLOPS_PER_THREAD, ROW_SECONDS, largest_rows, space_cost, space_flops
from mae_ort.screening.space import Grid, RowList, grid, preset_space
from tests.conftest import one_line_error, run_cli

SINE = prepare(sine(), name="sine")


@pytest.mark.parametrize("space", [
    grid(units=["3:9", "2,5,8", "4:6"], layers="1:3", look_back="1,4,7"),
    Grid(units=((3, 4), (5,)), depths=(1, 2), look_backs=(1, 3), cells=("lstm", "gru", "simple_rnn")),
    preset_space("paper-2layer"),
], ids=["3 layers", "3 cells", "paper-2layer"])
@pytest.mark.parametrize("n_in,n_out,length", [(1, 1, 1000), (2, 3, 50)])
def test_grid_flops_in_closed_form_equal_the_sum_over_its_rows(space, n_in, n_out, length):
    by_rows = sum(r.arch.flops(n_in, n_out, r.look_back, length - r.look_back) for r in space)
    assert space_flops(space, n_in, n_out, length) == by_rows
    assert space_flops(RowList(list(space)), n_in, n_out, length) == by_rows


@pytest.mark.parametrize("space", [
    grid(units=["3:9", "2,5,8", "4:6"], layers="1:3", look_back="1,4,7"),
    grid(units=["20", "3:5"], layers="1:2", look_back="2,3"),  # the one-layer member is the widest
    Grid(units=((3, 4), (5,)), depths=(1, 2), look_backs=(1, 3), cells=("lstm", "gru", "simple_rnn")),
], ids=["3 layers", "wide first layer", "3 cells"])
@pytest.mark.parametrize("readout", [False, True])
def test_the_largest_member_is_the_row_needing_the_most_memory(space, readout):
    sampler = Sampler(readout=readout)
    need = lambda r: sampler.bytes_per_sample(r.arch, windows(SINE, r.look_back))  # noqa: E731
    most = max(need(r) for r in space)
    assert max(need(r) for r in largest_rows(space)) == most
    cost = space_cost(space, SINE, samples=10, sampler=sampler)
    assert cost.bytes_per_sample == most and need(cost.largest) == most and cost.rows == len(space)
    assert cost.flops == 10 * space_flops(space, 1, 1, 1000)


def test_a_space_whose_largest_member_cannot_fit_is_refused_with_the_sample_message():
    g = grid(units="1:100000", layers="1", look_back="2")
    big = Sampler()
    with pytest.raises(InvalidParameterError) as e:
        space_cost(g, SINE, samples=10, sampler=big)
    with pytest.raises(InvalidParameterError) as direct:  # what sample --arch 100000 says
        big.chunk_for(g._row("lstm", (100000,), 2).arch, windows(SINE, 2), 10, None)
    assert str(e.value) == str(direct.value) and "lstm[100000]" in str(e.value)
    ok = space_cost(grid(units="1:100", look_back="2"), SINE, samples=10, sampler=big)
    assert ok.largest.arch.units == (100,)


def test_the_first_time_estimate_follows_the_cost_model():
    cost = space_cost(grid(units="7:9", look_back="1,2"), SINE, samples=50, sampler=Sampler())
    want = cost.flops / (2 * FLOPS_PER_THREAD) + cost.rows * ROW_SECONDS / 2
    assert cost.seconds(2) == pytest.approx(want, rel=1e-12)
    assert cost.seconds(1, rows=3) == pytest.approx(cost.flops / 2 / FLOPS_PER_THREAD + 3 * ROW_SECONDS)
    line = cost.describe(2)
    assert line.startswith("6 rows x 50 samples, about ") and "largest lstm[9] lb=1" in line and "on 2 threads" in line


@pytest.mark.parametrize("command", ["screen", "search"])
def test_screen_and_search_refuse_a_space_that_cannot_fit_at_once_storing_nothing(capsys, tmp_path, command):
    db = tmp_path / "r.sqlite"
    extra = ["--workers", "1"] if command == "screen" else ["--trials", "3"]
    code, _, err = run_cli(capsys, command, "--units", "1:100000", "--layers", "1", "--look-back", "2", "--samples",
                           "10", "--db", db, *extra)
    line = one_line_error(code, err)
    assert "below what one weight sample of lstm[100000] at look_back=2 needs" in line
    assert not db.exists()


def test_the_library_screen_and_search_refuse_it_too(tmp_path):
    from mae_ort import screen
    from mae_ort.search import search

    db = tmp_path / "r.sqlite"
    g = grid(units="1:100000", look_back="2")
    for run in (lambda: screen(g, store=db, samples=10, workers=1), lambda: search(g, db=db, samples=10, trials=2)):
        with pytest.raises(InvalidParameterError, match="lstm.100000. at look_back=2"):
            run()
        assert not db.exists()


@pytest.mark.parametrize("command", ["screen", "search"])
def test_screen_and_search_print_the_size_and_a_first_estimate(capsys, tmp_path, command):
    extra = ["--workers", "1"] if command == "screen" else ["--trials", "2"]
    code, _, err = run_cli(capsys, command, "--units", "3:4", "--layers", "1", "--look-back", "1,2", "--samples", "5",
                           "--db", tmp_path / "r.sqlite", *extra)
    assert code == 0, err
    first = next(line for line in err.splitlines() if line.startswith(f"{command}: "))  # under the space's line
    if command == "screen":
        assert first.startswith("screen: 4 rows x 5 samples, about ") and "largest lstm[4] lb=1" in first
    else:
        assert first.startswith("search: 2 trials x 5 samples, about ") and first.endswith("of 4 rows")
    assert "first estimate" in first
    code, _, err = run_cli(capsys, command, "--units", "3:4", "--layers", "1", "--look-back", "1,2", "--samples", "5",
                           "--db", tmp_path / "r.sqlite", "--quiet", *extra)
    assert code == 0 and "first estimate" not in err
