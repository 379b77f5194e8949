"""One progress reporter for every long command: a rich bar in a terminal, plain lines when piped.

A reporter is a callable ``progress(done, total, message=None)``; the sweep, the
sampler and the validation call it after each finished piece of work.  Imports nothing
of mae-ort but :mod:`mae_ort.errors`.
"""

from __future__ import annotations

import sys
import time
from typing import Any

from .errors import InvalidParameterError

__all__ = ["Progress", "as_progress", "format_seconds"]


def format_seconds(s: float) -> str:
    """``3725`` -> ``'1:02:05'``."""
    s = int(round(max(0.0, s)))
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"


class Progress:
    """Progress of one long piece of work on stderr.

    Parameters
    ----------
    description : str
        What runs (``"screen paper-2layer"``).
    unit : str
        What is counted (``"rows"``, ``"samples"``, ``"architectures"``).
    enabled : bool
        ``False``: print nothing (the counts are still kept in :attr:`done`, :attr:`total`).
    tty : bool, optional
        A rich bar (``True``) or a plain line every ``every`` seconds and at the end
        (``False``); default: whether stderr is a terminal.
    every : float
        Seconds between plain lines.
    header : str
        A line printed once, when the first call arrives (the work has started).
    transient : bool
        Remove the bar when done.
    stream : file, optional
        Where plain lines go (default ``sys.stderr``).
    """

    def __init__(self, description: str, *, unit: str = "rows", enabled: bool = True, tty: bool | None = None,
                 every: float = 60.0, header: str = "", transient: bool = False, stream=None) -> None:
        self.description = description
        self.unit = unit
        self.enabled = enabled
        self.stream = stream
        self.tty = (sys.stderr.isatty() if stream is None else False) if tty is None else tty
        self.every = every
        self.header = header
        self.transient = transient
        self.done = 0
        self.total = 0
        self._bar: Any = None  # a rich Progress once the first call in a terminal starts it
        self._task: Any = None
        self._started = False
        self._t0 = time.perf_counter()
        self._last = 0.0

    def _out(self):
        return self.stream if self.stream is not None else sys.stderr

    def _start_bar(self, total: int) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn, TimeRemainingColumn
        from rich.progress import Progress as RichProgress

        self._bar = RichProgress(
            TextColumn("[bold]{task.description}"), BarColumn(bar_width=24), MofNCompleteColumn(),
            TextColumn("{task.fields[rate]}"), TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
            console=Console(stderr=True), speed_estimate_period=600.0, transient=self.transient,
        )
        self._task = self._bar.add_task(self.description, total=total, rate="")
        self._bar.start()

    def __call__(self, done: int, total: int, message: str | None = None) -> None:
        self.done, self.total = int(done), int(total)
        if not self.enabled:
            return
        if not self._started:
            self._started = True
            self._t0 = time.perf_counter()
            if self.header:
                print(self.header, file=self._out(), flush=True)
        now = time.perf_counter()
        rate = done / max(1e-9, now - self._t0)
        if self.tty:
            if self._bar is None:
                self._start_bar(total)
            self._bar.update(self._task, completed=done, total=total, rate=f"{rate:.2f} {self.unit}/s")
            if message:
                self._bar.console.print(message, highlight=False)
            return
        if message or done in (0, total) or now - self._last >= self.every:
            self._last = now
            eta = f", ETA {format_seconds((total - done) / rate)}" if 0 < done < total and rate > 0 else ""
            tail = f": {message}" if message else ""
            print(f"{self.description}: {done}/{total} {self.unit}, {rate:.2f} {self.unit}/s{eta}{tail}",
                  file=self._out(), flush=True)

    def close(self) -> None:
        """Stop the bar (idempotent)."""
        if self._bar is not None:
            self._bar.stop()
            self._bar = None

    def __enter__(self) -> "Progress":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def as_progress(progress, *, description: str, unit: str = "rows", caller: str = "screen"):
    """A reporter from ``progress``: ``None``/``False`` (none), ``True`` (a :class:`Progress`) or a callable."""
    if progress is None or progress is False:
        return None
    if progress is True:
        return Progress(description, unit=unit)
    if callable(progress):
        return progress
    raise InvalidParameterError(f"The 'progress' parameter of {caller} must be a bool or a callable(done, total). "
                                f"Got {progress!r} instead.")
