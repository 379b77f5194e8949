"""Output files are replaced whole or not at all (mae_ort._files)."""

from __future__ import annotations

import pytest

from mae_ort._files import atomic_path, write_atomic


def test_a_finished_write_replaces_the_file_and_keeps_the_suffix(tmp_path):
    p = tmp_path / "table.csv"
    p.write_text("old")
    with atomic_path(p) as tmp:
        assert tmp.parent == tmp_path and tmp.suffix == ".csv" and tmp != p  # savefig/Keras pick the format by it
        tmp.write_text("new")
        assert p.read_text() == "old"  # nothing changes before the end
    assert p.read_text() == "new" and [f.name for f in tmp_path.iterdir()] == ["table.csv"]


@pytest.mark.parametrize("stop", [KeyboardInterrupt, OSError])
def test_a_stopped_write_leaves_the_old_file_and_no_temporary(tmp_path, stop):
    p = tmp_path / "README.md"
    p.write_text("old")
    with pytest.raises(stop):
        with atomic_path(p) as tmp:
            tmp.write_text("half")
            raise stop()
    assert p.read_text() == "old" and [f.name for f in tmp_path.iterdir()] == ["README.md"]


def test_write_atomic_text_and_bytes(tmp_path):
    assert write_atomic(tmp_path / "a.md", "ρ = 1").read_text(encoding="utf-8") == "ρ = 1"
    assert write_atomic(tmp_path / "b.onnx", b"\x00\x01").read_bytes() == b"\x00\x01"


def test_the_temporary_file_of_a_killed_writer_is_removed_by_the_next_write(tmp_path):
    import subprocess
    import sys

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    stale = tmp_path / f".model.{int(dead.stdout)}.partial.keras"  # what a SIGKILL during a save leaves
    stale.write_text("half")
    other = tmp_path / ".other.1.partial.keras"  # another target's: not ours to touch
    other.write_text("x")
    write_atomic(tmp_path / "model.keras", b"whole")
    assert sorted(f.name for f in tmp_path.iterdir()) == [".other.1.partial.keras", "model.keras"]
