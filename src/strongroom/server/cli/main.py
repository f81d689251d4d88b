"""The `strongroom` admin command: one handler turns errors into one line."""

import sys
import tomllib
from pathlib import Path

import typer
from pydantic import ValidationError as PydanticValidationError
from sqlalchemy.exc import DatabaseError, OperationalError

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
from strongroom.server.core.errors import (
    ConfigurationError,
    ServiceUnavailable,
    StrongroomError,
)

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
    except Exception as exc:
        translated = translate(exc)
        if translated is None:
            raise
        report(translated)
        sys.exit(translated.exit_code)
    finally:
        STATE.close()


def translate(exc: Exception) -> StrongroomError | None:
    """Turn a known failure from below (database, configuration) into words.

    Messages name the kind of failure only: driver messages can carry host
    names and, for some drivers, parts of the connection URL.
    """
    if isinstance(exc, OperationalError):
        return ServiceUnavailable(
            f"the database did not answer ({type(exc.orig).__name__})",
            hint="check that it runs and that STRONGROOM_DATABASE_URL / --data-dir "
            "point at it",
        )
    if isinstance(exc, DatabaseError):
        return ConfigurationError(
            f"the database refused the request ({type(exc.orig).__name__})",
            hint="check that STRONGROOM_DATABASE_URL / --data-dir name a Strongroom "
            "database and run `strongroom db upgrade` after upgrades",
        )
    if isinstance(exc, PydanticValidationError):
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first.get("loc", ())) or "a setting"
        return ConfigurationError(
            f"the configuration value of {where} is not valid: {first.get('msg')}",
            hint=f"fix STRONGROOM_{where.upper()} or `{where}` in strongroom.toml",
        )
    if isinstance(exc, tomllib.TOMLDecodeError):
        return ConfigurationError(
            f"strongroom.toml is not valid TOML: {exc}",
            hint="fix the line it names in the data directory's strongroom.toml",
        )
    return None


def report(exc: StrongroomError) -> None:
    """Print an error as one line, and the fix on the next when there is one."""
    err_console.print(f"error: {exc.message}", highlight=False, markup=False)
    if exc.hint:
        err_console.print(f"  fix: {exc.hint}", highlight=False, markup=False)
