"""Generic CSV import: a header row names the columns, one record per row.

Header names are matched case-insensitively, ignoring spaces, '_', '-' and
'.' (so 'User Name', 'user_name' and 'login_username' all work):

=========== ===========================================================
field       header names
=========== ===========================================================
title       title, name, nickname, accountname
username    username, user, login, loginusername
password    password, pass, loginpassword
url         url, uri, website, loginuri
notes       notes, note, extra, comments, comment, additionalinfo, content
description description
domain      domain
host name   hostname, host
OTP         otp, totp, otpauth, otpsecret, logintotp, totpseed,
            twofasecret, authtoken
expiry      expiry, expires, expirydate
folder      folder, grouping, group, category, path
list        list, passwordlist
=========== ===========================================================

These cover the exports of Bitwarden, LastPass (extra, grouping), Firefox,
Safari (OTPAuth), Dashlane (category, otpSecret), 1Password, NordPass, Myki
and KeePassXC. Any other column becomes a generic field named after its
header; its value is secret when the header says so (password, secret, PIN,
CVV...). A header written as ``field:Name`` or ``secret:Name`` (what
Strongroom's own CSV export writes) is always a generic field, plain or
secret. When two columns mean the same field the first wins and the second
becomes a generic field. Empty generic cells are left out.

Placement: a folder column such as ``A/B/C`` (or ``A\\B``) puts the record in
list ``C`` inside folders ``A`` then ``B``. When the file has both a folder and
a list column, the folder column is the whole folder path and the list column
the list name. Without either, every record goes to one top-level list named
after the file. Rows are numbered as a spreadsheet shows them: the header is
row 1. Firefox's own sync credential (a ``chrome://`` URL) is skipped, and so
is a row holding nothing but a name that is the folder of other rows (NordPass
writes one for each folder).
"""

from __future__ import annotations

import csv
import io
import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from strongroom.server.interchange.bundle import (
    ImportBundle,
    ImportedField,
    ImportedRecord,
    ListCollector,
)
from strongroom.server.interchange.errors import MalformedFile
from strongroom.server.interchange.formats.common import (
    decode_text,
    default_list_name,
    parse_date,
    place_in_list,
    read_bytes,
    split_path,
)

logger = logging.getLogger(__name__)

FORMAT = "csv"

ROLE_ALIASES: Mapping[str, frozenset[str]] = {
    "title": frozenset({"title", "name", "nickname", "accountname"}),
    "username": frozenset({"username", "user", "login", "loginusername"}),
    "password": frozenset({"password", "pass", "loginpassword"}),
    "url": frozenset({"url", "uri", "website", "loginuri"}),
    "notes": frozenset(
        {"notes", "note", "extra", "comments", "comment", "additionalinfo", "content"}
    ),
    "description": frozenset({"description"}),
    "domain": frozenset({"domain"}),
    "host_name": frozenset({"hostname", "host"}),
    "otp_secret": frozenset(
        {
            "otp",
            "totp",
            "otpauth",
            "otpsecret",
            "logintotp",
            "totpseed",
            "twofasecret",
            "authtoken",
        }
    ),
    "expires_at": frozenset({"expiry", "expires", "expirydate"}),
    "folder": frozenset({"folder", "grouping", "group", "category", "path"}),
    "list": frozenset({"list", "passwordlist"}),
}

# Text roles copied straight onto ImportedRecord attributes of the same name.
TEXT_ROLES = (
    "title",
    "username",
    "password",
    "url",
    "notes",
    "description",
    "domain",
    "host_name",
    "otp_secret",
)

FIELD_PREFIX = "field:"
SECRET_PREFIX = "secret:"  # noqa: S105 (a header prefix, not a password)

_IGNORED_IN_HEADER = re.compile(r"[\s_.\-]+")
# Marking a column secret only masks and seals it, so err on that side: card,
# account, identity-document numbers and keys of any kind count as secrets.
_SECRET_HEADER = re.compile(
    r"password|passwd|passphrase|secret|cvv|cvc|securitycode|privatekey|"
    r"verificationnumber|^pin$|pincode|^code$|number|ccnum|iban|ssn|"
    r"socialsecurity|passport|licen[cs]e|routing|key$|token|recovery"
)


@dataclass(frozen=True)
class Column:
    """One header cell: the record field it fills, or a generic field name."""

    index: int
    header: str
    role: str | None
    secret: bool = False


@dataclass
class CsvTable:
    """The parsed file: header cells and (row number, cells) pairs."""

    header: list[str]
    rows: list[tuple[int, list[str]]]
    warnings: list[str] = field(default_factory=list)


@dataclass
class CsvRow:
    """One data row split into record fields (by role) and generic fields."""

    number: int
    roles: dict[str, str]
    generic: list[tuple[Column, str]]
    cell_count: int = 0
    overflow: bool = False  # non-empty cells beyond the header

    @property
    def ref(self) -> str:
        """The row as error messages name it."""
        return f"row {self.number}"


def normalize_header(text: str) -> str:
    """Return a header cell lower-cased without spaces, '_', '-' or '.'."""
    return _IGNORED_IN_HEADER.sub("", text.strip().lower())


def read_table(path: Path) -> CsvTable:
    """Read and parse a CSV file; raise MalformedFile if it is not valid CSV."""
    text = decode_text(read_bytes(path))
    records, warnings = parse_records(text)
    if not records:
        raise MalformedFile(
            "the file is empty", hint="a CSV import needs a header row naming fields"
        )
    rows = [
        (number, cells)
        for number, cells in enumerate(records[1:], start=2)
        if any(cell.strip() for cell in cells)
    ]
    return CsvTable(header=records[0], rows=rows, warnings=warnings)


def parse_records(text: str) -> tuple[list[list[str]], list[str]]:
    """Split CSV text into records; return them and any reading warnings.

    RFC 4180 is tried first. Some exporters break it: 1Password for Mac
    escapes quotes with a backslash and Firefox leaves a quote undoubled
    inside its sync credential. Such a file is read again with backslash
    escapes, then leniently, and the warning says so. A quote left open at
    the end of the file is always an error, since the rest of the file would
    silently become one value.
    """
    try:
        return _read_strict(text), []
    except _CsvProblem as problem:
        if problem.unclosed_quote:
            raise MalformedFile(
                f"row {problem.row}: a quoted value is never closed "
                "(the file ends inside quotes)",
                hint="close or remove the stray quote and import again",
            ) from None
        first = problem
    try:
        records = _read_strict(text, escapechar="\\")
        note = "the file escapes quotes with backslashes; it was read that way"
        return records, [note]
    except _CsvProblem:
        pass
    try:
        records = list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error as error:
        raise MalformedFile(
            f"row {first.row}: the file is not valid CSV ({error})",
            hint="check the quotes in that row and import again",
        ) from None
    note = (
        f"row {first.row}: a quote inside a quoted value is not doubled; "
        "the file was read leniently, check that row after the import"
    )
    return records, [note]


class _CsvProblem(Exception):
    def __init__(self, row: int, error: csv.Error) -> None:
        super().__init__(str(error))
        self.row = row
        self.unclosed_quote = "unexpected end of data" in str(error)


def _read_strict(text: str, escapechar: str | None = None) -> list[list[str]]:
    records: list[list[str]] = []
    reader = csv.reader(
        io.StringIO(text, newline=""), strict=True, escapechar=escapechar
    )
    try:
        for cells in reader:
            records.append(cells)
    except csv.Error as error:
        if "field larger than field limit" in str(error):
            raise MalformedFile(
                f"row {len(records) + 1}: a value is longer than "
                f"{csv.field_size_limit()} characters",
                hint="shorten it, or check for a quote that is never closed",
            ) from None
        raise _CsvProblem(len(records) + 1, error) from None
    return records


def map_columns(
    header: list[str], extra_roles: Mapping[str, frozenset[str]] | None = None
) -> list[Column]:
    """Give each header cell a role (a record field) or make it a generic field."""
    aliases = {**ROLE_ALIASES, **(extra_roles or {})}
    by_name = {name: role for role, names in aliases.items() for name in names}
    taken: set[str] = set()
    columns = []
    for index, raw in enumerate(header):
        columns.append(_map_column(index, raw.strip(), by_name, taken))
    return columns


def _map_column(
    index: int, header: str, by_name: dict[str, str], taken: set[str]
) -> Column:
    lowered = header.lower()
    if lowered.startswith(SECRET_PREFIX):
        return Column(index, header[len(SECRET_PREFIX) :], None, secret=True)
    if lowered.startswith(FIELD_PREFIX):
        return Column(index, header[len(FIELD_PREFIX) :], None)
    role = by_name.get(normalize_header(header))
    if role is not None and role not in taken:
        taken.add(role)
        return Column(index, header, role)
    name = header or f"Column {index + 1}"
    return Column(
        index, name, None, secret=bool(_SECRET_HEADER.search(normalize_header(name)))
    )


def split_row(number: int, cells: list[str], columns: list[Column]) -> CsvRow:
    """Sort a row's cells by column; missing trailing cells count as empty.

    Call `check_width` on the row before using it.
    """
    overflow = any(cell.strip() for cell in cells[len(columns) :])
    row = CsvRow(number, {}, [], cell_count=len(cells), overflow=overflow)
    for column in columns:
        value = cells[column.index] if column.index < len(cells) else ""
        if column.role is not None:
            row.roles[column.role] = value
        elif value != "":
            row.generic.append((column, value))
    return row


def check_width(row: CsvRow, width: int) -> None:
    """Refuse a row with more non-empty values than the header has columns."""
    if row.overflow:
        raise MalformedFile(
            f"{row.ref}: {row.cell_count} values but the header names {width} columns",
            hint="quote values that contain commas, or add the missing headers",
        )


def build_record(row: CsvRow, warnings: list[str]) -> ImportedRecord:
    """Turn a split row into a record; a bad expiry date stays a generic field."""
    record = ImportedRecord(title="", source_ref=row.ref)
    for role in TEXT_ROLES:
        setattr(record, role, row.roles.get(role, ""))
    record.title = record.title.strip()
    expiry = row.roles.get("expires_at", "").strip()
    if expiry:
        record.expires_at = parse_date(expiry)
        if record.expires_at is None:
            warnings.append(
                f"{row.ref}: the expiry {expiry!r} is not a YYYY-MM-DD date; "
                "it was kept as the field 'Expiry'"
            )
            record.fields.append(ImportedField("Expiry", expiry))
    record.fields.extend(
        ImportedField(column.header, value, column.secret)
        for column, value in row.generic
    )
    return record


def is_browser_internal(row: CsvRow) -> bool:
    """True for browser-internal rows such as Firefox's chrome://FirefoxAccounts."""
    return row.roles.get("url", "").strip().lower().startswith("chrome://")


def placement(
    row: CsvRow, columns: Iterable[Column], default_name: str
) -> tuple[tuple[str, ...], str]:
    """Return (folder path, list name) for a row, by the rule in the module doc."""
    roles = {column.role for column in columns}
    folder = row.roles.get("folder", "")
    list_name = row.roles.get("list", "").strip()
    if "folder" in roles and list_name:
        return split_path(folder), list_name
    return place_in_list(split_path(folder or list_name), default_name)


def is_folder_row(row: CsvRow, folders: set[str]) -> bool:
    """True for a row that only names a folder other rows are in.

    NordPass writes each folder as a row of its own holding nothing but the
    folder's name in its name column; importing it would add an empty record
    beside the folder's real contents.
    """
    title = row.roles.get("title", "").strip()
    others = [v for role, v in row.roles.items() if role != "title" and v.strip()]
    return bool(title) and title in folders and not others and not row.generic


def read_csv(path: Path) -> ImportBundle:
    """Read a generic CSV export (see the module docstring for the rules)."""
    table = read_table(path)
    columns = map_columns(table.header)
    bundle = ImportBundle(source_format=FORMAT, lists=[], warnings=table.warnings)
    collector = ListCollector()
    default_name = default_list_name(path, "CSV import")
    rows = [split_row(number, cells, columns) for number, cells in table.rows]
    folders = {row.roles.get("folder", "").strip() for row in rows} - {""}
    for row in rows:
        if is_browser_internal(row):
            bundle.warnings.append(
                f"{row.ref}: skipped a browser-internal entry "
                f"({row.roles['url'].strip()[:40]}), which is not a website login"
            )
            continue
        if is_folder_row(row, folders):
            bundle.warnings.append(
                f"{row.ref}: skipped {row.roles['title'].strip()!r}, which only "
                "names the folder of other rows"
            )
            continue
        check_width(row, len(columns))
        folder_path, name = placement(row, columns, default_name)
        collector.add(folder_path, name, build_record(row, bundle.warnings))
    bundle.lists = collector.lists()
    logger.info("interchange.csv.read", extra={"record_count": bundle.record_count()})
    return bundle
