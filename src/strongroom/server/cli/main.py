"""The `strongroom` admin command: one handler turns errors into one line."""

import sys
from pathlib import Path

import typer

from strongroom import __version__
from strongroom.server.cli import setup
from strongroom.server.cli.common import STATE, err_console
from strongroom.server.core import logging_setup
from strongroom.server.core.errors import StrongroomError

app = typer.Typer(
    name="strongroom",
    help="Strongroom: the self-hosted team password manager (admin CLI).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


@app.callback()
def main(
    data_dir: Path | None = typer.Option(
        None,
        "--data-dir",
        envvar="STRONGROOM_DATA_DIR",
        help="The instance's data directory (default ./strongroom-data).",
    ),
) -> None:
    """Strongroom: the self-hosted team password manager (admin CLI)."""
    STATE.data_dir = data_dir


@app.command()
def version() -> None:
    """Print the version."""
    typer.echo(__version__)


app.command()(setup.init)
app.add_typer(setup.db_app, name="db")
app.add_typer(setup.keys_app, name="keys")


def run() -> None:
    """Entry point: run the command, turning every known error into one line."""
    logging_setup.configure(level="WARNING")
    # Typer's standalone mode already answers usage errors (exit 2) and
    # Ctrl-C; what reaches this handler is Strongroom's own family.
    try:
        app()
    except StrongroomError as exc:
        report(exc)
        sys.exit(exc.exit_code)
    finally:
        STATE.close()


def report(exc: StrongroomError) -> None:
    """Print an error as one line, and the fix on the next when there is one."""
    err_console.print(f"error: {exc.message}", highlight=False, markup=False)
    if exc.hint:
        err_console.print(f"  fix: {exc.hint}", highlight=False, markup=False)
