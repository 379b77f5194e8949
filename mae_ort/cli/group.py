"""The ``mae-ort`` click group and its entry point: bad input prints one line and exits with code 2.

Ctrl-C and SIGTERM (turned into :class:`~mae_ort.errors.Interrupted` for the whole run) end
every command with one line, ``interrupted: ...``, and exit code 130 (143 for SIGTERM); the
long commands say what they kept and that a rerun resumes.

Warnings print as one line, ``warning: <message>``; output that cannot be written
(``mae-ort ... | head -c0``, a closed stdout) ends the command quietly with exit
code 1, never with a traceback.
"""

from __future__ import annotations

import errno
import os
import signal
import sys
import warnings

import click

from .._version import __version__
from .._workers import sigterm_raises
from ..errors import MaeOrtError

__all__ = ["cli", "main", "show_warning", "interrupted"]


def _signal_name(signum: int) -> str:
    return "Ctrl-C (SIGINT)" if signum == signal.SIGINT else signal.Signals(signum).name


def interrupted(error: BaseException, message: str | None = None) -> int:
    """Print the one line of an interrupted command on stderr and return its exit code, 128 + the signal's number
    (130 for Ctrl-C, 143 for SIGTERM).

    ``message`` says what was kept and how to resume; by default the line names the signal only.
    """
    signum = getattr(error, "signum", None) or signal.SIGINT
    line = message or f"interrupted: mae-ort stopped by {_signal_name(signum)}"
    try:
        tty = sys.stderr is not None and sys.stderr.isatty()
    except (OSError, ValueError):
        tty = False
    click.echo(("\n" if tty and signum == signal.SIGINT else "") + line, err=True)  # after the terminal's ^C
    return 128 + int(signum)


class _Group(click.Group):
    """The group: a command stopped by Ctrl-C or SIGTERM that did not say so itself ends with one line."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt as e:  # mae_ort.errors.Interrupted too (SIGTERM, see main)
            name = ctx.invoked_subcommand or "command"
            signum = getattr(e, "signum", None) or signal.SIGINT
            raise click.exceptions.Exit(interrupted(e, f"interrupted: mae-ort {name} stopped by "
                                                       f"{_signal_name(signum)}; no output file was half-written"))


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(version=__version__, prog_name="mae-ort")
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
    except click.exceptions.Abort as e:  # Ctrl-C while click parsed (click's blank line is printed already)
        if isinstance(e.__cause__, KeyboardInterrupt):
            return interrupted(e.__cause__)
        click.echo("aborted", err=True)  # end of input at a prompt
        return 1
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
    except KeyboardInterrupt as e:
        return interrupted(e)
    except SystemExit:
        if type(sys.stdout).__name__ != "_PacifyFlushWrapper":
            raise  # a command's own sys.exit(code)
        _silence_stdout()  # click's answer to a closed pipe: exit(1) after wrapping the streams
        return 1
    return 0


def main(argv=None) -> int:
    """Entry point: run the CLI; bad input prints one line and exits with code 2.

    Warnings print as ``warning: <message>`` (one line each) while the command runs.
    When stdout cannot be written (a closed pipe, a closed stream) the command
    stops quietly and returns 1.
    """
    with warnings.catch_warnings(), sigterm_raises():  # SIGTERM takes Ctrl-C's clean path
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
