"""Tell an import file's format from its content, never from its name.

Checked in this order: KeePass signature bytes (KDBX 3/4 read; KeePass 1.x
and KDBX 2.x refused with advice), an XML document whose root is
``KeePassFile``, a JSON object (Strongroom's own export by its ``format``
key, Bitwarden's by ``items`` or ``encrypted``), and last a CSV header row
(Passwordstate's import layout before the generic one).
"""

from __future__ import annotations

import csv
import io
import json
import logging
from pathlib import Path

from strongroom.server.interchange.errors import MalformedFile, UnsupportedFormat
from strongroom.server.interchange.formats import FORMATS
from strongroom.server.interchange.formats.common import decode_text, read_bytes
from strongroom.server.interchange.formats.csv_generic import (
    ROLE_ALIASES,
    normalize_header,
)
from strongroom.server.interchange.formats.keepass import kdbx_version
from strongroom.server.interchange.formats.keepass_xml import parse_document
from strongroom.server.interchange.formats.passwordstate import (
    is_passwordstate_header,
)
from strongroom.server.interchange.formats.strongroom_json import (
    is_strongroom_document,
)

logger = logging.getLogger(__name__)

ZIP_SIGNATURE = b"PK\x03\x04"
UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
_KNOWN_HEADERS = frozenset().union(*ROLE_ALIASES.values())


def unsupported(what: str) -> UnsupportedFormat:
    """Return the error for a file of no known format, naming the formats."""
    return UnsupportedFormat(
        f"{what}, which is not a format Strongroom can import",
        hint=f"the formats are {', '.join(FORMATS)}; if the file is one of "
        "them, name it with --format",
    )


def detect_format(path: Path) -> str:
    """Return the format name (one of FORMATS) of the file at `path`.

    Raises UnsupportedFormat when no format matches, MalformedFile when the
    file looks like XML, JSON or text but is broken, UnreadableFile when it
    cannot be read.
    """
    name = detect_from_bytes(read_bytes(path))
    logger.info("interchange.detected", extra={"import_format": name})
    return name


def detect_from_bytes(data: bytes) -> str:
    """Return the format name of a file's content (see detect_format)."""
    if not data.strip():
        raise MalformedFile(
            "the file is empty", hint="export the data again and import that file"
        )
    if data.startswith(UTF16_BOMS):
        # Excel's "Unicode text" and some Windows tools write UTF-16, whose
        # zero bytes would otherwise read as "binary data".
        raise MalformedFile(
            "the file is UTF-16 text; Strongroom reads UTF-8",
            hint="save it again as CSV UTF-8 (comma-separated) and import that",
        )
    if kdbx_version(data[:12]) is not None:
        return "kdbx"
    if data.startswith(ZIP_SIGNATURE):
        raise unsupported("the file is a ZIP archive (such as a 1Password .1pux)")
    if b"\x00" in data[:8192]:
        raise unsupported("the file holds binary data")
    text = decode_text(data).lstrip()
    if text.startswith("<"):
        return _detect_xml(data)
    if text.startswith(("{", "[")):
        return _detect_json(text)
    return _detect_csv(text)


def _detect_xml(data: bytes) -> str:
    root = parse_document(data)
    if root.tag == "KeePassFile":
        return "keepass-xml"
    raise unsupported(f"the file is XML with the root element <{root.tag[:40]}>")


def _detect_json(text: str) -> str:
    try:
        document = json.loads(text)
    except (json.JSONDecodeError, RecursionError):
        raise MalformedFile(
            "the file starts like JSON but is not valid JSON",
            hint="export the data again; the file is damaged",
        ) from None
    if not isinstance(document, dict):
        raise unsupported("the file is JSON whose top level is not an object")
    if is_strongroom_document(document):
        return "strongroom-json"
    if "items" in document or "encrypted" in document:
        return "bitwarden-json"
    raise unsupported("the file is JSON of an unknown layout")


def _detect_csv(text: str) -> str:
    try:
        header = next(csv.reader(io.StringIO(text, newline="")), [])
    except csv.Error:
        header = []
    if is_passwordstate_header(header):
        return "passwordstate"
    if any(normalize_header(cell) in _KNOWN_HEADERS for cell in header):
        return "csv"
    first_line = text.partition("\n")[0]
    if len(header) <= 1 and (";" in first_line or "\t" in first_line):
        raise UnsupportedFormat(
            "the file looks like CSV separated by ';' or tabs; Strongroom reads "
            "comma-separated files",
            hint="save it again as comma-separated CSV (UTF-8)",
        )
    raise unsupported("the file's first line names no known column")
