"""The ``auto`` runtime rule, and its first-call exception for kernels that are not compiled yet."""

from __future__ import annotations

import fcntl
import os
import tempfile

import pytest

from mae_ort.model.architecture import Architecture
from mae_ort.runtimes import choose, fused
from mae_ort.runtimes.choose import NUMBA_MAX_UNITS, choose_runtime


@pytest.mark.parametrize("ready", [True, False])
def test_first_call_uses_onnxruntime_only_while_numba_is_not_compiled(monkeypatch, ready):
    monkeypatch.setattr(choose, "numba_compiled", lambda: ready)
    small = Architecture(units=(31, 31, 31))
    wide = Architecture(units=(NUMBA_MAX_UNITS + 1,))
    assert choose_runtime(small, 30) == "numba"  # the ordinary rule never asks
    assert choose_runtime(small, 30, first_call=True) == ("numba" if ready else "onnxruntime")
    assert choose_runtime(wide, 30, first_call=True) == "onnxruntime"
    assert choose_runtime(small, 30, runtime="numba", first_call=True) == "numba"  # asked for by name
    assert choose_runtime(small, 30, device="cuda", first_call=True) == "onnxruntime"


def test_numba_compiled_in_a_warm_process():
    from mae_ort import kernels

    kernels.warmup()
    assert choose.numba_compiled() is True


def test_the_background_compiler_steps_aside_for_another(monkeypatch):
    from mae_ort import kernels

    calls = []
    monkeypatch.setattr(kernels, "warmup", lambda: calls.append(1))
    monkeypatch.setattr(os, "nice", lambda n: 0)
    path = os.path.join(tempfile.gettempdir(), f"mae-ort-numba-compile-{os.getuid()}.lock")
    with open(path, "w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        fused._compile_main()  # another process holds the lock: nothing is compiled
        assert calls == []
    fused._compile_main()
    assert calls == [1]


def test_compile_in_background_runs_a_detached_compiler():
    pid = fused.compile_in_background()
    assert isinstance(pid, int)
    _, status = os.waitpid(pid, 0)  # the kernels are compiled already (conftest): it only loads them
    assert os.waitstatus_to_exitcode(status) == 0
