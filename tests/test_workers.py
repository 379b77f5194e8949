"""The one worker-pool lifecycle (mae_ort._workers): thread limits, results, errors, main-guard detection."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from mae_ort._workers import WorkerPool, main_guard_missing
from mae_ort.errors import MaeOrtError


def test_workers_get_their_share_of_threads():
    pool = WorkerPool(1, threads=1, what="values")
    got = list(pool.run(os.getenv, ["OMP_NUM_THREADS", "TF_NUM_INTRAOP_THREADS", "NUMBA_NUM_THREADS"]))
    assert got == ["1", "1", "1"]


def test_results_come_back_and_task_errors_propagate():
    pool = WorkerPool(2, threads=1)
    assert sorted(pool.run(abs, [-3, -1, 2])) == [1, 2, 3]
    pool = WorkerPool(1, threads=1)
    with pytest.raises(TypeError):
        list(pool.run(abs, ["not a number"]))


def test_a_dead_worker_is_one_clear_error():
    pool = WorkerPool(1, threads=1, what="rows")
    with pytest.raises(MaeOrtError, match="a worker process died .* finished rows are stored"):
        list(pool.run(os._exit, [1]))


def test_main_guard_missing_from_an_interactive_call_is_none():
    assert main_guard_missing() is None  # pytest's __main__ is not this frame's module


@pytest.mark.parametrize("guarded", [False, True])
def test_main_guard_detection_in_a_script(tmp_path, guarded):
    body = "from mae_ort._workers import main_guard_missing\n"
    call = "print('MISSING' if main_guard_missing() else 'GUARDED')\n"
    body += ("if __name__ == '__main__':\n    " + call) if guarded else call
    script = tmp_path / "s.py"
    script.write_text(textwrap.dedent(body))
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, check=True).stdout
    assert out.strip() == ("GUARDED" if guarded else "MISSING")


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_a_sigterm_dropped_inside_a_weakref_callback_is_raised_at_the_next_check():
    """Python prints "Exception ignored" and drops an exception raised in a weakref callback or a finalizer;
    the guard remembers the signal so the next check (the pool loop, the training callback) stops the work."""
    import signal
    import weakref

    from mae_ort._workers import sigterm_raises
    from mae_ort.errors import Interrupted

    class Thing:
        pass

    calls = []

    def callback(_):
        calls.append("killed")
        os.kill(os.getpid(), signal.SIGTERM)
        for _ in range(1000):  # the handler runs here, inside the callback: its exception is dropped
            pass
        calls.append("not interrupted")

    with pytest.raises(Interrupted):
        with sigterm_raises():
            t = Thing()
            ref = weakref.ref(t, callback)  # noqa: F841 - kept alive until t dies
            del t
            assert calls == ["killed"]  # the callback was interrupted and Python went on
            sigterm_raises.check_active()  # the dropped signal is raised here
            pytest.fail("the SIGTERM was lost")
