"""Bitwarden JSON exports, unencrypted or password-protected.

Placement: an item in folder ``A/B`` (Bitwarden nests folders by name with
'/') goes to list ``B`` inside folder ``A``; a folder ``A`` is a top-level list
``A``. An organisation export's collections are used the same way when an
item has no folder. Items in no folder go to the top-level list
"Bitwarden import". Items in the trash (``deletedDate`` set) are left out.

Fields: the item name is the title and its notes the notes. Logins give the
username, password, the first URI as the URL (further URIs become fields
"URL 2", "URL 3"...) and ``totp`` as the OTP secret. Cards, identities and SSH
keys keep their parts as generic fields (card number, security code, SSN,
passport and licence numbers and private keys secret). Custom fields keep
their names; hidden ones (type 1) are secret, linked ones (type 3) carry no
value and are left out.

Account-restricted encrypted exports (encrypted with the account's key, not a
password) cannot be read without the account and are refused.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from strongroom.server.interchange.bundle import (
    ImportBundle,
    ImportedField,
    ImportedRecord,
    ListCollector,
)
from strongroom.server.interchange.errors import (
    MalformedFile,
    PasswordRequired,
    UnsupportedFormat,
)
from strongroom.server.interchange.formats.bitwarden_crypto import decrypt_export
from strongroom.server.interchange.formats.common import (
    json_kind,
    load_json_object,
    place_in_list,
)

logger = logging.getLogger(__name__)

FORMAT = "bitwarden-json"
DEFAULT_LIST = "Bitwarden import"

TYPE_LOGIN, TYPE_NOTE, TYPE_CARD, TYPE_IDENTITY, TYPE_SSH_KEY = 1, 2, 3, 4, 5
FIELD_HIDDEN, FIELD_LINKED = 1, 3

# (JSON key, field name, secret) of the item kinds kept as generic fields.
CARD_PARTS = (
    ("cardholderName", "Cardholder name", False),
    ("brand", "Brand", False),
    ("number", "Card number", True),
    ("expMonth", "Expiry month", False),
    ("expYear", "Expiry year", False),
    ("code", "Security code", True),
)
IDENTITY_PARTS = (
    ("title", "Title", False),
    ("firstName", "First name", False),
    ("middleName", "Middle name", False),
    ("lastName", "Last name", False),
    ("address1", "Address 1", False),
    ("address2", "Address 2", False),
    ("address3", "Address 3", False),
    ("city", "City", False),
    ("state", "State", False),
    ("postalCode", "Postal code", False),
    ("country", "Country", False),
    ("company", "Company", False),
    ("email", "Email", False),
    ("phone", "Phone", False),
    ("ssn", "SSN", True),
    ("passportNumber", "Passport number", True),
    ("licenseNumber", "Licence number", True),
)
SSH_KEY_PARTS = (
    ("privateKey", "Private key", True),
    ("publicKey", "Public key", False),
    ("keyFingerprint", "Fingerprint", False),
)


def read_bitwarden(path: Path, *, password: str | None) -> ImportBundle:
    """Read a Bitwarden JSON export; `password` opens a protected one.

    Raises PasswordRequired for a protected export without a password and
    WrongPassword when the password does not open it.
    """
    document = _plain_document(load_json_object(path), password)
    warnings: list[str] = []
    places = _places(document, "folders") | _places(document, "collections")
    collector = ListCollector()
    for number, item in enumerate(_list(document, "items", "the export"), start=1):
        ref = f"item {number}"
        if not isinstance(item, dict):
            raise MalformedFile(f"{ref}: is not a JSON object")
        ref = f"item {number} ({_str(item, 'name', ref)[:40]!r})"
        if item.get("deletedDate"):
            warnings.append(f"{ref}: in the trash, so it was left out")
            continue
        folder_path, name = _placement(item, places, ref, warnings)
        collector.add(folder_path, name, _record(item, ref))
    bundle = ImportBundle(FORMAT, collector.lists(), warnings)
    logger.info(
        "interchange.bitwarden.read",
        extra={
            "record_count": bundle.record_count(),
            "encrypted": password is not None,
        },
    )
    return bundle


def _plain_document(document: dict[str, Any], password: str | None) -> dict[str, Any]:
    if document.get("encrypted") is not True:
        return document
    if document.get("passwordProtected") is not True:
        raise UnsupportedFormat(
            "this Bitwarden export is encrypted with the account's own key, "
            "which only Bitwarden can open",
            hint="export again choosing 'Password protected' or unencrypted JSON",
        )
    if password is None:
        raise PasswordRequired(
            "this Bitwarden export is password-protected; "
            "pass its password with --password-stdin"
        )
    plain = decrypt_export(document, password)
    try:
        inner = json.loads(plain.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        inner = None
    if not isinstance(inner, dict) or inner.get("encrypted") is True:
        raise MalformedFile("the decrypted export is not a plain Bitwarden vault")
    return inner


def _places(document: Mapping[str, Any], key: str) -> dict[str, tuple[str, ...]]:
    """Map folder or collection ids to their name's path parts."""
    places: dict[str, tuple[str, ...]] = {}
    for number, entry in enumerate(_list(document, key, "the export"), start=1):
        ref = f"{key[:-1]} {number}"
        if not isinstance(entry, dict):
            raise MalformedFile(f"{ref}: is not a JSON object")
        places[_str(entry, "id", ref)] = split_path_slash(_str(entry, "name", ref))
    return places


def split_path_slash(name: str) -> tuple[str, ...]:
    """Split a Bitwarden folder name on '/', its nesting separator."""
    return tuple(part.strip() for part in name.split("/") if part.strip())


def _placement(
    item: Mapping[str, Any],
    places: dict[str, tuple[str, ...]],
    ref: str,
    warnings: list[str],
) -> tuple[tuple[str, ...], str]:
    ids = [item.get("folderId"), *(item.get("collectionIds") or [])]
    for place_id in ids:
        if place_id is None:
            continue
        if place_id in places:
            return place_in_list(places[place_id], DEFAULT_LIST)
        warnings.append(f"{ref}: names a folder or collection the export lacks")
    return place_in_list((), DEFAULT_LIST)


def _record(item: Mapping[str, Any], ref: str) -> ImportedRecord:
    record = ImportedRecord(
        title=_str(item, "name", ref).strip(),
        notes=_str(item, "notes", ref),
        source_ref=ref,
    )
    kind = item.get("type")
    if kind == TYPE_LOGIN:
        _fill_login(record, _object(item, "login", ref), ref)
    elif kind == TYPE_CARD:
        record.fields += _parts(_object(item, "card", ref), CARD_PARTS, ref)
    elif kind == TYPE_IDENTITY:
        identity = _object(item, "identity", ref)
        record.username = _str(identity, "username", ref)
        record.fields += _parts(identity, IDENTITY_PARTS, ref)
    elif kind == TYPE_SSH_KEY:
        record.fields += _parts(_object(item, "sshKey", ref), SSH_KEY_PARTS, ref)
    record.fields += _custom_fields(item, ref)
    return record


def _fill_login(record: ImportedRecord, login: Mapping[str, Any], ref: str) -> None:
    record.username = _str(login, "username", ref)
    record.password = _str(login, "password", ref)
    record.otp_secret = _str(login, "totp", ref)
    uris = []
    for uri in _list(login, "uris", ref):
        if isinstance(uri, dict) and _str(uri, "uri", ref):
            uris.append(_str(uri, "uri", ref))
    if uris:
        record.url = uris[0]
    record.fields += [
        ImportedField(f"URL {number}", uri) for number, uri in enumerate(uris[1:], 2)
    ]


def _parts(
    source: Mapping[str, Any], parts: tuple[tuple[str, str, bool], ...], ref: str
) -> list[ImportedField]:
    found = []
    for key, name, secret in parts:
        value = _str(source, key, ref)
        if value:
            found.append(ImportedField(name, value, secret))
    return found


def _custom_fields(item: Mapping[str, Any], ref: str) -> list[ImportedField]:
    found = []
    for number, custom in enumerate(_list(item, "fields", ref), start=1):
        if not isinstance(custom, dict) or custom.get("type") == FIELD_LINKED:
            continue
        name = _str(custom, "name", ref).strip() or f"Field {number}"
        secret = custom.get("type") == FIELD_HIDDEN
        found.append(ImportedField(name, _str(custom, "value", ref), secret))
    return found


def _str(source: Mapping[str, Any], key: str, ref: str) -> str:
    """Return source[key] as text: '' when absent or null; numbers as written."""
    value = source.get(key)
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    raise MalformedFile(
        f"{ref}: {key!r} is {json_kind(value)}, not text",
        hint="export the vault from Bitwarden again",
    )


def _object(source: Mapping[str, Any], key: str, ref: str) -> Mapping[str, Any]:
    value = source.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise MalformedFile(f"{ref}: {key!r} is {json_kind(value)}, not an object")
    return value


def _list(source: Mapping[str, Any], key: str, ref: str) -> list[Any]:
    value = source.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise MalformedFile(f"{ref}: {key!r} is {json_kind(value)}, not a list")
    return value
