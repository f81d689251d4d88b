"""KeePass 2 XML exports (``KeePassFile`` documents written in plain text).

The document must have exactly one ``Root`` element holding exactly one root
group; anything else is refused, since there is no safe guess at which tree
is meant. Missing or empty UUIDs, history entries whose UUID differs from
their entry, broken ``DeletedObjects`` and a recycle-bin reference to a group
that does not exist are all harmless here: history and deletion records are
not imported, and UUIDs only serve the recycle-bin test and field references.

A value marked ``Protected="True"`` is still encrypted with the database's
inner stream key, which an XML file does not carry, so such a file is refused;
``ProtectInMemory="True"`` (what KeePass writes in an export) marks a plain
value that is secret. Field references ``{REF:<field>@<field>:<text>}`` are
resolved against the document's entries. Groups become folders and lists as
`keepass_tree` describes. Document type declarations are refused: KeePass
never writes one, and entity definitions are how XML bombs and external
entity attacks work.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import logging
import re
import uuid
import xml.etree.ElementTree as ElementTree
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from xml.parsers import expat

from strongroom.server.interchange.bundle import ImportBundle
from strongroom.server.interchange.errors import MalformedFile, UnsupportedFormat
from strongroom.server.interchange.formats.common import parse_date, read_bytes
from strongroom.server.interchange.formats.keepass_tree import (
    UNRESOLVED_REFERENCE,
    KeePassEntry,
    KeePassGroup,
    KeePassString,
    tree_to_bundle,
)

logger = logging.getLogger(__name__)

FORMAT = "keepass-xml"

STANDARD_KEYS = {"Title", "UserName", "Password", "URL", "Notes", "otp"}

_REFERENCE = re.compile(r"\{REF:([TUPANI])@([TUPANI]):([^}]*)\}", re.IGNORECASE)
_REFERENCE_FIELDS = {
    "T": "Title",
    "U": "UserName",
    "P": "Password",
    "A": "URL",
    "N": "Notes",
}
_MAX_REFERENCE_DEPTH = 10

# KDBX 4 writes times as base64 of the seconds since 0001-01-01.
_KEEPASS_EPOCH = datetime.datetime(1, 1, 1)


class _Refused(Exception):
    """Raised from inside expat to stop at a document type declaration."""


@dataclass(frozen=True)
class _XmlString:
    """A String element's value; `encrypted` when marked Protected="True"."""

    value: str
    secret: bool
    encrypted: bool = False


def parse_document(data: bytes) -> ElementTree.Element:
    """Parse XML bytes safely; raise MalformedFile naming the line and column.

    expat feeds an ElementTree builder directly so that a handler can stop
    at any document type declaration, the way defusedxml does.
    """
    parser = expat.ParserCreate()
    builder = ElementTree.TreeBuilder()
    parser.buffer_text = True
    parser.StartElementHandler = builder.start
    parser.EndElementHandler = builder.end
    parser.CharacterDataHandler = builder.data

    def refuse(*_: object) -> None:
        raise _Refused

    parser.StartDoctypeDeclHandler = refuse
    try:
        parser.Parse(data, True)
        return builder.close()
    except _Refused:
        raise MalformedFile(
            "the XML file has a document type declaration (DOCTYPE)",
            hint="KeePass exports have none; export the database again",
        ) from None
    except expat.ExpatError as error:
        raise MalformedFile(
            f"line {error.lineno}, column {error.offset + 1}: the XML is not "
            f"well-formed ({expat.ErrorString(error.code)})",
            hint="export the database again; the file is damaged",
        ) from None


def read_keepass_xml(path: Path) -> ImportBundle:
    """Read a KeePass 2 XML export (see the module docstring)."""
    document = parse_document(read_bytes(path))
    if document.tag != "KeePassFile":
        raise UnsupportedFormat(
            f"the XML file's root element is <{document.tag}>, not <KeePassFile>",
            hint="only KeePass 2 XML exports are read",
        )
    root_group = _root_group(document)
    warnings: list[str] = []
    entries = _all_entries(root_group)
    resolve = _resolver(entries, warnings)
    root = _group(root_group, (), resolve)
    name = (document.findtext("Meta/DatabaseName") or "").strip()
    bundle = tree_to_bundle(
        root,
        source_format=FORMAT,
        root_list_name=name or root.name.strip() or path.stem or "KeePass import",
        recycle_bin_uuid=_uuid_text(document.findtext("Meta/RecycleBinUUID") or ""),
        warnings=warnings,
    )
    logger.info(
        "interchange.keepass_xml.read", extra={"record_count": bundle.record_count()}
    )
    return bundle


def _root_group(document: ElementTree.Element) -> ElementTree.Element:
    roots = document.findall("Root")
    if len(roots) != 1:
        raise MalformedFile(
            f"the file has {len(roots)} <Root> elements; a KeePass export has one",
            hint="export the database again from KeePass or KeePassXC",
        )
    groups = roots[0].findall("Group")
    if len(groups) != 1:
        what = "no root group" if not groups else f"{len(groups)} root groups"
        raise MalformedFile(
            f"the file has {what}; a KeePass export has exactly one",
            hint="export the database again from KeePass or KeePassXC",
        )
    return groups[0]


def _all_entries(group: ElementTree.Element) -> list[ElementTree.Element]:
    """Every entry of the tree (not history), for field-reference lookups."""
    found = list(group.findall("Entry"))
    for child in group.findall("Group"):
        found.extend(_all_entries(child))
    return found


def _group(
    element: ElementTree.Element,
    above: tuple[str, ...],
    resolve: Callable[[str, str], str],
) -> KeePassGroup:
    name = element.findtext("Name") or ""
    path = (*above, name)
    return KeePassGroup(
        name=name,
        uuid=_uuid_text(element.findtext("UUID") or ""),
        entries=[_entry(entry, path, resolve) for entry in element.findall("Entry")],
        groups=[_group(child, path, resolve) for child in element.findall("Group")],
    )


def _entry(
    element: ElementTree.Element,
    above: tuple[str, ...],
    resolve: Callable[[str, str], str],
) -> KeePassEntry:
    strings = _strings(element)
    title = strings["Title"].value if "Title" in strings else ""
    ref = "entry '" + "/".join((*above[1:], title or "(untitled)")) + "'"
    _refuse_encrypted(strings, ref)

    def text(key: str) -> str:
        return resolve(strings[key].value, ref) if key in strings else ""

    custom = [
        KeePassString(key, resolve(string.value, ref), string.secret)
        for key, string in strings.items()
        if key not in STANDARD_KEYS
    ]
    tags = re.split(r"[;,]", element.findtext("Tags") or "")
    return KeePassEntry(
        title=text("Title"),
        username=text("UserName"),
        password=text("Password"),
        url=text("URL"),
        notes=text("Notes"),
        otp=text("otp"),
        strings=custom,
        tags=[tag.strip() for tag in tags if tag.strip()],
        expires_at=_expiry(element),
    )


def _strings(element: ElementTree.Element) -> dict[str, _XmlString]:
    strings: dict[str, _XmlString] = {}
    for string in element.findall("String"):
        key = string.findtext("Key") or ""
        value = string.find("Value")
        if not key or value is None:
            continue
        encrypted = value.get("Protected", "").lower() == "true"
        secret = encrypted or value.get("ProtectInMemory", "").lower() == "true"
        strings[key] = _XmlString(value.text or "", secret, encrypted)
    return strings


def _refuse_encrypted(strings: dict[str, _XmlString], ref: str) -> None:
    for key, string in strings.items():
        if string.encrypted and string.value:
            raise MalformedFile(
                f'{ref}: the value of {key!r} is encrypted (Protected="True") '
                "and an XML file holds no key to decrypt it",
                hint="export the database as KeePass XML (unencrypted) again, "
                "or import the .kdbx file itself",
            )


def _expiry(element: ElementTree.Element) -> datetime.date | None:
    if (element.findtext("Times/Expires") or "").strip().lower() != "true":
        return None
    text = (element.findtext("Times/ExpiryTime") or "").strip()
    return parse_date(text) or _kdbx4_time(text)


def _kdbx4_time(text: str) -> datetime.date | None:
    try:
        seconds = int.from_bytes(base64.b64decode(text, validate=True), "little")
        return (_KEEPASS_EPOCH + datetime.timedelta(seconds=seconds)).date()
    except (binascii.Error, ValueError, OverflowError):
        return None


def _uuid_text(text: str) -> str:
    """Return a base64 UUID as canonical text ('' if absent or malformed)."""
    try:
        return str(uuid.UUID(bytes=base64.b64decode(text.strip(), validate=True)))
    except (binascii.Error, ValueError):
        return ""


def _resolver(
    entries: list[ElementTree.Element], warnings: list[str]
) -> Callable[[str, str], str]:
    """Return resolve(value, ref) that replaces KeePass field references."""
    table = [_reference_view(entry) for entry in entries]

    def lookup(wanted: str, search_in: str, needle: str) -> str | None:
        for view in table:
            if search_in == "I":
                found = view["I"] == needle.replace("-", "").upper()
            else:
                found = view[search_in] == needle
            if found:
                return view[wanted]
        return None

    def resolve(value: str, ref: str) -> str:
        result = value
        for _ in range(_MAX_REFERENCE_DEPTH):
            if not _REFERENCE.search(result):
                return result
            missing = False

            def replace(match: re.Match[str]) -> str:
                nonlocal missing
                wanted, search_in, needle = match.groups()
                found = lookup(wanted.upper(), search_in.upper(), needle)
                missing = missing or found is None
                return match.group(0) if found is None else found

            result = _REFERENCE.sub(replace, result)
            if missing:
                break
        warnings.append(f"{ref}: {UNRESOLVED_REFERENCE}")
        return value

    return resolve


def _reference_view(entry: ElementTree.Element) -> dict[str, str]:
    strings = _strings(entry)
    view = {
        code: strings[key].value if key in strings else ""
        for code, key in _REFERENCE_FIELDS.items()
    }
    raw = _uuid_text(entry.findtext("UUID") or "")
    view["I"] = raw.replace("-", "").upper()
    return view
