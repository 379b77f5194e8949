"""RESN: the self-adaptive (mu+lambda) evolution strategy of Camero, Toutouh and Alba, as an Optuna sampler.

A. Camero, J. Toutouh, E. Alba, "Random error sampling-based recurrent neural network
architecture optimization", *Engineering Applications of Artificial Intelligence* 96
(2020) 103946; reference code ``dlopt/architecture/contrib.py``
(``SelfAdjMuPLambdaUniform``) and ``dlopt/ea.py`` of https://github.com/acamero/dlopt.

The algorithm, as implemented here
----------------------------------
* **Encoding** ``[look_back, h1, ..., hk]`` (plus the cell when the grid has several).
* **Initial population**: ``population`` (mu) random rows of the grid (uniform depth,
  uniform units per layer, uniform look-back).
* **Offspring** (lambda per generation): a parent chosen by **binary tournament** (two
  members drawn with replacement, the better one wins; a tie goes to the second), then
  **mutated**: every gene (the look-back included) moves with probability
  ``p_mutation`` by a uniform step of 1 ... ``max_step`` positions, up or down with
  equal chance; then, with probability ``p_length``, one random *layer* gene is copied
  (inserted next to itself) or deleted (never the look-back gene), which changes the
  depth.  The child is then **repaired** into the grid: a depth outside the grid's
  depths goes to the nearest allowed depth (missing layers get the layer's smallest
  choice, extra layers are dropped from the top, as the reference's
  ``validate_solution``), and each layer's units snap to the nearest allowed choice.
* **Replacement**: elitist plus-replacement, the best mu of parents and offspring (a tie
  keeps the older member).
* **Self-adaptation**, after each offspring generation: when the population's mean
  fitness *improved* on the previous generation's, ``p_mutation``, ``p_length`` (capped
  at 1) and ``max_step`` are multiplied by 1.5, otherwise divided by 4 (floored at
  1e-9 and 1).  "Improved" follows the study's direction: a larger mean when
  maximising, a smaller one when minimising; an unchanged mean is not an improvement.
  The reference code's test reads ``diff <= 0`` for both directions, which for its
  maximised ``log_p`` target rewards generations that did *not* improve; that bug is
  not reproduced.
* **Restarts with migration**: after ``evaluations`` evaluations (the initial
  population, migrants included, and every offspring) the run restarts with the best
  ``migration`` members and ``population - migration`` new random rows.

Settings of the reference code (``publications/low-cost/opt/opt-mrs-energy.json``),
the defaults here: mu = 2, lambda = 2, ``p_mutation`` = ``p_length`` = 0.2,
``max_step`` = 5, 10 evaluations per run, 2 restarts, 1 migrant (on 1-5 layers of
13-52 units and look-back 2-30).  Differences, on purpose:

* an Optuna study decides how many trials run, so ``restarts=None`` (the default here)
  restarts every ``evaluations`` evaluations until the study stops; ``restarts=2`` is
  the reference's schedule, after which the last run goes on;
* the mutation parameters start afresh at every restart (``keep_adaptation=False``);
  the reference keeps them across its two restarts;
* steps count *positions in the sorted choices*, so they equal the reference's value
  steps on contiguous ranges (its spaces) and can still leave a sparse choice such as
  look-back ``1,10,20,30``; the reference draws ``max(1, randint(0, max_step))``, which
  never reaches ``max_step`` itself: here 1 ... ``floor(max_step)`` are equally likely.

How it runs inside Optuna
-------------------------
``sample_relative`` proposes the whole trial (``cell``, ``depth``, ``u1..u{depth}``,
``look_back``: :class:`~mae_ort.search.space.SearchSpace`'s parameters) and tags the
trial with its place in the strategy (run, generation, slot) as the system attribute
``mae_ort:resn``.  The strategy's state is never held in memory: every proposal
replays the study's tagged trials, so a resumed study, a new process or several
processes continue the same strategy.  A generation is complete when all its trials
have finished (a failed trial counts as an evaluation but joins no population); asks
that arrive while the current generation is still running (parallel workers) add
offspring to that generation.  Every random draw comes from
``numpy.random.default_rng([seed, run, generation, slot])``: the same seed gives the
same trials.  Parameters that are not the grid's are sampled by a seeded
``RandomSampler``; trials that RESN did not propose (enqueued ones) are ignored.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np
from optuna.samplers import BaseSampler, RandomSampler
from optuna.study import StudyDirection
from optuna.trial import TrialState

from .._checks import check_int, check_real, check_seed
from .space import PARAM_CELL, PARAM_DEPTH, PARAM_LOOK_BACK, as_search_space, unit_param

__all__ = ["RESNSampler", "Individual", "RESNState", "TAG"]

#: The trial system attribute that places a trial in the strategy: ``{"run", "gen", "slot"}``.
TAG = "mae_ort:resn"

_P_FLOOR = 1e-9


@dataclass(frozen=True)
class Individual:
    """One member of the population: a row of the grid and its fitness.

    Attributes
    ----------
    look_back : int
    units : tuple of int
    cell : str
    value : float or None
        The trial's objective value (``None`` before evaluation).
    number : int or None
        The trial's number.
    """

    look_back: int
    units: tuple
    cell: str
    value: float | None = None
    number: int | None = None

    @property
    def genes(self) -> list:
        """The encoding ``[look_back, h1, ..., hk]``."""
        return [self.look_back, *self.units]


@dataclass
class RESNState:
    """Where the strategy stands (replayed from a study's trials by :meth:`RESNSampler.state`).

    Attributes
    ----------
    run, gen : int
        The current run (0 before the first restart) and generation (0: the initial population).
    evals : int
        Evaluations of this run so far (migrants included, as the reference counts them).
    population : list of Individual
        Best first.
    p_mutation, p_length, max_step : float
        The self-adapted mutation parameters.
    last_mean : float or None
        The population's mean fitness after the previous offspring generation.
    adaptations : list of bool
        Every self-adaptation so far: ``True`` where the mean improved (x1.5), ``False`` (/4).
    """

    run: int = 0
    gen: int = 0
    evals: int = 0
    population: list = field(default_factory=list)
    p_mutation: float = 0.2
    p_length: float = 0.2
    max_step: float = 5.0
    last_mean: float | None = None
    adaptations: list = field(default_factory=list)


def improved(mean: float, last: float, *, maximize: bool) -> bool:
    """Whether a population mean ``mean`` improves on ``last``: larger when maximising, smaller when minimising.

    (The reference code's ``diff <= 0`` for both directions is wrong for maximised targets.)
    """
    return mean > last if maximize else mean < last


def _better(a: Individual, b: Individual, maximize: bool) -> bool:
    return a.value > b.value if maximize else a.value < b.value


def replace_plus(population: list, offspring: list, mu: int, *, maximize: bool) -> list:
    """Elitist plus-replacement: the best ``mu`` of ``population + offspring``, best first (ties keep the older)."""
    sign = -1.0 if maximize else 1.0
    return sorted(population + offspring, key=lambda ind: sign * ind.value)[:mu]


class RESNSampler(BaseSampler):
    """RESN (Camero, Toutouh, Alba, EAAI 96 (2020) 103946) as an Optuna sampler (see the module docstring).

    Parameters
    ----------
    space : Grid, SearchSpace or str
        The grid whose rows the strategy proposes (trial parameters of
        :class:`~mae_ort.search.space.SearchSpace`).
    seed : int, optional
        Seed of every draw (default: a fresh random seed).
    population : int
        mu, the population size (reference: 2).
    offspring : int
        lambda, offspring per generation (reference: 2).
    p_mutation : float
        Initial probability that a gene moves (reference ``p_mutation_i``: 0.2).
    p_length : float, optional
        Initial probability of copying or deleting a layer gene (reference
        ``p_mutation_e``: 0.2; default: ``p_mutation``).
    max_step : float
        Initial largest step, in positions of a gene's sorted choices (reference: 5).
    evaluations : int
        Evaluations per run before a restart (reference ``max_eval``: 10).
    restarts : int, optional
        Restarts (reference: 2); ``None`` (default) restarts until the study stops.
    migration : int
        Best members carried into a restart (reference: 1); at most ``population``.
    adapt : bool
        Self-adapt the mutation parameters (reference: yes).
    keep_adaptation : bool
        Carry the adapted parameters across restarts (the reference does; default: start afresh).

    Examples
    --------
    >>> import optuna
    >>> from mae_ort.screening import grid
    >>> from mae_ort.search import RESNSampler, SearchSpace
    >>> space = SearchSpace(grid(units="3:9", layers="1:2", look_back="1:5"))
    >>> study = optuna.create_study(direction="maximize", sampler=RESNSampler(space, seed=0))
    >>> study.optimize(lambda t: -abs(space.suggest(t).look_back - 3), n_trials=12)
    """

    def __init__(self, space, *, seed: int | None = None, population: int = 2, offspring: int = 2,
                 p_mutation: float = 0.2, p_length: float | None = None, max_step: float = 5.0,
                 evaluations: int = 10, restarts: int | None = None, migration: int = 1, adapt: bool = True,
                 keep_adaptation: bool = False) -> None:
        caller = "RESNSampler"
        self.space = as_search_space(space)
        self.population = check_int(population, "population", caller, low=1)
        self.offspring = check_int(offspring, "offspring", caller, low=1)
        self.p_mutation = check_real(p_mutation, "p_mutation", caller, low=0.0, high=1.0)
        self.p_length = self.p_mutation if p_length is None else check_real(p_length, "p_length", caller, low=0.0,
                                                                             high=1.0)
        self.max_step = check_real(max_step, "max_step", caller, low=1.0)
        self.evaluations = check_int(evaluations, "evaluations", caller, low=self.population)
        self.restarts = None if restarts is None else check_int(restarts, "restarts", caller, low=0)
        self.migration = check_int(migration, "migration", caller, low=0, high=self.population)
        self.adapt = bool(adapt)
        self.keep_adaptation = bool(keep_adaptation)
        self._seed = int(np.random.SeedSequence().entropy) if seed is None else check_seed(seed, "seed", caller)
        self._random = RandomSampler(seed=None if seed is None else self._seed)

    # -- Optuna's sampler interface -------------------------------------------------------------
    def reseed_rng(self) -> None:
        """Draw a new seed (Optuna calls this for parallel workers)."""
        self._seed = int(np.random.SeedSequence().entropy)
        self._random.reseed_rng()

    def infer_relative_search_space(self, study, trial) -> dict:
        """The grid's parameters (:meth:`SearchSpace.distributions`)."""
        if study._is_multi_objective():
            raise ValueError("RESNSampler supports single-objective studies only")
        return self.space.distributions()

    def sample_relative(self, study, trial, search_space) -> dict:
        """Propose the whole trial (a random row or a mutated tournament winner) and tag it."""
        if not search_space:
            return {}
        state, members = self._replay(study, exclude=trial.number)
        slot = len(members)
        rng = np.random.default_rng([self._seed, state.run, state.gen, slot])
        if state.gen == 0 or not state.population:
            child = self.random_individual(rng)
        else:
            parent = self.tournament(state.population, rng, maximize=_maximize(study))
            child = self.mutate(parent, rng, p_mutation=state.p_mutation, p_length=state.p_length,
                                max_step=state.max_step)
        study._storage.set_trial_system_attr(trial._trial_id, TAG, {"run": state.run, "gen": state.gen, "slot": slot})
        params = self.params(child)
        return {k: v for k, v in params.items() if k in search_space}

    def sample_independent(self, study, trial, param_name, param_distribution):
        """Parameters outside the grid's encoding: a seeded random draw."""
        return self._random.sample_independent(study, trial, param_name, param_distribution)

    # -- the strategy's state ---------------------------------------------------------------------
    def state(self, study) -> RESNState:
        """The strategy's state after the study's finished trials (a replay; see the module docstring)."""
        return self._replay(study)[0]

    def _fresh(self) -> RESNState:
        return RESNState(p_mutation=self.p_mutation, p_length=self.p_length, max_step=self.max_step)

    def _slots(self, state: RESNState) -> int:
        if state.gen == 0:
            return self.population - (self.migration if state.run > 0 else 0)
        return self.offspring

    def _replay(self, study, exclude: int | None = None) -> tuple[RESNState, list]:
        groups: dict[tuple, list] = {}
        for t in study.get_trials(deepcopy=False):
            tag = t.system_attrs.get(TAG)
            if t.number != exclude and isinstance(tag, dict):
                groups.setdefault((int(tag["run"]), int(tag["gen"])), []).append(t)
        maximize = _maximize(study)
        state = self._fresh()
        while True:
            members = sorted(groups.get((state.run, state.gen), []), key=lambda t: t.number)
            if len(members) < self._slots(state) or any(not t.state.is_finished() for t in members):
                return state, members
            self._advance(state, members, maximize)

    def _advance(self, state: RESNState, members: list, maximize: bool) -> None:
        """One finished generation: replacement, self-adaptation, restart."""
        results = [ind for ind in (self._individual(t) for t in members) if ind is not None]
        if state.gen == 0:
            state.evals += len(state.population) + len(members)  # the reference counts migrants too
            state.population = replace_plus(state.population, results, self.population, maximize=maximize)
        else:
            state.evals += len(members)
            state.population = replace_plus(state.population, results, self.population, maximize=maximize)
            if self.adapt and state.population:
                mean = float(np.mean([ind.value for ind in state.population]))
                if state.last_mean is not None:
                    up = improved(mean, state.last_mean, maximize=maximize)
                    state.adaptations.append(up)
                    if up:
                        state.p_mutation = min(1.0, state.p_mutation * 1.5)
                        state.p_length = min(1.0, state.p_length * 1.5)
                        state.max_step = state.max_step * 1.5
                    else:
                        state.p_mutation = max(_P_FLOOR, state.p_mutation / 4)
                        state.p_length = max(_P_FLOOR, state.p_length / 4)
                        state.max_step = max(1.0, state.max_step / 4)
                state.last_mean = mean
        if state.evals >= self.evaluations and (self.restarts is None or state.run < self.restarts):
            state.run += 1
            state.gen = 0
            state.evals = 0
            state.population = state.population[:self.migration]
            if not self.keep_adaptation:
                state.p_mutation, state.p_length, state.max_step = self.p_mutation, self.p_length, self.max_step
                state.last_mean = None
        else:
            state.gen += 1

    def _individual(self, t) -> Individual | None:
        if t.state != TrialState.COMPLETE or t.value is None or math.isnan(t.value):
            return None
        row = self.space.from_params(t.params)
        if row is None:
            return None
        return Individual(row.look_back, tuple(row.arch.units), row.arch.cell, float(t.value), t.number)

    # -- operators ----------------------------------------------------------------------------
    def random_individual(self, rng: np.random.Generator) -> Individual:
        """A uniformly random row: depth, then each layer's units, then the look-back (and the cell)."""
        sp = self.space
        cell = sp.cells[int(rng.integers(len(sp.cells)))] if len(sp.cells) > 1 else sp.cells[0]
        depth = sp.depths[int(rng.integers(len(sp.depths)))]
        units = []
        for k in range(1, depth + 1):
            choices = sp.layer_choices(k)
            units.append(int(choices[int(rng.integers(len(choices)))]))
        look_back = sp.look_backs[int(rng.integers(len(sp.look_backs)))]
        return Individual(int(look_back), tuple(units), cell)

    @staticmethod
    def tournament(population: list, rng: np.random.Generator, *, maximize: bool) -> Individual:
        """Binary tournament: two members drawn with replacement; the first wins only if strictly better."""
        i, j = (int(v) for v in rng.integers(0, len(population), size=2))
        a, b = population[i], population[j]
        return a if _better(a, b, maximize) else b

    def mutate(self, parent: Individual, rng: np.random.Generator, *, p_mutation: float, p_length: float,
               max_step: float) -> Individual:
        """Uniform gene mutation, then copy or delete of a random layer gene, then repair into the grid."""
        sp = self.space
        top = max(1, int(math.floor(max_step)))

        def move(index: int, n: int) -> int:
            step = int(rng.integers(1, top + 1))
            if rng.random() < 0.5:
                step = -step
            return min(n - 1, max(0, index + step))

        look_back = parent.look_back
        if rng.random() < p_mutation:
            look_back = sp.look_backs[move(_nearest_index(sp.look_backs, look_back), len(sp.look_backs))]
        units = list(parent.units)
        for k in range(len(units)):
            if rng.random() < p_mutation:
                choices = sp.layer_choices(k + 1)
                units[k] = choices[move(_nearest_index(choices, units[k]), len(choices))]
        cell = parent.cell
        if len(sp.cells) > 1 and rng.random() < p_mutation:
            others = [c for c in sp.cells if c != cell]
            cell = others[int(rng.integers(len(others)))]
        if units and rng.random() < p_length:
            pos = int(rng.integers(0, len(units)))
            if rng.random() < 0.5:
                units.pop(pos)
            else:
                units.insert(pos, units[pos])
        return self.repair(Individual(int(look_back), tuple(units), cell))

    def repair(self, ind: Individual) -> Individual:
        """Bring an individual into the grid: nearest allowed depth, then each gene to its nearest choice."""
        sp = self.space
        units = list(ind.units)
        depth = sp.depths[_nearest_index(sp.depths, len(units))]
        while len(units) < depth:
            units.append(sp.layer_choices(len(units) + 1)[0])
        del units[depth:]
        units = [int(_nearest(sp.layer_choices(k), u)) for k, u in enumerate(units, 1)]
        look_back = int(_nearest(sp.look_backs, ind.look_back))
        cell = ind.cell if ind.cell in sp.cells else sp.cells[0]
        return replace(ind, look_back=look_back, units=tuple(units), cell=cell, value=None, number=None)

    def params(self, ind: Individual) -> dict:
        """The trial parameters of an individual."""
        out: dict = {}
        if len(self.space.cells) > 1:
            out[PARAM_CELL] = ind.cell
        out[PARAM_DEPTH] = len(ind.units)
        for k, u in enumerate(ind.units, 1):
            out[unit_param(k)] = int(u)
        out[PARAM_LOOK_BACK] = int(ind.look_back)
        return out


def _maximize(study) -> bool:
    return study.direction == StudyDirection.MAXIMIZE


def _nearest_index(choices, value) -> int:
    """Index of the choice nearest to ``value`` (the smaller one on a tie)."""
    best = 0
    for i, c in enumerate(choices):
        if abs(c - value) < abs(choices[best] - value):
            best = i
    return best


def _nearest(choices, value):
    return choices[_nearest_index(choices, value)]

