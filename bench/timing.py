"""Interleaved timing of a few ways to do one job, in one process (the small benchmarks' shared loop)."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

__all__ = ["interleaved_medians"]


def interleaved_medians(steps: dict[str, Callable[[], object]], repeats: int
                        ) -> tuple[dict[str, float], dict[str, list[float]]]:
    """Call every step once to warm it (kernels, sessions, buffers), then ``repeats`` rounds of all steps in
    turn (so each meets the same machine state); the median wall seconds of each step, and every time."""
    for f in steps.values():
        f()
    times: dict[str, list[float]] = {k: [] for k in steps}
    for _ in range(repeats):
        for k, f in steps.items():
            t0 = time.perf_counter()
            f()
            times[k].append(time.perf_counter() - t0)
    return {k: statistics.median(v) for k, v in times.items()}, times
