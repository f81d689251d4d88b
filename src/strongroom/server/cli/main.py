"""The `strongroom` admin command: one handler turns errors into one line."""

import sys
from pathlib import Path

import typer

from strongroom import __version__
from strongroom.server.cli import accounts as accounts_cli
from strongroom.server.cli import admin as admin_cli
from strongroom.server.cli import api_keys as api_keys_cli
from strongroom.server.cli import doctor as doctor_cli
from strongroom.server.cli import interchange as interchange_cli
from strongroom.server.cli import mobile as mobile_cli
from strongroom.server.cli import setup
from strongroom.server.cli import vault as vault_cli
from strongroom.server.cli import web as web_cli
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
app.add_typer(accounts_cli.user_app, name="user")
app.add_typer(accounts_cli.group_app, name="group")
app.add_typer(accounts_cli.feature_app, name="feature")
app.add_typer(vault_cli.folder_app, name="folder")
app.add_typer(vault_cli.list_app, name="list")
app.add_typer(vault_cli.record_app, name="record")
app.command("grant")(vault_cli.grant)
app.command("revoke")(vault_cli.revoke)
app.add_typer(vault_cli.mobile_access_app, name="mobile-access")
app.command("permissions")(vault_cli.permissions)
app.add_typer(admin_cli.settings_app, name="settings")
app.add_typer(api_keys_cli.api_key_app, name="api-key")
app.add_typer(admin_cli.audit_app, name="audit")
app.command("import")(interchange_cli.import_)
app.command("export")(interchange_cli.export)
app.add_typer(doctor_cli.doctor_app, name="doctor")
app.add_typer(mobile_cli.mobile_app, name="mobile")
mobile_cli.mobile_app.command("query-pin")(doctor_cli.query_pin_command)
app.command("appserver")(mobile_cli.appserver)
app.command("serve")(mobile_cli.serve)
app.command("web")(web_cli.web)


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
