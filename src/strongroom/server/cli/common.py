"""What every admin command shares: the opened instance, secret input, output."""

import json
import shlex
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text
from sqlalchemy.orm import Session

from strongroom.server.core.actor import Actor
from strongroom.server.core.config import Settings, load_settings
from strongroom.server.core.errors import UsageError
from strongroom.server.core.instance import Instance, operator

console = Console()
err_console = Console(stderr=True, soft_wrap=True)


@dataclass
class CliState:
    """Options given before the command (`--data-dir`)."""

    data_dir: Path | None = None
    _instance: Instance | None = field(default=None, repr=False)

    def settings(self) -> Settings:
        """The settings for this run, with the chosen data directory."""
        return load_settings(data_dir=self.data_dir)

    def instance(self) -> Instance:
        """The opened installation; refuses a missing key or a schema behind."""
        if self._instance is None:
            self._instance = Instance.open(self.settings())
        return self._instance

    def close(self) -> None:
        """Release the database and forget the instance (the next run reopens)."""
        if self._instance is not None:
            self._instance.close()
            self._instance = None


STATE = CliState()

JsonOption = typer.Option(False, "--json", help="Print JSON instead of a table.")
PasswordStdinOption = typer.Option(
    False, "--password-stdin", help="Read the secret from standard input."
)


@contextmanager
def operation() -> Iterator[tuple[Instance, Session, Actor]]:
    """Open the instance and one transaction for a command, as the operator."""
    instance = STATE.instance()
    with instance.db.session() as session:
        yield instance, session, operator()


def refuse_missing_folder(path: Path, option: str) -> None:
    """Refuse an output file whose folder is not there, rather than create it.

    A mistyped folder would otherwise appear silently, and a file holding
    secrets would land somewhere nobody looks.
    """
    folder = path.parent
    if not folder.exists():
        raise UsageError(
            f"{option} {path}: the folder {folder} does not exist",
            hint=f"create it first (mkdir -p {shlex.quote(str(folder))}) or "
            "choose a file in a folder that exists",
        )


def stdin_is_terminal() -> bool:
    """Tell whether a person could answer a prompt (tests replace this)."""
    return sys.stdin.isatty()


def read_secret(
    from_stdin: bool, prompt: str, *, confirm: bool = False, allow_empty: bool = False
) -> str:
    """Read a secret from stdin or a no-echo prompt; never from the command line."""
    if from_stdin:
        value = sys.stdin.readline().rstrip("\r\n")
    elif not stdin_is_terminal():
        raise UsageError(
            f"no terminal to ask for the {prompt.lower()}",
            hint="pipe it in and pass --password-stdin",
        )
    else:
        value = typer.prompt(prompt, hide_input=True, confirmation_prompt=confirm)
    if not value and not allow_empty:
        name = prompt.lower()
        raise UsageError(
            f"the {name} is empty",
            hint=f"put the {name} on the first line of standard input"
            if from_stdin
            else f"type a {name} at the prompt; it cannot be left empty",
        )
    return value


def emit(
    rows: Sequence[dict[str, Any]],
    columns: Sequence[str],
    *,
    as_json: bool,
    title: str | None = None,
) -> None:
    """Print rows as a Rich table, or as a JSON array with `--json`."""
    if as_json:
        typer.echo(json.dumps(list(rows), indent=2, default=str))
        return
    table = Table(title=Text(title) if title else None)
    for column in columns:
        table.add_column(column.replace("_", " ").title())
    for row in rows:
        # Text, not str: a value such as "[bold]" is data, never Rich markup.
        table.add_row(
            *(Text("" if row.get(c) is None else str(row.get(c))) for c in columns)
        )
    console.print(table)


def done(message: str) -> None:
    """Print a one-line confirmation (names in it are shown as typed, no markup).

    Never wrapped: an id split across lines could not be copied or grepped.
    """
    console.print(message, highlight=False, markup=False, soft_wrap=True)


def yes_no(value: str, option: str) -> bool:
    """Read `yes` or `no` for an option, as a usage error otherwise."""
    lowered = value.strip().lower()
    if lowered in {"yes", "y", "true", "on"}:
        return True
    if lowered in {"no", "n", "false", "off"}:
        return False
    raise UsageError(f"{option} takes yes or no, not {value!r}")
