"""The ``mae-ort`` command's entry point, outside the ``mae_ort`` package so that it runs before any of it is
imported: Ctrl-C during the first half-second (while numpy, pandas, click and mae-ort load) ends the command with
the one ``interrupted`` line every command prints, exit code 130, instead of a traceback of the import."""

from __future__ import annotations

import sys

__all__ = ["main"]

#: The one line of a Ctrl-C that arrives while mae-ort is being imported.
LINE = "interrupted: mae-ort stopped by Ctrl-C (SIGINT) while starting; nothing was done"


def main(argv=None) -> int:
    """Import :func:`mae_ort.cli.main` and run it; a Ctrl-C during the import prints one line and returns 130."""
    try:
        from mae_ort.cli import main as run
    except KeyboardInterrupt:
        try:
            tty = sys.stderr is not None and sys.stderr.isatty()
        except (OSError, ValueError):
            tty = False
        print(("\n" if tty else "") + LINE, file=sys.stderr)  # after the terminal's ^C
        return 130
    return run(argv)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
