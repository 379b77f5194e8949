"""The ``mae-ort`` entry point (``_mae_ort_entry.main``, pyproject's [project.scripts]): Ctrl-C while mae-ort is
still being imported prints the one ``interrupted`` line with exit code 130, not the import's traceback."""

from __future__ import annotations

import importlib.abc
import re
import sys
from pathlib import Path

import _mae_ort_entry

ROOT = Path(__file__).resolve().parents[1]


class _CtrlCOnImport(importlib.abc.MetaPathFinder):
    """Raises KeyboardInterrupt when ``name`` is imported: where a Ctrl-C in the first half-second lands."""

    def __init__(self, name: str) -> None:
        self.name = name

    def find_spec(self, fullname, path=None, target=None):
        if fullname == self.name:
            raise KeyboardInterrupt
        return None


def test_ctrl_c_while_importing_is_one_line(monkeypatch, capsys):
    monkeypatch.delitem(sys.modules, "mae_ort.cli", raising=False)  # imported by main, as in a fresh process
    monkeypatch.setattr(sys, "meta_path", [_CtrlCOnImport("mae_ort.cli"), *sys.meta_path])
    assert _mae_ort_entry.main(["--help"]) == 130
    out, err = capsys.readouterr()
    assert out == "" and err == _mae_ort_entry.LINE + "\n"
    assert err.startswith("interrupted: ") and "Traceback" not in err


def test_without_a_signal_it_runs_the_cli(capsys):
    from mae_ort.cli import main

    assert _mae_ort_entry.main(["--help"]) == 0
    ours = capsys.readouterr()
    assert main(["--help"]) == 0
    assert ours == capsys.readouterr() and "Usage: mae-ort" in ours.out


def test_the_console_script_is_this_entry_point():
    text = (ROOT / "pyproject.toml").read_text()
    scripts = text[text.index("[project.scripts]"):].split("\n[", 1)[0]
    assert re.search(r'^mae-ort = "_mae_ort_entry:main"$', scripts, re.M), scripts
    assert '"_mae_ort_entry"' in text[text.index("py-modules"):].split("\n", 1)[0]  # shipped in the wheel
