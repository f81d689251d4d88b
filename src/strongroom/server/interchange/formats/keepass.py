"""KeePass databases (KDBX 3.x and 4.x), opened with pykeepass.

A database opens with its password, its key file, or both. KDBX 2.x files
(KeePass 2.0 to 2.19) and KeePass 1.x ``.kdb`` files are refused with advice
to re-save them in KeePassXC, which writes KDBX 4.

Integrity: KDBX 4 carries a SHA-256 of its header, which pykeepass checks. A
KDBX 3.1 file stores that hash inside the encrypted XML (Meta/HeaderHash) and
pykeepass 4.x does not compare it, so this reader does: a file whose header was
altered is refused instead of yielding garbled secrets. KDBX 3.0 has no such
hash. Field references such as ``{REF:P@I:<uuid>}`` are resolved with
pykeepass's ``deref``; a reference to a missing entry is kept as written, with
a warning. Groups become folders and lists as `keepass_tree` describes.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import io
import logging
import struct
import uuid
from pathlib import Path
from typing import Any

from pykeepass import PyKeePass
from pykeepass.exceptions import (
    CredentialsError,
    HeaderChecksumError,
    PayloadChecksumError,
)
from pykeepass.kdbx_parsing.common import compute_key_composite

from strongroom.server.interchange.bundle import ImportBundle
from strongroom.server.interchange.errors import (
    IntegrityError,
    MalformedFile,
    PasswordRequired,
    UnreadableFile,
    UnsupportedFormat,
    WrongPassword,
)
from strongroom.server.interchange.formats.common import read_bytes
from strongroom.server.interchange.formats.keepass_tree import (
    UNRESOLVED_REFERENCE,
    KeePassEntry,
    KeePassGroup,
    KeePassString,
    tree_to_bundle,
)

logger = logging.getLogger(__name__)

FORMAT = "kdbx"

# The first 8 bytes of every KeePass file, read as two little-endian uint32s.
SIGNATURE_1 = 0x9AA2D903
SIGNATURE_KDBX = 0xB54BFB67  # KeePass 2.x and later (KDBX)
SIGNATURE_KDB = 0xB54BFB65  # KeePass 1.x (.kdb)
SIGNATURE_PRERELEASE = 0xB54BFB66  # KeePass 2.x pre-release files

CONVERT_HINT = (
    "open it in KeePassXC (or KeePass 2) and save it as a KDBX 4 database, "
    "then import that file"
)
WRONG_CREDENTIALS = (
    "the password or key file does not open this KeePass database; "
    "check both and try again"
)


def kdbx_version(head: bytes) -> tuple[int, int] | None:
    """Return (major, minor) if `head` starts a KDBX 3/4 file, None if not KeePass.

    Raises UnsupportedFormat for KeePass 1.x, KDBX 2.x and unknown versions.
    """
    if len(head) < 12:
        return None
    signature_1, signature_2, minor, major = struct.unpack("<IIHH", head[:12])
    if signature_1 != SIGNATURE_1:
        return None
    if signature_2 == SIGNATURE_KDB:
        raise UnsupportedFormat(
            "this is a KeePass 1.x database (.kdb), which Strongroom cannot read",
            hint="import it in KeePassXC (Database > Import > KeePass 1 database), "
            "save it as KDBX 4, then import that file",
        )
    if signature_2 != SIGNATURE_KDBX or major < 3:
        raise UnsupportedFormat(
            f"this is an old KeePass database (KDBX {major}.{minor}), "
            "which Strongroom cannot read",
            hint=CONVERT_HINT,
        )
    if major > 4:
        raise UnsupportedFormat(
            f"this KeePass database uses KDBX {major}.{minor}, newer than "
            "Strongroom reads (3.x and 4.x)",
            hint="save it as KDBX 4 in KeePassXC, then import that file",
        )
    return major, minor


def read_kdbx(
    path: Path, *, password: str | None, key_file: Path | None
) -> ImportBundle:
    """Open a KDBX 3/4 database and map it to a bundle (titles not yet filled).

    Raises PasswordRequired when neither credential is given, WrongPassword
    when they do not open it, IntegrityError when its checksums fail, and
    UnsupportedFormat / MalformedFile for other versions or damaged files.
    """
    data = read_bytes(path)
    version = kdbx_version(data[:12])
    if version is None:
        raise MalformedFile(
            "the file is not a KeePass database (its signature is wrong)",
            hint="check the file, or name its format with --format",
        )
    if password is None and key_file is None:
        raise PasswordRequired(
            "this KeePass database needs its password, its key file or both",
            hint="pass the password with --password-stdin and the key file "
            "with --key-file",
        )
    if key_file is not None:
        _check_key_file(key_file)
    database = _open(data, password, key_file)
    if version[0] == 3:
        _check_kdbx3_header_hash(database)
    warnings: list[str] = []
    root = _group(database, database.root_group, (), warnings)
    bundle = tree_to_bundle(
        root,
        source_format=FORMAT,
        root_list_name=_root_list_name(database, path),
        recycle_bin_uuid=_recycle_bin_uuid(database),
        warnings=warnings,
    )
    logger.info(
        "interchange.kdbx.read",
        extra={"kdbx_version": version[0], "record_count": bundle.record_count()},
    )
    return bundle


def _check_key_file(key_file: Path) -> None:
    """Read the key file alone first, so a damaged one gets its own message."""
    try:
        compute_key_composite(password=None, keyfile=str(key_file))
    except OSError as error:
        raise UnreadableFile(
            f"cannot read the key file {key_file.name}: {error.strerror or error}",
            hint="check the path and its permissions",
        ) from error
    except Exception as error:
        # pykeepass raises AssertionError, ValueError or binascii.Error for a
        # key file whose hash, hex or base64 is broken.
        raise WrongPassword(
            f"the key file {key_file.name} is damaged or is not a KeePass key file",
            hint="use the key file that belongs to this database",
        ) from error


def _open(data: bytes, password: str | None, key_file: Path | None) -> Any:
    keyfile = str(key_file) if key_file is not None else None
    try:
        return PyKeePass(io.BytesIO(data), password=password, keyfile=keyfile)
    except CredentialsError:
        raise WrongPassword(WRONG_CREDENTIALS) from None
    except HeaderChecksumError as error:
        if "Not a KeePass" in str(error):
            raise MalformedFile("the file is not a KeePass database") from None
        raise IntegrityError(
            "the database header fails its checksum; the file was altered or damaged",
            hint="restore it from a backup",
        ) from None
    except PayloadChecksumError:
        raise IntegrityError(
            "the database contents fail their checksum; the file is damaged",
            hint="restore it from a backup",
        ) from None
    except Exception as error:
        # construct, zlib and lxml raise many types for a truncated or
        # corrupted file; the user only needs to know it cannot be read.
        logger.info(
            "interchange.kdbx.unreadable", extra={"error_type": type(error).__name__}
        )
        raise MalformedFile(
            "the KeePass database cannot be read: it is truncated or damaged",
            hint="restore it from a backup, or save it again in KeePassXC",
        ) from None


def _check_kdbx3_header_hash(database: Any) -> None:
    """Compare Meta/HeaderHash with SHA-256 of the header bytes (KDBX 3.1)."""
    element = database.tree.find("Meta/HeaderHash")
    if element is None or not element.text:
        return  # KDBX 3.0 files carry no header hash.
    try:
        stored = base64.b64decode(element.text, validate=True)
    except binascii.Error:
        stored = b""
    actual = hashlib.sha256(bytes(database.kdbx.header.data)).digest()
    if not hmac.compare_digest(stored, actual):
        # The header holds the keys of the inner stream; a changed header
        # means protected values would decrypt to garbage, so refuse it all.
        raise IntegrityError(
            "the database header fails its integrity check (HeaderHash); "
            "the file was altered or damaged",
            hint="restore it from a backup",
        )


def _root_list_name(database: Any, path: Path) -> str:
    for name in (database.database_name, database.root_group.name, path.stem):
        if name and str(name).strip():
            return str(name).strip()
    return "KeePass import"


def _recycle_bin_uuid(database: Any) -> str:
    element = database.tree.find("Meta/RecycleBinUUID")
    if element is None or not element.text:
        return ""
    try:
        return str(uuid.UUID(bytes=base64.b64decode(element.text)))
    except (binascii.Error, ValueError):
        return ""


def _group(
    database: Any, group: Any, above: tuple[str, ...], warnings: list[str]
) -> KeePassGroup:
    name = str(group.name or "")
    path = (*above, name) if above or not group.is_root_group else ()
    return KeePassGroup(
        name=name,
        uuid=str(group.uuid),
        entries=[_entry(database, entry, path, warnings) for entry in group.entries],
        groups=[_group(database, child, path, warnings) for child in group.subgroups],
    )


def _entry(
    database: Any, entry: Any, above: tuple[str, ...], warnings: list[str]
) -> KeePassEntry:
    ref = "entry '" + "/".join((*above, str(entry.title or "(untitled)"))) + "'"

    def text(value: Any) -> str:
        return _deref(database, str(value or ""), ref, warnings)

    strings = [
        KeePassString(key, text(value), _is_protected(entry, key))
        for key, value in entry.custom_properties.items()
    ]
    expiry = entry.expiry_time if entry.expires else None
    return KeePassEntry(
        title=text(entry.title),
        username=text(entry.username),
        password=text(entry.password),
        url=text(entry.url),
        notes=text(entry.notes),
        otp=str(entry.otp or ""),
        strings=strings,
        tags=[str(tag) for tag in entry.tags if tag],
        expires_at=expiry.date() if expiry is not None else None,
    )


def _is_protected(entry: Any, key: str) -> bool:
    try:
        return bool(entry.is_custom_property_protected(key))
    except Exception:
        # pykeepass builds an XPath from the key; a key with a quote breaks
        # it. Treat the value as secret: failing closed costs nothing.
        return True


def _deref(database: Any, value: str, ref: str, warnings: list[str]) -> str:
    """Resolve KeePass field references in `value`; keep it if they fail."""
    if "{REF:" not in value.upper():
        return value
    try:
        resolved = database.deref(value)
    except Exception:
        # A malformed uuid, a reference loop or a reference to the uuid field
        # itself makes pykeepass raise; the text is then kept as written.
        resolved = None
    if not isinstance(resolved, str):
        warnings.append(f"{ref}: {UNRESOLVED_REFERENCE}")
        return value
    return resolved
