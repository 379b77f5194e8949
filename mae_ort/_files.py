"""Output files that are never half-written: write to a temporary name beside the target, then rename.

A command stopped part-way (Ctrl-C, SIGTERM, a full disk) leaves the previous file (or
none) at the target path, never a truncated one; the temporary file is removed.  The
temporary name keeps the target's suffix, so that writers that choose a format by the
suffix (``savefig``, Keras' ``save``) still do.  Imports nothing of mae-ort.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Iterator

__all__ = ["atomic_path", "write_atomic"]


def _temporary(p: Path) -> Path:
    return p.with_name(f".{p.stem}.{os.getpid()}.partial{p.suffix}")


def _remove_stale(p: Path) -> None:
    """Remove the temporary files of ``p`` left by processes that died (SIGKILL) while writing it."""
    prefix, suffix = f".{p.stem}.", f".partial{p.suffix}"
    try:
        names = [f for f in p.parent.iterdir() if f.name.startswith(prefix) and f.name.endswith(suffix)]
    except OSError:
        return
    for f in names:
        pid = f.name[len(prefix):len(f.name) - len(suffix)]
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            with contextlib.suppress(OSError):
                f.unlink()
        except OSError:  # alive, another user's
            pass


@contextlib.contextmanager
def atomic_path(path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; when the block ends normally it replaces ``path`` at once,
    otherwise (an error, an interrupt) it is removed and ``path`` is left as it was.  Temporary files of
    ``path`` left by a process that was killed while writing it are removed first.

    Examples
    --------
    >>> with atomic_path("table.csv") as tmp:  # doctest: +SKIP
    ...     frame.to_csv(tmp, index=False)
    """
    p = Path(path)
    tmp = _temporary(p)
    _remove_stale(p)
    try:
        yield tmp
        os.replace(tmp, p)
    finally:
        with contextlib.suppress(OSError):
            if tmp.is_dir() and not tmp.is_symlink():  # a writer that made a folder (never ours)
                import shutil

                shutil.rmtree(tmp)
            else:
                tmp.unlink()


def write_atomic(path, data: "bytes | str") -> Path:
    """Write ``data`` (bytes, or text as UTF-8) to ``path`` through :func:`atomic_path`; returns the path."""
    p = Path(path)
    with atomic_path(p) as tmp:
        if isinstance(data, str):
            tmp.write_text(data, encoding="utf-8")
        else:
            tmp.write_bytes(data)
    return p
