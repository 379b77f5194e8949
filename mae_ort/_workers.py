"""One worker-pool lifecycle for every long parallel job (the sweep and the training validation).

* **start**: a ``forkserver`` that preloads the job's module (fast and fork-safe:
  onnxruntime's, Numba's and TensorFlow's thread pools do not survive a plain
  ``fork``), ``spawn`` where there is none;
* **parent-death watch**: every worker holds the read end of a pipe whose only
  writer is the parent; when the parent dies (even by SIGKILL) the pipe closes and
  the worker leaves;
* **run**: at most ``2 x workers`` tasks in flight, results yielded as they finish;
* **stop**: on success the pool is shut down; on an error, Ctrl-C or SIGTERM the
  queued tasks are cancelled and the workers terminated at once, after the tasks
  already finished were handed over.

:class:`sigterm_raises` turns SIGTERM into :class:`~mae_ort.errors.Interrupted` in the
main thread.  Imports nothing of mae-ort but :mod:`mae_ort.errors` and :mod:`mae_ort._system`.
"""

from __future__ import annotations

import ast
import gc
import os
import signal
import sys
import threading
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Callable, Iterable, Iterator

from ._system import limit_threads
from .errors import Interrupted, MaeOrtError

__all__ = ["WorkerPool", "sigterm_raises", "stop_pool", "main_guard_missing"]


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
    """Within this block (main thread only), SIGTERM raises ``exc_type(signum)``.

    The default is :class:`~mae_ort.errors.Interrupted`, so that the caller's cleanup
    runs.  A signal that arrives while Python runs a finalizer or a weakref callback
    (where an exception is printed as "ignored" and dropped) is remembered: the next
    :meth:`check` raises it, and the worker pool checks after every wait.
    """

    _active: "sigterm_raises | None" = None

    def __init__(self, exc_type: type = Interrupted) -> None:
        self.exc_type = exc_type
        self.signum: int | None = None

    def __enter__(self):
        self._old = None
        self._outer = sigterm_raises._active
        if threading.current_thread() is threading.main_thread():
            def handler(signum, frame):
                self.signum = signum
                raise self.exc_type(signum)

            self._old = signal.signal(signal.SIGTERM, handler)
            sigterm_raises._active = self
        return self

    def check(self) -> None:
        """Raise the remembered signal, if one arrived."""
        if self.signum is not None:
            raise self.exc_type(self.signum)

    @classmethod
    def check_active(cls) -> None:
        """:meth:`check` the innermost active block, if any."""
        if cls._active is not None:
            cls._active.check()

    def __exit__(self, *exc) -> None:
        if self._old is not None:
            signal.signal(signal.SIGTERM, self._old)
            sigterm_raises._active = self._outer


# -- inside a worker -------------------------------------------------------------------------------
def _quit_worker(*_) -> None:
    """Leave now, after multiprocessing's finalizers (they unregister this process's semaphores
    from the resource tracker, which would otherwise report them as leaked)."""
    try:
        from multiprocessing import util

        util._run_finalizers(0)
    finally:
        os._exit(0)


def _watch_parent(lifeline) -> None:
    """Exit when the parent dies: its end of the pipe closes.  (With ``forkserver`` a worker's
    parent is the server, which lives as long as any worker does, so ``getppid()`` would not do.)"""
    try:
        lifeline.recv()
    except (EOFError, OSError):
        pass
    _quit_worker()


def _numba_without_semaphore() -> None:
    """Give Numba's thread-pool start-up lock of this worker process a thread lock.

    Under ``forkserver`` Numba makes it a named multiprocessing semaphore, registered with
    the resource tracker; a worker killed by SIGKILL (out of memory) never unregisters it,
    and the tracker then prints a "leaked semaphore" warning when the sweep exits.  A
    worker starts no processes of its own, so a thread lock protects the same thing (Numba
    itself uses no process lock under ``spawn``).  Does nothing if Numba's internals differ.
    """
    try:
        from numba.np.ufunc import parallel
    except ImportError:  # pragma: no cover - numba is a dependency
        return
    if getattr(parallel, "_backend_init_process_lock", False) is None:
        parallel._backend_init_process_lock = threading.RLock()


def _bootstrap(lifeline, threads, initializer, initargs) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole group; the parent decides
    signal.signal(signal.SIGTERM, _quit_worker)  # how the parent stops a worker early
    limit_threads(threads)
    _numba_without_semaphore()
    threading.Thread(target=_watch_parent, args=(lifeline,), daemon=True, name="mae-ort-parent-watch").start()
    if initializer is not None:
        initializer(*initargs)


# -- the pool ------------------------------------------------------------------------------------
def _context(preload: str | None):
    import multiprocessing as mp

    if "forkserver" in mp.get_all_start_methods():
        ctx = mp.get_context("forkserver")
        if preload:
            ctx.set_forkserver_preload([preload])
        return ctx
    return mp.get_context("spawn")  # pragma: no cover - Windows


class WorkerPool:
    """Worker processes with mae-ort's lifecycle (see the module docstring).

    Parameters
    ----------
    workers : int
        Processes.
    threads : int
        Thread limit of each worker (:func:`mae_ort._system.limit_threads`, before anything starts).
    initializer, initargs
        Run once in each worker after the lifecycle is set up.
    preload : str, optional
        The module the forkserver imports once (the task functions' module).
    what : str
        What a task produces, for the message when a worker dies ("rows", "architectures").
    """

    def __init__(self, workers: int, *, threads: int, initializer: Callable | None = None, initargs=(),
                 preload: str | None = None, what: str = "results") -> None:
        self.workers = int(workers)
        self.what = what
        ctx = _context(preload)
        self._lifeline, self._keep_alive = ctx.Pipe(duplex=False)  # workers hold the read end
        self._ex = ProcessPoolExecutor(max_workers=self.workers, mp_context=ctx, initializer=_bootstrap,
                                       initargs=(self._lifeline, threads, initializer, tuple(initargs)))

    def run(self, fn: Callable, tasks: Iterable, *, keep: bool = False) -> Iterator:
        """Yield ``fn(task)`` for every task, as they finish (at most ``2 x workers`` in flight).

        The pool is stopped when the generator ends, fails or is closed; with ``keep=True`` a clean
        end leaves it running for the next :meth:`run` (then :meth:`close` it).
        """
        ex = self._ex
        tasks = iter(tasks)
        pending: set = set()
        clean = False
        try:
            more = True
            while True:
                while more and len(pending) < 2 * self.workers:
                    task = next(tasks, None)
                    if task is None:
                        more = False
                        break
                    pending.add(ex.submit(fn, task))
                if not pending:
                    break
                done, pending = wait(pending, timeout=0.5, return_when=FIRST_COMPLETED)
                sigterm_raises.check_active()
                for f in done:
                    try:
                        result = f.result()
                    except BrokenProcessPool as e:
                        raise MaeOrtError(f"a worker process died (out of memory or killed); finished {self.what} "
                                          "are stored, rerun the same command to resume") from e
                    yield result
            clean = True
        except KeyboardInterrupt:
            # Hand over what already finished (the caller stores it) before stopping the workers.
            for f in [f for f in pending if f.done() and not f.cancelled() and f.exception() is None]:
                yield f.result()
            raise
        finally:
            if not (clean and keep):
                self._stop(ex, clean)
                ex = pending = None

    def close(self) -> None:
        """Stop the workers (after :meth:`run` with ``keep=True``); idempotent."""
        if self._ex is not None:
            self._stop(self._ex, True)

    def _stop(self, ex, clean: bool) -> None:
        if ex is not None:
            if clean:
                ex.shutdown(wait=True)
            else:
                stop_pool(ex)
            self._keep_alive.close()
            self._lifeline.close()
            # Release the pool's queues (and their semaphores) now, not at interpreter exit,
            # even while a traceback still refers to run's frame (run drops its references too).
            ex = self._ex = None
            gc.collect()


# -- scripts without a main guard ----------------------------------------------------------------
def _is_main_guard(test: ast.expr) -> bool:
    if not isinstance(test, ast.Compare) or len(test.ops) != 1 or not isinstance(test.ops[0], ast.Eq):
        return False
    sides = [test.left, test.comparators[0]]
    names = [s for s in sides if isinstance(s, ast.Name) and s.id == "__name__"]
    consts = [s for s in sides if isinstance(s, ast.Constant) and s.value == "__main__"]
    return len(names) == 1 and len(consts) == 1


def main_guard_missing() -> str | None:
    """The script path when this call comes from top-level code of ``__main__`` outside an
    ``if __name__ == "__main__":`` block, else ``None``.

    Worker processes started by ``spawn`` or ``forkserver`` import the main script again
    (as ``__mp_main__``); unguarded top-level code then runs again in every worker.
    """
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None)
    if main is None or not path or not os.path.isfile(path):
        return None
    frame = sys._getframe(1)
    while frame is not None and frame.f_globals is not main.__dict__:
        frame = frame.f_back
    if frame is None or frame.f_code.co_name != "<module>":
        return None  # called from a function: a guarded entry point, or at least not re-run at import
    line = frame.f_lineno
    try:
        with open(path, encoding="utf-8") as fh:
            tree = ast.parse(fh.read())
    except (OSError, SyntaxError, UnicodeDecodeError):
        return None
    for node in tree.body:
        if isinstance(node, ast.If) and _is_main_guard(node.test) and node.lineno <= line <= (node.end_lineno or 0):
            return None
    return path
