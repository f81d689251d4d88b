"""Helpers the format readers share: reading, decoding, dates and paths."""

from __future__ import annotations

import datetime
import json
import logging
import re
from pathlib import Path
from typing import Any

from strongroom.server.interchange.bundle import LIST_NAME_MAX
from strongroom.server.interchange.errors import MalformedFile, UnreadableFile

logger = logging.getLogger(__name__)

# An import is read into memory whole; refusing giant files keeps one upload
# from exhausting the server. Real vault exports are a few megabytes.
MAX_IMPORT_BYTES = 256 * 1024 * 1024

_DATE = re.compile(
    r"(\d{4})-(\d{1,2})-(\d{1,2})"  # the date, month and day maybe unpadded
    r"(?:[T ]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?"  # an optional time of day
    r"\s*(?:Z|[+-]\d{2}:?\d{2})?"  # an optional zone, as ISO 8601 writes it
)

_PATH_SEPARATORS = re.compile(r"[/\\]")


def read_bytes(path: Path) -> bytes:
    """Return the file's bytes; raise `UnreadableFile` or `MalformedFile`."""
    try:
        size = path.stat().st_size
        if size > MAX_IMPORT_BYTES:
            raise MalformedFile(
                f"the file is {size // (1024 * 1024)} MiB; the import limit is "
                f"{MAX_IMPORT_BYTES // (1024 * 1024)} MiB",
                hint="split the export into smaller files",
            )
        logger.debug("interchange.file_read", extra={"byte_count": size})
        return path.read_bytes()
    except OSError as error:
        raise UnreadableFile(
            f"cannot read {path.name}: {error.strerror or error}",
            hint="check the path and its permissions",
        ) from error


def decode_text(data: bytes) -> str:
    """Decode UTF-8 (a leading byte-order mark is dropped) or raise MalformedFile.

    The message names the line and byte offset of the first invalid byte.
    """
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        bad = data[error.start]
        raise MalformedFile(
            f"line {line}: the file is not valid UTF-8 "
            f"(byte 0x{bad:02X} at offset {error.start})",
            hint="save the file as UTF-8 and import again",
        ) from None


def parse_date(text: str) -> datetime.date | None:
    """Return the date in an ISO 8601 date or timestamp, else None.

    '2020-12-31', '2020-1-5', '2020-12-31T23:59:59Z' and '2020-12-31 10:00'
    are read; locale forms such as '31/12/2020' are not, since day and month
    cannot be told apart. A timestamp keeps the date as written (no zone shift).
    """
    match = _DATE.fullmatch(text.strip())
    if match is None:
        return None
    year, month, day = (int(part) for part in match.groups())
    try:
        return datetime.date(year, month, day)
    except ValueError:
        return None


def split_path(text: str) -> tuple[str, ...]:
    """Split 'A/B/C' or 'A\\B' into its non-empty, stripped parts."""
    parts = (part.strip() for part in _PATH_SEPARATORS.split(text))
    return tuple(part for part in parts if part)


def place_in_list(
    path: tuple[str, ...], default_name: str
) -> tuple[tuple[str, ...], str]:
    """Return (folder path, list name): the last part names the list.

    An empty path puts the record in the top-level list `default_name`.
    """
    if not path:
        return (), default_name
    return path[:-1], path[-1]


def default_list_name(path: Path, fallback: str) -> str:
    """Return the file's stem as a list name, or `fallback` if it will not do."""
    stem = path.stem.strip()
    if not stem or len(stem) > LIST_NAME_MAX:
        return fallback
    return stem


def load_json_object(path: Path) -> dict[str, Any]:
    """Read a file as one JSON object; raise MalformedFile otherwise."""
    text = decode_text(read_bytes(path))
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise MalformedFile(
            f"line {error.lineno}, column {error.colno}: the JSON is not valid "
            f"({error.msg})",
            hint="export the data again; the file is damaged",
        ) from None
    except RecursionError:
        raise MalformedFile("the JSON is nested too deeply") from None
    if not isinstance(document, dict):
        raise MalformedFile(
            f"the file is JSON but its top level is {json_kind(document)}, "
            "not an object",
            hint="choose the file the export wrote, unchanged",
        )
    return document


def json_kind(value: object) -> str:
    kinds = {dict: "an object", list: "a list", str: "text", bool: "true or false"}
    for kind, name in kinds.items():
        if isinstance(value, kind):
            return name
    return "null" if value is None else "a number"
