"""The ``mae-ort`` click group and its entry point: bad input prints one line and exits with code 2.

Warnings print as one line, ``warning: <message>``; output that cannot be written
(``mae-ort ... | head -c0``, a closed stdout) ends the command quietly with exit
code 1, never with a traceback.
"""

from __future__ import annotations

import errno
import os
import sys
import warnings

import click

from ..errors import MaeOrtError

__all__ = ["cli", "main", "show_warning"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="mae-ort")
def cli() -> None:
    """Rank recurrent architectures by MAE random sampling, without training."""


def show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """Print a warning as one line, ``warning: <message>``, on stderr (a :func:`warnings.showwarning`)."""
    text = " ".join(str(message).split())
    stream = file if file is not None else sys.stderr
    if stream is None:
        return
    try:
        stream.write(f"warning: {text}\n")
        stream.flush()
    except (OSError, ValueError):  # stderr gone too: nothing to tell
        pass


def _output_lost(e: BaseException) -> bool:
    """Whether ``e`` says that stdout cannot be written (a closed pipe or a closed stream)."""
    if isinstance(e, BrokenPipeError) or (isinstance(e, OSError) and e.errno in (errno.EPIPE, errno.EBADF)):
        return True
    out = sys.stdout
    return isinstance(e, ValueError) and not isinstance(e, MaeOrtError) and (out is None or out.closed)


def _silence_stdout() -> None:
    """Point stdout at /dev/null, so that the interpreter's last flush does not fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):
        pass


def _run(argv) -> int:
    try:
        code = cli.main(args=argv, prog_name="mae-ort", standalone_mode=False)
        if isinstance(code, int) and code:
            return code
    except click.exceptions.Exit as e:
        return e.exit_code
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        return 130
    except click.ClickException as e:
        click.echo(f"error: {e.format_message()}", err=True)
        return 2
    except MaeOrtError as e:
        click.echo(f"error: {e}", err=True)
        return 2
    except MemoryError as e:
        click.echo(f"error: out of memory{f' ({e})' if str(e) else ''}; use fewer --samples or a smaller "
                   "--memory-budget", err=True)
        return 1
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        return 130
    except SystemExit:
        if type(sys.stdout).__name__ != "_PacifyFlushWrapper":
            raise  # a command's own exit code (128 + signal after SIGTERM)
        _silence_stdout()  # click's answer to a closed pipe: exit(1) after wrapping the streams
        return 1
    return 0


def main(argv=None) -> int:
    """Entry point: run the CLI; bad input prints one line and exits with code 2.

    Warnings print as ``warning: <message>`` (one line each) while the command runs.
    When stdout cannot be written (a closed pipe, a closed stream) the command
    stops quietly and returns 1.
    """
    with warnings.catch_warnings():
        warnings.showwarning = show_warning
        try:
            code = _run(argv)
            if sys.stdout is not None:
                sys.stdout.flush()
            return code
        except (OSError, ValueError) as e:
            if not _output_lost(e):
                raise
            _silence_stdout()
            return 1
