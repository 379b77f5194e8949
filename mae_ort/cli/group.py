"""The ``mae-ort`` click group and its entry point: bad input prints one line and exits with code 2."""

from __future__ import annotations

import click

from ..errors import MaeOrtError

__all__ = ["cli", "main"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="mae-ort")
def cli() -> None:
    """Rank recurrent architectures by MAE random sampling, without training."""


def main(argv=None) -> int:
    """Entry point: run the CLI; bad input prints one line and exits with code 2."""
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
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        return 130
    return 0
