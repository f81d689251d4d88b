"""`strongroom import` and `strongroom export`.

An import is all or nothing: the file is read and checked whole, then written
in one transaction (see `interchange.service` for where lists land and how a
list that exists already is merged into). An export writes every secret of
the chosen lists in plain text, so the file is created with mode 0600 and the
command says so on standard error.
"""

import logging
from pathlib import Path

import typer

from strongroom.server.cli import common
from strongroom.server.cli.common import (
    PasswordStdinOption,
    done,
    err_console,
    operation,
    read_secret,
    refuse_missing_folder,
)
from strongroom.server.core.errors import UsageError
from strongroom.server.interchange import service
from strongroom.server.interchange.bundle import ImportBundle
from strongroom.server.interchange.errors import PasswordRequired
from strongroom.server.interchange.formats import FORMATS
from strongroom.server.interchange.readers import read_file
from strongroom.server.interchange.writers import write_csv, write_json

log = logging.getLogger(__name__)

EXPORT_FORMATS = ("csv", "json")


def _warn(message: str) -> None:
    err_console.print(f"warning: {message}", highlight=False, markup=False)


def _read(
    path: Path,
    file_format: str | None,
    password_stdin: bool,
    key_file: Path | None,
) -> ImportBundle:
    # An empty password is a real one: KeePass databases may have it.
    password = (
        read_secret(True, "File password", allow_empty=True) if password_stdin else None
    )
    try:
        return read_file(path, format=file_format, password=password, key_file=key_file)
    except PasswordRequired:
        # Ask only on a terminal; a script is told to pipe it in instead.
        if password_stdin or not common.stdin_is_terminal():
            raise
    password = read_secret(False, "File password")
    return read_file(path, format=file_format, password=password, key_file=key_file)


def import_(
    file: Path = typer.Argument(..., help="The file to import."),
    into: str = typer.Option(
        ...,
        "--into",
        help="The folder to import under (created if missing; / for the top).",
    ),
    password_stdin: bool = PasswordStdinOption,
    key_file: Path | None = typer.Option(
        None, "--key-file", help="A KeePass key file."
    ),
    file_format: str | None = typer.Option(
        None,
        "--format",
        help=f"One of {', '.join(FORMATS)}; detected from the content if left out.",
    ),
) -> None:
    """Import a CSV, KeePass (KDBX or XML), Bitwarden or Strongroom JSON file."""
    if file_format is not None and file_format not in FORMATS:
        raise UsageError(
            f"there is no import format {file_format!r}",
            hint=f"give --format {', '.join(FORMATS)}, or leave it out to detect it",
        )
    for path, what in ((file, "file"), (key_file, "key file")):
        if path is not None and not path.is_file():
            raise UsageError(f"there is no {what} {path}", hint="check the path")
    # pykeepass logs its own complaints (e.g. "could not unprotect") at ERROR
    # before the reader turns them into one InterchangeError; on a terminal
    # that would be a second, rawer line for the same problem.
    logging.getLogger("pykeepass").setLevel(logging.CRITICAL)
    # The file is read before the database is opened: a bad file or password
    # fails without touching anything.
    bundle = _read(file, file_format, password_stdin, key_file)
    with operation() as (instance, session, actor):
        summary = service.import_bundle(session, actor, instance.cipher, bundle, into)
    for warning in summary.warnings:
        _warn(warning)
    done(
        f"Imported {summary.records} record(s) into {summary.lists} list(s) under "
        f"{summary.into or '/'} ({len(summary.lists_created)} new, "
        f"{len(summary.lists_merged)} existing) from {bundle.source_format}."
    )


def export(
    path: str | None = typer.Argument(
        None,
        metavar="[PATH]",
        help="A list, or a folder (every list in it and below).",
    ),
    all_lists: bool = typer.Option(False, "--all", help="Export every list."),
    to: Path = typer.Option(..., "--to", dir_okay=False, help="The file to write."),
    file_format: str | None = typer.Option(
        None, "--format", help="csv or json (default: from the file name, else csv)."
    ),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing file."),
) -> None:
    """Export lists with their secrets, in the clear, to CSV or JSON (mode 0600)."""
    if all_lists == (path is not None):
        raise UsageError(
            "name a list or folder, or pass --all (one of them)",
            hint="e.g. `strongroom export Finance --to finance.json`",
        )
    chosen = file_format or ("json" if to.suffix.lower() == ".json" else "csv")
    if chosen not in EXPORT_FORMATS:
        raise UsageError(
            f"there is no export format {chosen!r}", hint="give --format csv or json"
        )
    if to.exists() and not force:
        raise UsageError(f"{to} exists already", hint="choose another file or --force")
    refuse_missing_folder(to, "--to")

    # The file is written inside the transaction that records the audit
    # event; if the commit fails the file is removed, so no export goes
    # unaudited.
    created = False
    try:
        with operation() as (instance, session, actor):
            lists = service.lists_at(session, None if all_lists else path)
            bundle = service.export_bundle(session, actor, instance.cipher, lists)
            try:
                (write_json if chosen == "json" else write_csv)(bundle, to)
            except OSError as exc:
                raise UsageError(
                    f"cannot write the export to {to}: "
                    f"{exc.strerror or type(exc).__name__}",
                    hint="choose a file in a directory you may write to",
                ) from exc
            created = True
    except BaseException:
        if created:
            to.unlink(missing_ok=True)
        raise
    _warn(
        f"{to} holds {bundle.record_count()} record(s) with their passwords in the "
        "clear (mode 0600): keep it safe and delete it when done"
    )
    done(f"Exported {len(bundle.lists)} list(s) to {to} as {chosen}.")
