"""Stopping long work (Ctrl-C, SIGTERM, an error), shared by screen and validate:
a process pool at once, and SIGTERM turned into an exception."""

from __future__ import annotations

import signal
import threading
from concurrent.futures import ProcessPoolExecutor

from .errors import Interrupted


def stop_pool(ex: ProcessPoolExecutor) -> None:
    """Cancel queued work, terminate the workers and release the pool's queues."""
    processes = list(getattr(ex, "_processes", {}).values())
    ex.shutdown(wait=False, cancel_futures=True)
    for p in processes:
        if p.is_alive():
            p.terminate()
    for p in processes:
        p.join(timeout=5)
    ex.shutdown(wait=True)  # the manager thread sees the dead workers and releases the queues


class sigterm_raises:
    """Within this block (main thread only), SIGTERM raises ``exc_type(signum)``
    (default :class:`~mae_ort.errors.Interrupted`), so that the caller's cleanup runs."""

    def __init__(self, exc_type: type = Interrupted) -> None:
        self.exc_type = exc_type

    def __enter__(self):
        self._old = None
        if threading.current_thread() is threading.main_thread():
            exc_type = self.exc_type

            def handler(signum, frame):
                raise exc_type(signum)

            self._old = signal.signal(signal.SIGTERM, handler)
        return self

    def __exit__(self, *exc) -> None:
        if self._old is not None:
            signal.signal(signal.SIGTERM, self._old)
