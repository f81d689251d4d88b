"""The real `strongroom` executable: piped secrets, one-line errors, exit codes."""

import subprocess
from pathlib import Path

import click
import pytest
import sqlalchemy as sa
import typer.main

from strongroom.server.cli.main import app
from strongroom.server.core.config import Settings
from strongroom.server.core.db import Database
from strongroom.server.core.instance import Instance, initialise, operator
from strongroom.server.vault import service as vault
from tests.server.cli.conftest import STRONGROOM_BIN, Cli


def run(
    env: dict[str, str], *args: str, stdin: str = ""
) -> subprocess.CompletedProcess[str]:
    """Run `strongroom ARGS` as a user would, with `stdin` piped in."""
    return subprocess.run(
        [str(STRONGROOM_BIN), *args],
        input=stdin,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def assert_one_error(result: subprocess.CompletedProcess[str], code: int) -> None:
    """Exit `code`, and stderr is `error: ...` plus at most one `  fix: ...`."""
    assert result.returncode == code, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert lines[0].startswith("error: ") and len(lines) <= 2, lines
    assert all(line.startswith("  fix: ") for line in lines[1:]), lines


# The process-level behaviour (pipes, exit codes, stderr) is the same on both
# databases and every start costs seconds, so these run on SQLite; the
# in-process tests cover the same commands on PostgreSQL too.
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_piped_secrets_and_one_line_errors(
    subprocess_env: dict[str, str], instance: Instance
) -> None:
    """A password piped on stdin is stored and revealed; bad input gets one
    line, exit 1 (exit 2 for usage), and no traceback."""
    with instance.db.session() as session:
        plist = vault.create_list(session, operator(), "Team/Web", create_folders=True)
        list_id = plist.id
    added = run(
        subprocess_env,
        "record",
        "add",
        "Team/Web",
        "--title",
        "site",
        "--password-stdin",
        stdin="piped-S3cret\n",
    )
    assert added.returncode == 0, added.stderr
    assert "piped-S3cret" not in added.stdout + added.stderr
    with instance.db.session() as session:
        plist = vault.get_list(session, list_id)
        (record,) = vault.records_in(session, operator(), plist)
        view = vault.open_record(session, instance.cipher, record)
    assert view.password == "piped-S3cret"

    bad_level = run(
        subprocess_env, "grant", "Team/Web", "--user", "admin", "--level", "owner"
    )
    assert_one_error(bad_level, 2)
    assert bad_level.stderr.startswith("error: there is no level 'owner'")
    duplicate = run(subprocess_env, "list", "add", "Team/Web")
    assert_one_error(duplicate, 1)
    assert duplicate.stderr.startswith("error: a password list 'Team/Web' already")


def test_setup_problems_through_the_real_executable(tmp_path: Path) -> None:
    """A data directory without a key and a schema behind are refused with one
    line naming the fix."""
    env = {"PATH": "/usr/bin:/bin", "STRONGROOM_DATA_DIR": str(tmp_path / "none")}
    no_key = run(env, "list", "list")
    assert_one_error(no_key, 1)
    assert "no instance key" in no_key.stderr and "strongroom init" in no_key.stderr

    settings = Settings(data_dir=tmp_path / "data", environment="test")
    initialise(settings, admin_name="admin", admin_password="admin-password-123")
    db = Database(settings.resolved_database_url)
    with db.engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM alembic_version"))
        conn.execute(sa.text("INSERT INTO alembic_version VALUES ('0001')"))
    db.dispose()
    env["STRONGROOM_DATA_DIR"] = str(settings.data_dir)
    behind = run(env, "user", "list")
    assert_one_error(behind, 1)
    assert "at revision 0001" in behind.stderr
    assert "fix: run `strongroom db upgrade`" in behind.stderr


def _commands(
    command: click.Command, path: tuple[str, ...] = ()
) -> list[tuple[str, ...]]:
    found = [path]
    # Typer vendors its own Click, so test for a group by its shape.
    subcommands: dict[str, click.Command] = getattr(command, "commands", {})
    for name, sub in subcommands.items():
        found.extend(_commands(sub, (*path, name)))
    return found


def test_every_command_has_help() -> None:
    """`strongroom --help` and every subcommand's --help answer with usage."""
    cli = Cli({})
    paths = _commands(typer.main.get_command(app))
    assert ("record", "show") in paths and ("mobile-access", "set") in paths
    for path in paths:
        result = cli(*path, "--help")
        assert result.exit_code == 0, path
        assert "Usage" in result.stdout, path


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize(
    ("variable", "value", "words"),
    [
        (
            "STRONGROOM_DATABASE_URL",
            "mysql+nodriver://u:hunter2@db/x",
            "error: the database URL is not one Strongroom can use",
        ),
        (
            "STRONGROOM_DATABASE_URL",
            "not a url",
            "error: the database URL is not one Strongroom can use",
        ),
        (
            "STRONGROOM_APPSERVER_PORT",
            "99999",
            "error: the configuration value of appserver_port is not valid",
        ),
        (
            "STRONGROOM_WEB_PORT",
            "0",
            "error: the configuration value of web_port is not valid",
        ),
        (
            "STRONGROOM_LOG_LEVEL",
            "LOUD",
            "error: the configuration value of log_level is not valid",
        ),
    ],
)
def test_bad_environment_values_get_one_line(
    subprocess_env: dict[str, str], variable: str, value: str, words: str
) -> None:
    """A database URL SQLAlchemy cannot parse, a port outside 1-65535 and an
    unknown log level get one line naming the variable, exit 1, no traceback,
    and no password."""
    env = {**subprocess_env, variable: value}
    result = run(env, "user", "list")
    assert_one_error(result, 1)
    assert result.stderr.startswith(words)
    assert variable in result.stderr
    assert "hunter2" not in result.stderr + result.stdout
