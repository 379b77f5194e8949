"""The grid as Optuna parameters: distributions, depth-conditional widths, rows <-> parameters."""

from __future__ import annotations

import optuna
import pytest
from optuna.distributions import CategoricalDistribution, IntDistribution

from mae_ort.errors import InvalidParameterError
from mae_ort.screening import RowList, grid
from mae_ort.search.space import SearchSpace

optuna.logging.set_verbosity(optuna.logging.WARNING)


def test_distributions_are_int_for_progressions_and_categorical_otherwise():
    sp = SearchSpace(grid(units=["7:31:2", "3,5,9"], layers="1:3", look_back="1,10,20,30", cell=["lstm", "gru"]))
    d = sp.distributions()
    assert list(d) == ["cell", "depth", "u1", "u2", "u3", "look_back"]
    assert d["depth"] == IntDistribution(1, 3)
    assert d["u1"] == IntDistribution(7, 31, step=2)
    assert d["u2"] == CategoricalDistribution((3, 5, 9)) == d["u3"]  # deeper layers repeat the last choices
    assert d["look_back"] == CategoricalDistribution((1, 10, 20, 30))
    assert d["cell"] == CategoricalDistribution(("lstm", "gru"))
    single = SearchSpace(grid(units="5", layers="2", look_back="3")).distributions()
    assert "cell" not in single and single["depth"] == IntDistribution(2, 2) and single["u2"] == IntDistribution(5, 5)


def test_every_trial_names_a_row_of_the_grid_with_only_its_depths_widths():
    g = grid(units="3:6", layers="1:3", look_back="1,4", preset="paper")
    sp = SearchSpace(g)
    keys = set(g.keys())
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    rows = []
    for _ in range(40):
        t = study.ask()
        row = sp.suggest(t)
        study.tell(t, 0.0)
        rows.append(row)
        assert row.key in keys
        assert set(t.params) == {"depth", "look_back", *[f"u{k}" for k in range(1, row.arch.depth + 1)]}
        assert sp.params(row) == t.params and sp.from_params(t.params) == row
    assert {r.arch.depth for r in rows} == {1, 2, 3}
    assert all(r.arch.recurrent_activation == "hard_sigmoid_keras2" for r in rows)  # the grid's model


def test_from_params_refuses_rows_outside_the_grid():
    sp = SearchSpace(grid(units="3:6", layers="1:2", look_back="1,4"))
    assert sp.from_params({"depth": 2, "u1": 3, "u2": 6, "look_back": 4}) is not None
    assert sp.from_params({"depth": 2, "u1": 3, "u2": 7, "look_back": 4}) is None  # 7 units: not a choice
    assert sp.from_params({"depth": 3, "u1": 3, "u2": 3, "u3": 3, "look_back": 4}) is None
    assert sp.from_params({"depth": 1, "u1": 3, "look_back": 2}) is None
    assert sp.from_params({"x": 1.0}) is None


def test_only_grids_have_parameters():
    with pytest.raises(InvalidParameterError, match="must be a Grid"):
        SearchSpace(RowList([]))
    assert len(SearchSpace("paper-2layer")) == 2500
