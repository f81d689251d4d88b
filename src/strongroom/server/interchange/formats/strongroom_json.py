"""Strongroom's own JSON export, read back losslessly.

The document is one object::

    {"format": "strongroom-json", "version": 1, "source_format": "...",
     "lists": [{"folder_path": ["A", "B"], "name": "List",
                "records": [{"title": "...", "username": "...", "password": "...",
                             "url": "...", "description": "...", "notes": "...",
                             "domain": "...", "host_name": "...",
                             "otp_secret": "...", "expires_at": "2030-01-31",
                             "fields": [{"name": "...", "value": "...",
                                         "secret": true}]}]}]}

Every record key but ``title`` may be left out (text defaults to "", the
expiry to none). Unknown keys are ignored so later versions can add some; a
higher ``version`` is refused.
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from strongroom.server.interchange.bundle import (
    ImportBundle,
    ImportedField,
    ImportedList,
    ImportedRecord,
)
from strongroom.server.interchange.errors import MalformedFile, UnsupportedFormat
from strongroom.server.interchange.formats.common import load_json_object

logger = logging.getLogger(__name__)

FORMAT = "strongroom-json"
VERSION = 1

TEXT_KEYS = (
    "title",
    "username",
    "password",
    "url",
    "description",
    "notes",
    "domain",
    "host_name",
    "otp_secret",
)


def bundle_to_document(bundle: ImportBundle) -> dict[str, Any]:
    """Return the JSON-ready document for `bundle` (the module's layout)."""
    return {
        "format": FORMAT,
        "version": VERSION,
        "source_format": bundle.source_format,
        "lists": [_list_document(imported) for imported in bundle.lists],
    }


def _list_document(imported: ImportedList) -> dict[str, Any]:
    return {
        "folder_path": list(imported.folder_path),
        "name": imported.name,
        "records": [_record_document(record) for record in imported.records],
    }


def _record_document(record: ImportedRecord) -> dict[str, Any]:
    document: dict[str, Any] = {key: getattr(record, key) for key in TEXT_KEYS}
    expiry = record.expires_at
    document["expires_at"] = expiry.isoformat() if expiry is not None else None
    document["fields"] = [
        {"name": extra.name, "value": extra.value, "secret": extra.secret}
        for extra in record.fields
    ]
    return document


def is_strongroom_document(document: Mapping[str, Any]) -> bool:
    """True if a parsed JSON object is a Strongroom export."""
    return document.get("format") == FORMAT


def read_strongroom_json(path: Path) -> ImportBundle:
    """Read a file written by `writers.write_json`."""
    document = load_json_object(path)
    if not is_strongroom_document(document):
        raise MalformedFile(
            f'the JSON file is not a Strongroom export (no "format": "{FORMAT}")',
            hint="name the file's real format with --format",
        )
    version = document.get("version")
    if version != VERSION:
        raise UnsupportedFormat(
            f"this Strongroom export has version {version!r}; this Strongroom "
            f"reads version {VERSION}",
            hint="import it with the Strongroom version that wrote it",
        )
    lists = [
        _read_list(entry, f"lists[{index}]")
        for index, entry in enumerate(_array(document, "lists", "the file"))
    ]
    bundle = ImportBundle(FORMAT, lists)
    logger.info(
        "interchange.strongroom_json.read",
        extra={"record_count": bundle.record_count()},
    )
    return bundle


def _read_list(entry: Any, where: str) -> ImportedList:
    item = _mapping(entry, where)
    folders = _array(item, "folder_path", where)
    folder_path = tuple(
        _text_value(name, f"{where}.folder_path[{index}]")
        for index, name in enumerate(folders)
    )
    records = [
        _read_record(record, f"{where}.records[{index}]")
        for index, record in enumerate(_array(item, "records", where))
    ]
    return ImportedList(folder_path, _text(item, "name", where), records)


def _read_record(entry: Any, where: str) -> ImportedRecord:
    item = _mapping(entry, where)
    record = ImportedRecord(title="", source_ref=where)
    for key in TEXT_KEYS:
        setattr(record, key, _text(item, key, where))
    expiry = item.get("expires_at")
    if expiry is not None:
        record.expires_at = _date(expiry, f"{where}.expires_at")
    record.fields = [
        _read_field(extra, f"{where}.fields[{index}]")
        for index, extra in enumerate(_array(item, "fields", where))
    ]
    return record


def _read_field(entry: Any, where: str) -> ImportedField:
    item = _mapping(entry, where)
    secret = item.get("secret", False)
    if not isinstance(secret, bool):
        raise MalformedFile(f"{where}.secret: must be true or false")
    return ImportedField(
        _text(item, "name", where), _text(item, "value", where), secret
    )


def _date(value: Any, where: str) -> datetime.date:
    try:
        return datetime.date.fromisoformat(_text_value(value, where))
    except ValueError:
        raise MalformedFile(f"{where}: {value!r} is not a YYYY-MM-DD date") from None


def _mapping(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise MalformedFile(f"{where}: must be a JSON object")
    return value


def _array(item: Mapping[str, Any], key: str, where: str) -> list[Any]:
    value = item.get(key, [])
    if not isinstance(value, list):
        raise MalformedFile(f"{where}.{key}: must be a JSON list")
    return value


def _text(item: Mapping[str, Any], key: str, where: str) -> str:
    return _text_value(item.get(key, ""), f"{where}.{key}")


def _text_value(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise MalformedFile(f"{where}: must be text")
    return value
