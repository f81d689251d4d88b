"""Running the admin CLI in-process against the test's instance.

Typer's CliRunner calls the command directly, bypassing `main.run()`, whose one
handler turns a StrongroomError into `error: ...` / `  fix: ...` and its exit
code. `Cli` does the same with the exception the runner caught, so tests can
assert on the words a user would see; the subprocess tests prove that the real
entry point prints exactly that.
"""

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import click
import pytest
import typer.main
import typer.testing
from typer.testing import CliRunner

from strongroom.server.cli.common import STATE
from strongroom.server.cli.main import app
from strongroom.server.core import schema
from strongroom.server.core.config import Settings
from strongroom.server.core.errors import StrongroomError
from strongroom.server.core.instance import InitResult
from tests.server.support import use_cheap_hashing

REPO = Path(__file__).resolve().parents[3]
STRONGROOM_BIN = REPO / ".venv" / "bin" / "strongroom"


@dataclass
class CliResult:
    """What a user would see: exit code, standard output and standard error."""

    exit_code: int
    stdout: str
    stderr: str
    error: StrongroomError | None = None


class Cli:
    """Invoke `strongroom ...` in-process with the instance's environment."""

    def __init__(self, env: dict[str, str | None]) -> None:
        self.env = env

    def __call__(self, *args: str, input: str | None = None) -> CliResult:
        runner = CliRunner()
        try:
            result = runner.invoke(app, list(args), input=input, env=self.env)
        finally:
            STATE.close()
        exc = result.exception
        if isinstance(exc, StrongroomError):
            lines = f"error: {exc.message}\n"
            if exc.hint:
                lines += f"  fix: {exc.hint}\n"
            return CliResult(exc.exit_code, result.stdout, result.stderr + lines, exc)
        if exc is not None and not isinstance(exc, SystemExit):
            raise exc
        return CliResult(result.exit_code, result.stdout, result.stderr)


def cli_env(settings: Settings) -> dict[str, str | None]:
    """The environment that points the CLI at `settings`' instance."""
    return {
        "STRONGROOM_DATA_DIR": str(settings.data_dir),
        "STRONGROOM_DATABASE_URL": settings.database_url,
        "STRONGROOM_INSTANCE_KEY": None,
        "STRONGROOM_ENVIRONMENT": "test",
        "COLUMNS": "200",
    }


@pytest.fixture(autouse=True)
def _cheap_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    use_cheap_hashing(monkeypatch)


@pytest.fixture(scope="session")
def _built() -> tuple[click.Command, set[str]]:
    return typer.main.get_command(app), schema.head_revisions()


@pytest.fixture(autouse=True)
def _fast_cli(
    monkeypatch: pytest.MonkeyPatch, _built: tuple[click.Command, set[str]]
) -> None:
    # Building the Click command tree and parsing the migration scripts take
    # about 0.1 s per invocation; neither changes during a test run, so both
    # are built once (the subprocess tests run the real, uncached thing).
    command, heads = _built
    monkeypatch.setattr(typer.testing, "_get_command", lambda _app: command)
    monkeypatch.setattr(schema, "head_revisions", lambda: set(heads))


@pytest.fixture
def cli(settings: Settings, initialised: InitResult) -> Iterator[Cli]:
    """The CLI bound to a freshly initialised instance on the test's database."""
    yield Cli(cli_env(settings))
    STATE.close()


@pytest.fixture
def subprocess_env(settings: Settings, initialised: InitResult) -> dict[str, str]:
    """An environment for running the real `strongroom` executable."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("STRONGROOM_")}
    env.update({k: v for k, v in cli_env(settings).items() if v is not None})
    return env
