"""Passwordstate's CSV import layout.

The header is ``PasswordListID,Title,UserName,Description,AccountType,Notes,
URL,Password,ExpiryDate,GenericField1..GenericField10``. Columns map as in the
generic CSV reader (Title, UserName, Description, Notes, URL, Password,
ExpiryDate); AccountType and GenericField1..10 become generic fields named
after their headers. Rows may be shorter than the header.

PasswordListID names the Passwordstate list a row belongs to and must be
filled in on every row. Those ids mean nothing to Strongroom, so the rows of
a file that uses one id go to one top-level list named after the file; a file
that uses several ids gets one list per id, named ``<file> (list <id>)``. A
``PasswordList`` column (a list name, maybe with a ``Folder\\List`` path), if
present instead, places rows like the generic reader's folder column.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from strongroom.server.interchange.bundle import ImportBundle, ListCollector
from strongroom.server.interchange.errors import MalformedFile
from strongroom.server.interchange.formats.common import (
    default_list_name,
    place_in_list,
    split_path,
)
from strongroom.server.interchange.formats.csv_generic import (
    CsvRow,
    build_record,
    check_width,
    map_columns,
    normalize_header,
    read_table,
    split_row,
)

logger = logging.getLogger(__name__)

FORMAT = "passwordstate"

_EXTRA_ROLES = {"list_id": frozenset({"passwordlistid"})}


def is_passwordstate_header(header: Sequence[str]) -> bool:
    """True if a CSV header row is Passwordstate's import layout."""
    names = {normalize_header(cell) for cell in header}
    has_list = bool(names & {"passwordlistid", "passwordlist"})
    return has_list and {"title", "username", "password"} <= names


def read_passwordstate(path: Path) -> ImportBundle:
    """Read a CSV file in Passwordstate's import layout (module docstring)."""
    table = read_table(path)
    if not is_passwordstate_header(table.header):
        raise MalformedFile(
            "row 1: the header is not Passwordstate's import layout",
            hint="it needs PasswordListID, Title, UserName and Password columns; "
            "import the file with --format csv instead",
        )
    columns = map_columns(table.header, _EXTRA_ROLES)
    rows = [split_row(number, cells, columns) for number, cells in table.rows]
    bundle = ImportBundle(source_format=FORMAT, lists=[], warnings=table.warnings)
    collector = ListCollector()
    stem = default_list_name(path, "Passwordstate import")
    list_ids = {row.roles.get("list_id", "").strip() for row in rows}
    for row in rows:
        check_width(row, len(columns))
        folder_path, name = _placement(row, stem, several=len(list_ids) > 1)
        collector.add(folder_path, name, build_record(row, bundle.warnings))
    bundle.lists = collector.lists()
    logger.info(
        "interchange.passwordstate.read",
        extra={"record_count": bundle.record_count(), "list_count": len(list_ids)},
    )
    return bundle


def _placement(row: CsvRow, stem: str, *, several: bool) -> tuple[tuple[str, ...], str]:
    if "list" in row.roles:
        path = split_path(row.roles["list"])
        if path:
            return place_in_list(path, stem)
    list_id = row.roles.get("list_id", "").strip()
    if not list_id:
        column = "PasswordListID" if "list_id" in row.roles else "PasswordList"
        raise MalformedFile(
            f"{row.ref}: the {column!r} column is empty",
            hint="Passwordstate import files name the target list on every row; "
            "fill it in",
        )
    return (), f"{stem} (list {list_id})" if several else stem
