"""Ctrl-C and SIGTERM end a real ``mae-ort`` process with one line, exit code 130 / 143, no worker left behind and
no half-written file (issue 21).  The screen's own signal tests are in tests/screening/test_sweep.py."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from tests.processes import alive, assert_all_gone, count, ctrl_c, descendants, needs_proc, start, wait_for

pytestmark = needs_proc


def _one_line(proc, code: int, timeout: float = 120) -> str:
    out, err = proc.communicate(timeout=timeout)
    lines = [line for line in err.splitlines() if line.strip()]
    assert proc.returncode == code and len(lines) == 1, (proc.returncode, err)
    assert lines[0].startswith("interrupted: ") and "Traceback" not in err
    return lines[0]


def _stop(proc, sig) -> None:
    if sig == signal.SIGINT:
        ctrl_c(proc)  # the whole process group, as a terminal sends it
    else:
        proc.send_signal(sig)  # `kill PID`: the command alone


def _loaded(proc, library: str):
    """True once ``library`` is mapped into the process (the command's body runs)."""
    try:
        return library in Path(f"/proc/{proc.pid}/maps").read_text()
    except OSError:
        return False


@pytest.mark.kills
@pytest.mark.parametrize("sig, code, name", [(signal.SIGINT, 130, "Ctrl-C"), (signal.SIGTERM, 143, "SIGTERM")])
def test_sample_with_many_samples_stops_with_one_line_and_no_file(tmp_path, sig, code, name):
    model = tmp_path / "model.onnx"
    proc = start("sample", "--arch", "31,31,31", "--look-back", "30", "--samples", "50000", "--runtime",
                 "onnxruntime", "--save-model", model)
    wait_for(proc, lambda: _loaded(proc, "onnxruntime"), "the sampling started")
    kids = descendants(proc.pid)
    _stop(proc, sig)
    line = _one_line(proc, code)
    assert f"mae-ort sample stopped by {name}" in line
    assert list(tmp_path.iterdir()) == []  # no model, no temporary file
    assert_all_gone(kids)


@pytest.mark.kills
def test_report_stopped_part_way_leaves_only_whole_files(tmp_path):
    import matplotlib.image
    import pandas as pd

    from tests.study.test_report import _db

    db = _db(tmp_path, samples=20)
    out = tmp_path / "report"
    proc = start("report", "--db", db, "--out", out)
    wait_for(proc, lambda: (out / "evidence.csv").exists(), "the first file was written")
    proc.send_signal(signal.SIGTERM)
    line = _one_line(proc, 143)
    assert "mae-ort report stopped by SIGTERM" in line
    names = sorted(p.name for p in out.iterdir())
    assert "README.md" not in names and not [n for n in names if "partial" in n], names  # README.md comes last
    for name in names:  # every file there is whole
        if name.endswith(".csv"):
            assert len(pd.read_csv(out / name))
        else:
            assert name.endswith(".png") and matplotlib.image.imread(out / name).size


@pytest.mark.kills
@pytest.mark.parametrize("sig, code", [(signal.SIGINT, 130)])  # SIGTERM with workers: the screen's test
def test_search_with_worker_processes_stops_with_one_line_and_leaves_no_worker(tmp_path, sig, code):
    db = tmp_path / "s.sqlite"
    complete = "SELECT COUNT(*) FROM trials WHERE state='COMPLETE'"
    proc = start("search", "--units", "18:23", "--layers", "2", "--look-back", "4,8,12,16,20,24", "--samples", "20",
                 "--trials", "200", "--sampler", "random", "--objective", "log_p", "--jobs", "2", "--quiet",
                 "--top", "0", "--db", db, hold=(2, complete))  # held at the second trial told
    wait_for(proc, lambda: count(db, complete) >= 2, "two trials")
    kids = descendants(proc.pid)
    assert len(alive(kids)) >= 2  # the workers (and the forkserver)
    _stop(proc, sig)
    line = _one_line(proc, code)
    assert "trial(s) kept in" in line and "rerun the same command to resume" in line
    assert count(db, "SELECT COUNT(*) FROM trials WHERE state='RUNNING'") == 0
    assert_all_gone(kids)


@pytest.mark.keras
@pytest.mark.kills
@pytest.mark.parametrize("sig, code", [(signal.SIGINT, 130)])  # SIGTERM: tests/study/test_validation.py
def test_validate_with_training_processes_stops_with_one_line_and_leaves_none(tmp_path, sig, code):
    pytest.importorskip("keras")
    from mae_ort.screening.space import grid
    from mae_ort.screening.sweep import screen

    db = tmp_path / "v.sqlite"
    screen(grid(units="2:5", layers="1", look_back="2"), store=db, samples=5, workers=1)
    proc = start("validate", "--db", db, "--pick", "all", "--epochs", "1", "--trainer", "modern", "--jobs", "2",
                 "--quiet", hold=(1, "SELECT COUNT(*) FROM trained"))
    wait_for(proc, lambda: count(db, "SELECT COUNT(*) FROM trained") >= 1, "the first trained row")
    kids = descendants(proc.pid)
    _stop(proc, sig)
    line = _one_line(proc, code)
    assert "finished architectures are stored in" in line
    assert_all_gone(kids)


@pytest.mark.parametrize("sig, code, name", [(signal.SIGINT, 130, "Ctrl-C (SIGINT)"), (signal.SIGTERM, 143, "SIGTERM")])
def test_a_command_without_its_own_handler_ends_with_the_groups_one_line(capsys, sig, code, name):
    import click

    from mae_ort.cli import cli, main
    from mae_ort.errors import Interrupted

    def stop():
        raise KeyboardInterrupt if sig == signal.SIGINT else Interrupted(sig)

    cli.add_command(click.Command("stopped-here", callback=stop))
    try:
        assert main(["stopped-here"]) == code
    finally:
        cli.commands.pop("stopped-here")
    err = capsys.readouterr().err
    assert err == f"interrupted: mae-ort stopped-here stopped by {name}; no output file was half-written\n"


def test_sigterm_is_turned_into_the_clean_path_for_the_whole_run(capsys):
    import os

    import click

    from mae_ort.cli import cli, main

    before = signal.getsignal(signal.SIGTERM)
    cli.add_command(click.Command("terminated", callback=lambda: os.kill(os.getpid(), signal.SIGTERM)))
    try:
        assert main(["terminated"]) == 143
    finally:
        cli.commands.pop("terminated")
    assert "stopped by SIGTERM" in capsys.readouterr().err
    assert signal.getsignal(signal.SIGTERM) is before  # restored after the run
