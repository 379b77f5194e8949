"""What a space costs before it runs: its largest member against the memory budget, and a first time estimate.

:func:`space_cost` is called by :func:`~mae_ort.screening.sweep.screen` and
:func:`mae_ort.search.search` before anything is stored: a space whose largest architecture
needs more than the memory budget for one weight sample is refused with the message of
``mae-ort sample`` (:meth:`~mae_ort.sampling.sampler.Sampler.check_budget`), instead of
running its small rows for hours first.  A :class:`~mae_ort.screening.space.Grid` is
never enumerated: its largest members (the widest choice of every layer, per cell and
depth, at the shortest look-back) and its FLOPs (a closed form of the cost model,
:meth:`~mae_ort.model.architecture.Architecture.flops`) are computed from its choices.

The time estimate is a first one: the products' FLOPs at :data:`FLOPS_PER_THREAD` (the
warm rate that bench/RESULTS.md measured on a 2-core VM, about half the one-thread GEMM
rate) plus :data:`ROW_SECONDS` of fixed cost a row; the progress bar's rate is the real one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..data import Series, Windows
from ..model.architecture import Architecture
from ..sampling.sampler import Sampler
from .space import Grid, Row, Space

__all__ = ["SpaceCost", "space_cost", "largest_member", "largest_rows", "space_flops", "FLOPS_PER_THREAD",
           "ROW_SECONDS"]

#: Products' FLOPs a second of one runtime thread, warm (bench/RESULTS.md: ~100 GFLOP/s on 2 threads).
FLOPS_PER_THREAD = 50e9
#: Fixed seconds a row (weights' draw, the fit, the store's write, a session's share), a first guess (small rows
#: measured at roughly 0.02 s a row on the 2-core VM).
ROW_SECONDS = 0.02


@dataclass(frozen=True)
class SpaceCost:
    """The size and a first cost estimate of a space on a series.

    Attributes
    ----------
    rows : int
        Rows of the space.
    flops : float
        Products' FLOPs of sampling every row once with ``samples`` weight samples.
    samples : int
        Weight samples a row (the maximum, with ``samples='auto'``).
    largest : Row
        The row whose one weight sample needs the most memory.
    bytes_per_sample : int
        What one weight sample of ``largest`` needs (within the memory budget).
    """

    rows: int
    flops: float
    samples: int
    largest: Row
    bytes_per_sample: int

    def seconds(self, threads: int = 1, rows: int | None = None) -> float:
        """A first estimate of the wall seconds of ``rows`` rows (default: all, at the mean row's cost) on
        ``threads`` runtime threads."""
        n = self.rows if rows is None else rows
        share = n / self.rows if self.rows else 0.0
        return share * self.flops / (FLOPS_PER_THREAD * max(1, threads)) + n * ROW_SECONDS / max(1, threads)

    def describe(self, threads: int = 1, rows: int | None = None, what: str = "rows") -> str:
        """One line: rows, GFLOP, the largest member and the time estimate."""
        n = self.rows if rows is None else rows
        share = n / self.rows if self.rows else 0.0
        return (f"{n:,} {what} x {self.samples} samples, about {share * self.flops / 1e9:.3g} GFLOP; largest "
                f"{self.largest.label()} ({_size(self.bytes_per_sample)} a sample); first estimate "
                f"{_duration(self.seconds(threads, rows))} on {threads} thread{'s' if threads != 1 else ''}")


def largest_rows(space: Space) -> list[Row]:
    """Rows among which the one needing the most memory a sample lies (the space's largest members).

    For a :class:`Grid`: per cell and depth, the widest choice of every layer at the shortest
    look-back (a sample's memory grows with every layer's width, the depth and the windows);
    for other spaces, per architecture its shortest look-back.
    """
    if isinstance(space, Grid):
        lb = min(space.look_backs)
        return [space._row(cell, tuple(max(c) for c in space.layer_choices(depth)), lb)
                for cell in space.cells for depth in space.depths]
    shortest: dict = {}
    for row in space:
        if row.arch not in shortest or row.look_back < shortest[row.arch].look_back:
            shortest[row.arch] = row
    return list(shortest.values())


def space_flops(space: Space, n_in: int, n_out: int, length: int) -> float:
    """Products' FLOPs of one weight sample of every row of ``space`` on a series of ``length`` points
    (the sum of :meth:`Architecture.flops` over the rows; a :class:`Grid` in closed form)."""
    if not isinstance(space, Grid):
        return float(sum(r.arch.flops(n_in, n_out, r.look_back, max(1, length - r.look_back)) for r in space))
    lbs = space.look_backs
    steps = sum(max(1, length - lb) * lb for lb in lbs)  # sum over look-backs of windows x time steps
    wins = sum(max(1, length - lb) for lb in lbs)
    total = 0
    for cell in space.cells:
        g = Architecture((1,), cell=cell).gates
        for depth in space.depths:
            choices = space.layer_choices(depth)
            n = [len(c) for c in choices]
            s1 = [sum(c) for c in choices]
            s2 = [sum(u * u for u in c) for c in choices]
            every = math.prod(n)
            # per step, summed over the unit tuples: 2 g (n_in h1 + sum_k h_k^2 + sum_k h_{k-1} h_k)
            step = n_in * s1[0] * every // n[0] + sum(s2[k] * every // n[k] for k in range(depth))
            step += sum(s1[k - 1] * s1[k] * every // (n[k - 1] * n[k]) for k in range(1, depth))
            head = 2 * n_out * s1[-1] * every // n[-1]  # the Dense head, once a window
            total += steps * 2 * g * step + wins * head
    return float(total)


def largest_member(space: Space, series: Series, sampler: Sampler) -> tuple[Row, int]:
    """The row of ``space`` whose one weight sample needs the most memory, and those bytes; refused, before any
    work, when they exceed ``sampler.memory_budget``.

    Raises
    ------
    InvalidParameterError
        The message of ``mae-ort sample`` (:meth:`~mae_ort.sampling.sampler.Sampler.check_budget`).
    """
    n_in, n_out, length = series.inputs.shape[1], series.targets.shape[1], series.length
    largest, most = None, -1
    for row in largest_rows(space):
        n = max(1, length - row.look_back)
        win = Windows(np.broadcast_to(np.float32(0), (n, row.look_back, n_in)),
                      np.broadcast_to(np.float32(0), (n, n_out)))  # shapes only: nothing allocated
        per = sampler.check_budget(row.arch, win)
        if per > most:
            largest, most = row, per
    return largest, most


def space_cost(space: Space, series: Series, *, samples: int, sampler: Sampler) -> SpaceCost:
    """The space's size and cost; refuse, before any work, a space whose largest member cannot fit
    (:func:`largest_member`)."""
    largest, most = largest_member(space, series, sampler)
    flops = samples * space_flops(space, series.inputs.shape[1], series.targets.shape[1], series.length)
    return SpaceCost(rows=space.size(), flops=flops, samples=samples, largest=largest, bytes_per_sample=most)


def _size(n: float) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.3g} {unit}"
        n /= 1024
    return f"{n:.3g} TiB"  # pragma: no cover


def _duration(s: float) -> str:
    if s < 120:
        return f"{s:.2g} s"
    if s < 2 * 3600:
        return f"{s / 60:.2g} min"
    if s < 2 * 86400:
        return f"{s / 3600:.2g} h"
    return f"{s / 86400:.3g} days"
