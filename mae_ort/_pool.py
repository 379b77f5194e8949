"""Stopping a process pool at once (Ctrl-C, SIGTERM, an error), shared by screen and validate."""

from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor


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
