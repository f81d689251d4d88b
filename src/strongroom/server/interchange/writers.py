"""Exports: `write_csv` and `write_json`.

Both write atomically (a temporary file in the same directory, flushed to
disk, then renamed over the target) with mode 0600, because the files hold
every secret in plain text. The JSON export is lossless and reads back with
the ``strongroom-json`` reader. The CSV export reads back with the generic
CSV reader with the same values, with two limits: a folder or list name
containing '/' or '\\' is split into levels on the way back, and generic
fields with an empty value are left out (the reader skips empty cells).

CSV layout: Folder (the folder path joined with '/'), List, Title, Username,
Password, URL, Description, Notes, Domain, Host Name, OTP, Expiry Date
(YYYY-MM-DD), then one column per generic field name, headed ``field:<name>``
or, for secret fields, ``secret:<name>``; a name used twice in one record
gets two columns. Values are written verbatim: a password that starts with
'=' must survive the round trip, so nothing is escaped for spreadsheets;
open an export in a spreadsheet only on a machine you trust.
"""

from __future__ import annotations

import csv
import io
import json
import logging
from collections import Counter
from pathlib import Path

from strongroom.server.core.files import write_atomically
from strongroom.server.interchange.bundle import ImportBundle, ImportedRecord
from strongroom.server.interchange.formats.csv_generic import (
    FIELD_PREFIX,
    SECRET_PREFIX,
)
from strongroom.server.interchange.formats.strongroom_json import bundle_to_document

logger = logging.getLogger(__name__)

EXPORT_MODE = 0o600

CSV_COLUMNS = (
    "Folder",
    "List",
    "Title",
    "Username",
    "Password",
    "URL",
    "Description",
    "Notes",
    "Domain",
    "Host Name",
    "OTP",
    "Expiry Date",
)

FieldKey = tuple[str, bool]  # (name, secret)


def write_json(bundle: ImportBundle, path: Path) -> None:
    """Write `bundle` as a Strongroom JSON export (mode 0600, atomic)."""
    text = json.dumps(bundle_to_document(bundle), ensure_ascii=False, indent=2)
    write_atomically(Path(path), (text + "\n").encode("utf-8"), mode=EXPORT_MODE)
    logger.info(
        "interchange.export.json", extra={"record_count": bundle.record_count()}
    )


def write_csv(bundle: ImportBundle, path: Path) -> None:
    """Write `bundle` as CSV in the layout above (mode 0600, atomic)."""
    field_columns = _field_columns(bundle)
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer)
    writer.writerow([*CSV_COLUMNS, *(_field_header(key) for key in field_columns)])
    for imported in bundle.lists:
        folder = "/".join(imported.folder_path)
        for record in imported.records:
            writer.writerow(
                [
                    folder,
                    imported.name,
                    *_record_cells(record),
                    *_field_cells(record, field_columns),
                ]
            )
    write_atomically(Path(path), buffer.getvalue().encode("utf-8"), mode=EXPORT_MODE)
    logger.info("interchange.export.csv", extra={"record_count": bundle.record_count()})


def _record_cells(record: ImportedRecord) -> list[str]:
    expiry = record.expires_at.isoformat() if record.expires_at else ""
    return [
        record.title,
        record.username,
        record.password,
        record.url,
        record.description,
        record.notes,
        record.domain,
        record.host_name,
        record.otp_secret,
        expiry,
    ]


def _field_columns(bundle: ImportBundle) -> list[FieldKey]:
    """One column per (name, secret), repeated as often as one record needs."""
    widest: dict[FieldKey, int] = {}
    for record in bundle.records():
        counts = Counter((extra.name, extra.secret) for extra in record.fields)
        for key, count in counts.items():
            widest[key] = max(widest.get(key, 0), count)
    return [key for key, count in widest.items() for _ in range(count)]


def _field_header(key: FieldKey) -> str:
    name, secret = key
    return (SECRET_PREFIX if secret else FIELD_PREFIX) + name


def _field_cells(record: ImportedRecord, columns: list[FieldKey]) -> list[str]:
    pending: dict[FieldKey, list[str]] = {}
    for extra in record.fields:
        pending.setdefault((extra.name, extra.secret), []).append(extra.value)
    cells = []
    for key in columns:
        values = pending.get(key, [])
        cells.append(values.pop(0) if values else "")
    return cells
