"""The shell scripts stop cleanly: Ctrl-C (the whole process group) or SIGTERM (the script alone) stops the running
step, which keeps what it finished; one line, exit code 130 / 143, nothing left running (issue 21)."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess

import pytest

from tests.processes import assert_all_gone, count, descendants, hold_env, needs_proc, wait_for

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _venv_ready(extras: str) -> bool:
    """Whether scripts/setup.sh EXTRAS would return at once (no install during a test)."""
    want = hashlib.sha256(open(os.path.join(ROOT, "pyproject.toml"), "rb").read()).hexdigest()[:16] + " " + extras
    try:
        with open(os.path.join(ROOT, ".venv", ".mae-ort-setup")) as fh:
            return want in fh.read().splitlines()
    except OSError:
        return False


@needs_proc
@pytest.mark.kills
@pytest.mark.skipif(not _venv_ready("dev"), reason="scripts/setup.sh dev would install packages")
@pytest.mark.parametrize("sig, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_reproduce_paper_stops_with_one_line_and_nothing_left_running(tmp_path, sig, code):
    db = tmp_path / "r.sqlite"
    env = dict(os.environ, DB=str(db), OUT=str(tmp_path / "report"), PER_STUDY="4", TF_CPP_MIN_LOG_LEVEL="3",
               **hold_env(1, "SELECT COUNT(*) FROM sampling"))  # the screen holds after its first rows
    # As from a terminal: SIGINT at its default.  A test run started in the background (`cmd &`, nohup, some CI
    # runners) inherits SIGINT ignored, and a shell started with a signal ignored can never trap it.
    proc = subprocess.Popen(["bash", os.path.join(ROOT, "scripts", "reproduce_paper.sh"), "small"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    wait_for(proc, lambda: count(db, "SELECT COUNT(*) FROM sampling") >= 1, "the first screened row")
    kids = descendants(proc.pid)
    if sig == signal.SIGINT:
        os.killpg(proc.pid, sig)  # Ctrl-C at a terminal
    else:
        proc.send_signal(sig)  # `kill PID`: the script alone; it passes the signal to the running step
    out, err = proc.communicate(timeout=120)
    lines = [line for line in err.splitlines() if line.strip() and not line.startswith("== ")]  # step headers
    assert proc.returncode == code and len(lines) == 1, err
    assert lines[0].startswith("interrupted: ") and "rerun the same command to resume" in lines[0]
    assert "Traceback" not in err
    assert_all_gone(kids)
    assert 1 <= count(db, "SELECT COUNT(*) FROM sampling") < 12  # 3 studies of 4 rows
    assert not (tmp_path / "report").exists() or not os.listdir(tmp_path / "report")
