"""Shared fixtures: a private graph cache and small series."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data"


@pytest.fixture(autouse=True, scope="session")
def _graph_cache(tmp_path_factory):
    """Keep exported graphs of the test run out of the user's cache."""
    old = os.environ.get("MAE_ORT_CACHE")
    os.environ["MAE_ORT_CACHE"] = str(tmp_path_factory.mktemp("mae-ort-cache"))
    yield
    if old is None:
        os.environ.pop("MAE_ORT_CACHE", None)
    else:
        os.environ["MAE_ORT_CACHE"] = old


@pytest.fixture(autouse=True, scope="session")
def _numba_kernels():
    """Load (or compile) the Numba kernels once, so that the command line's first-call rule (onnxruntime while
    the kernels are not compiled, :func:`mae_ort.runtimes.choose.choose_runtime`) never applies by accident;
    tests/runtimes/test_choose.py tests that rule on purpose."""
    from mae_ort import kernels

    kernels.warmup()


@pytest.fixture(autouse=True, scope="session")
def _runtime_choice(tmp_path_factory):
    """A fixed measured runtime choice (the fused kernel, as the fixed rule had it), so that no test times the
    runtimes (:mod:`mae_ort.runtimes.timing`); tests/runtimes/test_timing.py tests the rule on purpose.  Set in
    the environment, the processes the tests start read it too."""
    import json

    from mae_ort.runtimes.timing import CASE, ENV

    path = tmp_path_factory.mktemp("runtime-choice") / "choice.json"
    path.write_text(json.dumps({"choice": "numba", "seconds": {"numba": 1.0, "onnxruntime": 2.0}, "case": CASE}))
    old = os.environ.get(ENV)
    os.environ[ENV] = str(path)
    yield path
    if old is None:
        os.environ.pop(ENV, None)
    else:
        os.environ[ENV] = old


@pytest.fixture
def rng():
    return np.random.default_rng(12345)


@pytest.fixture
def eunite_csv() -> Path:
    return DATA / "eunite-training.csv"


def run_cli(capsys, *args):
    """Run ``mae-ort ARGS`` in this process: (exit code, stdout, stderr)."""
    from mae_ort.cli import main

    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def one_line_error(code, err):
    """Assert exit code 2 and a single ``error:`` line on stderr; return that line."""
    assert code == 2
    lines = [line for line in err.strip().splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:"), err
    return lines[0]
