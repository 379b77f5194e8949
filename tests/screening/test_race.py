"""Racing a samples="auto" sweep: the decision rule by hand, the true top K kept, executor-independent, resumable,
bad input refused."""

from __future__ import annotations

import math

import numpy as np
import pytest

import mae_ort
from mae_ort.errors import InvalidParameterError
from mae_ort.results.store import open_store
from mae_ort.sampling.auto import AutoSamples, log_p_interval
from mae_ort.screening.race import decide, race_bound
from mae_ort.screening.space import grid
from mae_ort.screening.sweep import screen

FIT = dict(threshold=0.01, lower=0.0, upper=2.0)
#: every row would go to the maximum (tolerance out of reach, no relative or mean criterion): only the race stops
FULL = "auto:round=20,max=100,tol=1e-9,rel=0,mean=inf"
K = 5


@pytest.fixture(scope="module")
def space():
    return grid(units="3:8", layers="1:2", look_back="1,3", preset="paper")  # 84 rows


@pytest.fixture(scope="module")
def series():
    return mae_ort.sine(100)


@pytest.fixture(scope="module")
def full(space, series):
    return screen(space, series, samples=100, workers=1)


@pytest.fixture(scope="module")
def raced(space, series):
    return screen(space, series, samples=FULL, race=K, workers=1)


def _top(df, k):
    best = df.sort_values(["log_p", "log_p_exact", "mean"], ascending=[False, False, True]).head(k)
    return set(zip(best.units, best.look_back))


def test_race_bound_is_the_kth_largest_lower_end():
    assert race_bound([-3.0, -1.0, -2.0, -5.0], 2) == -2.0
    assert race_bound([-3.0], 2) == -math.inf


def test_decide_by_hand():
    """Three rows of 20 MAEs: a good one, a hopeless one and one in between; K = 1."""
    rng = np.random.default_rng(0)
    good, bad = (rng.normal(m, 0.03, size=20) for m in (0.05, 0.6))
    mid = good + 0.008  # a little worse than good: its interval overlaps good's
    auto = AutoSamples(round=20, maximum=100, tolerance=1e-9, relative=0, mean_tolerance=math.inf, race=1)
    iv = {k: log_p_interval(m, **FIT) for k, m in (("good", good), ("bad", bad), ("mid", mid))}
    assert iv["bad"][2] < iv["good"][1] <= iv["mid"][2]  # the case: bad cannot reach the best lower end, mid can
    status, intervals, bound = decide({"good": good, "bad": bad, "mid": mid}, [], auto, **FIT)
    assert bound == iv["good"][1] and intervals == iv
    assert status == {"good": None, "bad": "raced", "mid": None}
    # a stopped row's final interval counts too: a better finished row races out "mid" as well
    status, _, bound = decide({"good": good, "mid": mid}, [iv["mid"][2] + 1.0], auto, **FIT)
    assert bound == iv["mid"][2] + 1.0 and status["mid"] == "raced"


def test_race_keeps_the_true_top_k_and_full_rows_equal_the_fixed_run(full, raced):
    assert len(raced) == len(full) == 84
    assert set(raced.status) == {"maximum", "raced"} and (raced.status == "raced").sum() > 10
    assert _top(raced, K) == _top(full, K)
    m = raced.merge(full, on=["units", "look_back"], suffixes=("", "_fixed"))
    kept = m[m.status == "maximum"]
    assert (kept.drawn == 100).all() and np.array_equal(kept.log_p.to_numpy(), kept.log_p_fixed.to_numpy())
    stopped = m[m.status == "raced"]
    assert (stopped.drawn < 100).all() and (stopped.drawn % 20 == 0).all()
    assert all(np.array_equal(a, b[:len(a)]) for a, b in zip(stopped.maes, stopped.maes_fixed))
    assert raced.drawn.sum() < full.drawn.sum()


def test_race_does_not_depend_on_workers_or_batching(space, series, raced):
    other = screen(space, series, samples=FULL, race=K, workers=2, batch_flops=0, share=False)
    assert other.status.tolist() == raced.status.tolist() and other.drawn.tolist() == raced.drawn.tolist()
    assert all(np.array_equal(a, b) for a, b in zip(other.maes, raced.maes))


def test_race_has_its_own_settings_and_resumes(space, series, tmp_path):
    db = tmp_path / "r.sqlite"
    few = grid(units="3:5", layers="1", look_back="1,3", preset="paper")
    screen(few, series, store=db, samples=FULL, race=2, workers=1)
    df = screen(space, series, store=db, samples=FULL, race=2, workers=1)  # resumes: the 6 rows are kept
    assert df.attrs["new_rows"] == len(df) - 6
    screen(few, series, store=db, samples=FULL, workers=1)  # the same auto settings without a race
    with open_store(db, readonly=True) as st:
        s = st.settings_frame()
    text = FULL.replace("tol=1e-9", "tol=1e-09")
    assert len(set(s.settings_id)) == 2 and sorted(s.auto) == sorted([text + ",race=2", text])


@pytest.mark.parametrize("kw, fragment", [
    (dict(samples="auto", race=0), "'race' parameter of screen must be an int in the range [1, inf)"),
    (dict(samples=50, race=3), "race=3 needs samples='auto'"),
    (dict(samples="auto:max=1"), "'maximum' parameter"),
])
def test_bad_race_settings_are_refused(kw, fragment):
    with pytest.raises(InvalidParameterError, match=fragment.replace("[", r"\[").replace(")", r"\)")):
        screen(grid(units="3", layers="1", look_back="1"), mae_ort.sine(40), workers=1, **kw)
