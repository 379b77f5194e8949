"""RESN as an Optuna sampler: Optuna's own sampler contract, seeding, the operators, the schedule, the adaptation."""

from __future__ import annotations

import numpy as np
import optuna
import pytest
from optuna.testing.pytest_samplers import BasicSamplerTestCase

from mae_ort.errors import InvalidParameterError
from mae_ort.screening import grid
from mae_ort.search.resn import TAG, Individual, RESNSampler, improved, replace_plus
from mae_ort.search.space import SearchSpace

optuna.logging.set_verbosity(optuna.logging.WARNING)

GRID = grid(units="3:20", layers="1:3", look_back="1,10,20,30")


def _toy(space):
    """A smooth toy fitness on the grid (no MRS): best at two layers of 15 units, look-back 20."""
    def f(trial):
        r = space.suggest(trial)
        return -abs(r.look_back - 20) - sum(abs(u - 15) for u in r.arch.units) - 3 * abs(r.arch.depth - 2)
    return f


class TestRESNMeetsOptunasSamplerContract(BasicSamplerTestCase):
    @pytest.fixture
    def sampler(self):
        return lambda: RESNSampler(GRID, seed=0)


def test_the_same_seed_gives_the_same_trials_and_another_seed_others():
    space = SearchSpace(GRID)

    def run(seed):
        study = optuna.create_study(direction="maximize", sampler=RESNSampler(space, seed=seed))
        study.optimize(_toy(space), n_trials=30)
        return [t.params for t in study.trials]

    a, b, c = run(7), run(7), run(8)
    assert a == b
    assert a != c


def test_a_resumed_study_continues_the_same_strategy():
    space = SearchSpace(GRID)
    whole = optuna.create_study(direction="maximize", sampler=RESNSampler(space, seed=3))
    whole.optimize(_toy(space), n_trials=24)
    storage = optuna.storages.InMemoryStorage()
    first = optuna.create_study(study_name="s", storage=storage, direction="maximize",
                                sampler=RESNSampler(space, seed=3))
    first.optimize(_toy(space), n_trials=11)
    again = optuna.load_study(study_name="s", storage=storage, sampler=RESNSampler(space, seed=3))  # a new process
    again.optimize(_toy(space), n_trials=13)
    assert [t.params for t in again.trials] == [t.params for t in whole.trials]


def test_mutation_stays_in_the_grid_and_steps_up_to_max_step_positions():
    g = grid(units=["7:31:2", "3,5,9,40"], layers="1,3", look_back="1,10,20,30", cell=["lstm", "gru"])
    s = RESNSampler(g, seed=0)
    rng = np.random.default_rng(0)
    for _ in range(300):  # huge steps, everything mutates: every child is still a row of the grid
        parent = s.random_individual(rng)
        child = s.mutate(parent, rng, p_mutation=1.0, p_length=1.0, max_step=40.0)
        assert s.space.contains(s.space.row(units=child.units, look_back=child.look_back, cell=child.cell))
    s = RESNSampler(grid(units="1:30", layers="2", look_back="1:30"), seed=0)
    moves = set()
    for _ in range(2000):  # every gene moves by 1..3 positions (clipped at the ends), the depth stays
        parent = Individual(15, (15, 15), "lstm")
        child = s.mutate(parent, rng, p_mutation=1.0, p_length=0.0, max_step=3.9)
        for a, b in zip(parent.genes, child.genes):
            moves.add(b - a)
    assert moves == {-3, -2, -1, 1, 2, 3}  # never 0 when a gene mutates; max_step itself is reached


def test_length_mutation_copies_or_deletes_a_layer_gene_never_the_look_back():
    s = RESNSampler(grid(units="1:50", layers="1:6", look_back="1:30"), seed=0)
    rng = np.random.default_rng(1)
    seen = set()
    for _ in range(500):
        units = tuple(int(u) for u in rng.integers(1, 51, size=int(rng.integers(2, 6))))
        parent = Individual(17, units, "lstm")
        child = s.mutate(parent, rng, p_mutation=0.0, p_length=1.0, max_step=5)
        assert child.look_back == 17
        if len(child.units) == len(units) + 1:
            seen.add("copy")
            assert any(child.units == units[:i] + (units[i],) + units[i:] for i in range(len(units)))
        else:
            seen.add("delete")
            assert len(child.units) == len(units) - 1
            assert any(child.units == units[:i] + units[i + 1:] for i in range(len(units)))
    assert seen == {"copy", "delete"}


def test_repair_goes_to_the_nearest_allowed_depth_and_choices():
    s = RESNSampler(grid(units=["8:16:4", "5,50"], layers="2,4", look_back="1,10,20,30"), seed=0)
    assert s.repair(Individual(14, (9,), "lstm")) == Individual(10, (8, 5), "lstm")  # depth 1 -> 2, smallest added
    assert s.repair(Individual(26, (15, 30, 27, 5, 5), "lstm")) == Individual(30, (16, 50, 5, 5), "lstm")


def test_improvement_follows_the_direction():
    assert improved(-3.0, -5.0, maximize=True) and not improved(-5.0, -3.0, maximize=True)
    assert improved(-5.0, -3.0, maximize=False) and not improved(-3.0, -5.0, maximize=False)
    assert not improved(2.0, 2.0, maximize=True) and not improved(2.0, 2.0, maximize=False)


@pytest.mark.parametrize("direction,sign,up", [("maximize", 1, True), ("minimize", -1, True),
                                               ("maximize", -1, False), ("minimize", 1, False)])
def test_self_adaptation_multiplies_when_the_mean_improves_and_divides_otherwise(direction, sign, up):
    # value = sign * trial number: each offspring is better (or worse) than every member before it, so the
    # population mean improves at every generation (or never changes).  The reference code's `diff <= 0`
    # test would call a rising mean of a maximised target "no improvement".
    space = SearchSpace(GRID)
    s = RESNSampler(space, seed=0, evaluations=20, restarts=0)
    study = optuna.create_study(direction=direction, sampler=s)

    def f(trial):
        space.suggest(trial)
        return sign * trial.number

    study.optimize(f, n_trials=20)
    state = s.state(study)
    n = 20 // 2 - 2  # generations 1..9 of two offspring; the first one only records the mean
    assert state.adaptations == [up] * n
    if up:
        assert state.p_mutation == pytest.approx(min(1.0, 0.2 * 1.5 ** n))
        assert state.max_step == pytest.approx(5 * 1.5 ** n)
    else:
        assert state.p_mutation == pytest.approx(max(1e-9, 0.2 / 4 ** n))
        assert state.max_step == 1.0


def test_elitist_plus_replacement_and_binary_tournament():
    a, b, c, d = (Individual(1, (1,), "lstm", v, i) for i, v in enumerate([3.0, 1.0, 2.0, 3.0]))
    assert replace_plus([a, b], [c, d], 2, maximize=True) == [a, d]  # a tie keeps the older member first
    assert replace_plus([a, b], [c, d], 2, maximize=False) == [b, c]
    rng = np.random.default_rng(5)
    wins = sum(RESNSampler.tournament([a, b], rng, maximize=True) is a for _ in range(4000))
    assert abs(wins / 4000 - 0.75) < 0.03  # the better of two members wins unless both draws are the worse


def test_schedule_restarts_with_migration():
    space = SearchSpace(GRID)
    s = RESNSampler(space, seed=1, evaluations=6, migration=1)
    study = optuna.create_study(direction="maximize", sampler=s)
    study.optimize(_toy(space), n_trials=6)
    best_of_run0 = max(study.trials, key=lambda t: t.value)
    study.optimize(_toy(space), n_trials=8)
    tags = [(t.system_attrs[TAG]["run"], t.system_attrs[TAG]["gen"]) for t in study.trials]
    assert tags == [(0, 0)] * 2 + [(0, 1)] * 2 + [(0, 2)] * 2 + [(1, 0)] + [(1, 1)] * 2 + [(1, 2)] * 2 + [(2, 0)] \
        + [(2, 1)] * 2
    # the migrant: run 1 starts from the best of run 0 plus one new random row
    s_after = RESNSampler(space, seed=1, evaluations=6, migration=1)
    part = optuna.create_study(direction="maximize", sampler=s_after)
    for t in study.trials[:7]:
        part.add_trial(t)
    pop = s_after.state(part).population
    assert best_of_run0.number in {ind.number for ind in pop} and 6 in {ind.number for ind in pop}


def test_parallel_asks_join_the_running_generation_and_failures_join_no_population():
    space = SearchSpace(GRID)
    s = RESNSampler(space, seed=2)
    study = optuna.create_study(direction="maximize", sampler=s)
    asked = [study.ask() for _ in range(5)]
    rows = [space.suggest(t) for t in asked]
    assert [t.system_attrs[TAG] for t in study.trials] == [{"run": 0, "gen": 0, "slot": i} for i in range(5)]
    for i, (t, r) in enumerate(zip(asked, rows)):
        if i == 4:
            study.tell(t, state=optuna.trial.TrialState.FAIL)
        else:
            study.tell(t, float(i))
    state = s.state(study)
    assert (state.run, state.gen, state.evals) == (0, 1, 5)
    assert [ind.number for ind in state.population] == [3, 2]


def test_bad_settings_are_refused():
    with pytest.raises(InvalidParameterError, match="'migration' parameter of RESNSampler"):
        RESNSampler(GRID, population=2, migration=3)
    with pytest.raises(InvalidParameterError, match="'evaluations' parameter"):
        RESNSampler(GRID, population=4, evaluations=3)
    study = optuna.create_study(directions=["maximize", "minimize"], sampler=RESNSampler(GRID))
    with pytest.raises(ValueError, match="single-objective"):
        study.optimize(lambda t: (float(SearchSpace(GRID).suggest(t).look_back), 2.0), n_trials=1, catch=())
    assert RESNSampler(GRID, p_mutation=0.3).p_length == 0.3  # the reference uses one value for both
