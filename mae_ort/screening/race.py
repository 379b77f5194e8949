"""Racing for the top K: which rows of a ``samples="auto"`` sweep stop before their answer is known.

A race (``screen(..., samples="auto", race=K)``, ``mae-ort screen --samples auto --race K``) runs
the rows of a space in synchronous rounds of :class:`~mae_ort.sampling.auto.AutoSamples`: every
row still running draws the same next samples, and only when the whole round is back are the
decisions taken, by :func:`decide`, from the MAEs alone.  So a race's rows do not depend on the
workers, the chunking, the batching or the order in which results arrive.

The rule, after each round (intervals of :func:`~mae_ort.sampling.auto.log_p_interval`, 95 %):

1. a running row that meets its own stopping rule (:func:`~mae_ort.sampling.auto.stop_status`)
   stops as ``converged`` (or ``maximum``);
2. the *bound* is the K-th largest lower end of ``log p`` over every row of the race: running
   rows with their current interval, stopped rows with their final one (0 rows to K-1 rows: no
   bound);
3. any other running row whose optimistic end (the upper end of its interval) lies below the
   bound stops as ``raced``: at 95 % it cannot reach the top K.  Its row is stored with the
   samples it drew and ``status="raced"``; it is *not* a full estimate.

The rest draw another round, up to the maximum.  A row's own interval is 95 % for that row; with
many rows a few of the true top K can be raced out by chance (``bench/auto_samples.py`` measures
the overlap on ``paper-2layer``).  What a race does depend on: the rows raced together (the space,
and on a resumed race the rows stored before it, which enter with their final intervals while
the rest start again from the first round).
"""

from __future__ import annotations

import math

from ..sampling.auto import AutoSamples, log_p_interval, stop_status

__all__ = ["race_bound", "decide"]


def race_bound(lows, k: int) -> float:
    """The K-th largest of ``lows`` (lower ends of ``log p``), or ``-inf`` with fewer than ``k`` values."""
    lows = sorted((float(v) for v in lows), reverse=True)
    return lows[k - 1] if k >= 1 and len(lows) >= k else -math.inf


def decide(running: dict, stopped_lows, auto: AutoSamples, *, threshold: float, lower: float,
           upper: float) -> tuple[dict, dict, float]:
    """The decisions of one round of a race.

    Parameters
    ----------
    running : dict
        ``{key: MAEs drawn so far}`` of the rows still running (all with the same count).
    stopped_lows : iterable of float
        Lower ends of ``log p`` of the race's rows that stopped already (their final intervals).
    auto : AutoSamples
        The stopping rule and ``race`` (K >= 1).
    threshold, lower, upper : float
        As the fit's.

    Returns
    -------
    status : dict
        ``{key: "converged" | "maximum" | "raced" | None}`` (None: draw another round).
    intervals : dict
        ``{key: (log p, low, high)}`` of the running rows.
    bound : float
        The K-th largest lower end this round (``-inf``: no bound).
    """
    intervals = {k: log_p_interval(m, threshold=threshold, lower=lower, upper=upper) for k, m in running.items()}
    status = {k: stop_status(m, auto, threshold=threshold, lower=lower, upper=upper, interval=intervals[k])
              for k, m in running.items()}
    bound = race_bound(list(stopped_lows) + [iv[1] for iv in intervals.values()], auto.race)
    for k in running:
        if status[k] is None and intervals[k][2] < bound:
            status[k] = "raced"
    return status, intervals, bound
