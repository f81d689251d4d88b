"""The neutral data model every import format is read into.

A reader turns a file into an `ImportBundle`: password lists (each with the
folder path above it) holding records. The database glue writes a bundle in one
transaction, so a reader must reject a bad file completely instead of returning
half of it; `finalize` applies the rules every format shares:

* Title fallback. A record without a title is named after the URL's host (or,
  without a URL, the host-name field) and the username, as ``host (username)``;
  with only one of them, that one; with neither, ``Untitled entry N`` where N
  counts the untitled records of the file from 1. A fallback that would break
  the title limit also becomes ``Untitled entry N``. Each fallback adds a
  warning naming the row or entry.
* Server limits. Title, username and description hold at most 255 characters,
  list and folder names at most 200, and no text may contain a NUL character
  (PostgreSQL cannot store one). Exceeding a limit raises `MalformedFile` naming
  the row or entry; nothing is ever truncated silently.
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from strongroom.server.interchange.errors import MalformedFile

logger = logging.getLogger(__name__)

TITLE_MAX = 255
USERNAME_MAX = 255
DESCRIPTION_MAX = 255
LIST_NAME_MAX = 200
FOLDER_NAME_MAX = 200

# Past this many fallback warnings the rest are summed up in one line, so a
# browser export without any titles does not bury the other warnings.
FALLBACK_WARNINGS_SHOWN = 20


@dataclass(frozen=True)
class ImportedField:
    """A generic (custom) field; `secret` fields are encrypted at rest."""

    name: str
    value: str
    secret: bool = False


@dataclass
class ImportedRecord:
    """One password record as read from the file, before any database id."""

    title: str
    username: str = ""
    password: str = ""
    url: str = ""
    description: str = ""
    notes: str = ""
    domain: str = ""
    host_name: str = ""
    otp_secret: str = ""  # the base32 secret or a full otpauth:// URI, as found
    expires_at: datetime.date | None = None
    fields: list[ImportedField] = field(default_factory=list)
    source_ref: str = ""  # row number or entry path, for error messages


@dataclass
class ImportedList:
    """A password list and the folders above it (outermost first, () = top)."""

    folder_path: tuple[str, ...]
    name: str
    records: list[ImportedRecord] = field(default_factory=list)


@dataclass
class ImportBundle:
    """Everything one file holds, plus warnings to show the person importing."""

    source_format: str
    lists: list[ImportedList]
    warnings: list[str] = field(default_factory=list)

    def record_count(self) -> int:
        """Return the number of records across all lists."""
        return sum(len(imported.records) for imported in self.lists)

    def records(self) -> Iterator[ImportedRecord]:
        """Yield every record, list by list."""
        for imported in self.lists:
            yield from imported.records


class ListCollector:
    """Gathers records into lists keyed by (folder path, name), in file order.

    Two sources that name the same place (two CSV rows, two KeePass sibling
    groups with one name) end up in one list, since Strongroom could not hold
    two lists with the same name in the same folder anyway.
    """

    def __init__(self) -> None:
        self._lists: dict[tuple[tuple[str, ...], str], ImportedList] = {}

    def add(
        self, folder_path: tuple[str, ...], name: str, record: ImportedRecord
    ) -> None:
        """Append `record` to the list `name` under `folder_path`."""
        self.list_for(folder_path, name).records.append(record)

    def list_for(self, folder_path: tuple[str, ...], name: str) -> ImportedList:
        """Return the list at that place, creating it empty on first use."""
        key = (folder_path, name)
        if key not in self._lists:
            self._lists[key] = ImportedList(folder_path=folder_path, name=name)
        return self._lists[key]

    def lists(self) -> list[ImportedList]:
        """Return the lists in the order they were first named."""
        return list(self._lists.values())


def finalize(bundle: ImportBundle) -> ImportBundle:
    """Apply title fallbacks, then check every server limit; return `bundle`.

    Raises `MalformedFile` naming the first row or entry over a limit.
    """
    untitled = _apply_title_fallbacks(bundle)
    for imported in bundle.lists:
        _check_list(imported)
        for record in imported.records:
            _check_record(record)
    logger.debug(
        "interchange.finalized",
        extra={"record_count": bundle.record_count(), "untitled_count": untitled},
    )
    return bundle


def url_host(url: str) -> str:
    """Return the host part of `url` ('' if none), also for 'example.com/x'."""
    text = url.strip()
    if not text:
        return ""
    if "://" not in text:
        text = "//" + text
    try:
        return urlsplit(text).hostname or ""
    except ValueError:
        # A malformed URL (e.g. an unclosed IPv6 bracket) simply has no host.
        return ""


def fallback_title(record: ImportedRecord, number: int) -> str:
    """Return the title an untitled record gets (see the module docstring)."""
    host = url_host(record.url) or record.host_name.strip()
    user = record.username.strip()
    title = f"{host} ({user})" if host and user else host or user
    if not title or len(title) > TITLE_MAX or "\x00" in title:
        title = f"Untitled entry {number}"
    return title


def _apply_title_fallbacks(bundle: ImportBundle) -> int:
    untitled = 0
    for record in bundle.records():
        if record.title.strip():
            continue
        untitled += 1
        record.title = fallback_title(record, untitled)
        if untitled <= FALLBACK_WARNINGS_SHOWN:
            bundle.warnings.append(
                f"{record.source_ref}: no title, so it was imported as {record.title!r}"
            )
    if untitled > FALLBACK_WARNINGS_SHOWN:
        hidden = untitled - FALLBACK_WARNINGS_SHOWN
        bundle.warnings.append(
            f"{hidden} more records had no title and were named the same way"
        )
    return untitled


def _check_list(imported: ImportedList) -> None:
    where = _list_place(imported)
    _check_name("list name", imported.name, LIST_NAME_MAX, where)
    for folder in imported.folder_path:
        _check_name("folder name", folder, FOLDER_NAME_MAX, where)


def _list_place(imported: ImportedList) -> str:
    if imported.records:
        return imported.records[0].source_ref
    return "list " + "/".join((*imported.folder_path, imported.name))[:60]


def _check_name(what: str, name: str, limit: int, where: str) -> None:
    if not name.strip():
        raise MalformedFile(
            f"{where}: the {what} is empty", hint="give every list and folder a name"
        )
    _check_length(what, name, limit, where)
    _check_nul(what, name, where)


def _check_record(record: ImportedRecord) -> None:
    where = record.source_ref
    _check_length("title", record.title, TITLE_MAX, where)
    _check_length("username", record.username, USERNAME_MAX, where)
    _check_length("description", record.description, DESCRIPTION_MAX, where)
    texts = {
        "title": record.title,
        "username": record.username,
        "password": record.password,
        "url": record.url,
        "description": record.description,
        "notes": record.notes,
        "domain": record.domain,
        "host name": record.host_name,
        "OTP secret": record.otp_secret,
    }
    for name, text in texts.items():
        _check_nul(name, text, where)
    for extra in record.fields:
        if not extra.name.strip():
            raise MalformedFile(
                f"{where}: a custom field has no name", hint="name every field"
            )
        _check_nul(f"field {extra.name!r}", extra.name + extra.value, where)


def _check_length(what: str, text: str, limit: int, where: str) -> None:
    if len(text) > limit:
        raise MalformedFile(
            f"{where}: the {what} is {len(text)} characters long; the limit is {limit}",
            hint="shorten it in the file and import again",
        )


def _check_nul(what: str, text: str, where: str) -> None:
    if "\x00" in text:
        raise MalformedFile(
            f"{where}: the {what} contains a NUL character, which cannot be stored",
            hint="remove it in the file and import again",
        )
