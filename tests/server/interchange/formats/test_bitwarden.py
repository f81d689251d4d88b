"""Tests for the Bitwarden JSON reader, plain and password-protected."""

import base64
import json
import os
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, hmac, padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.hkdf import HKDFExpand
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC

from strongroom.server.interchange.bundle import ImportedField
from strongroom.server.interchange.errors import (
    IntegrityError,
    InterchangeError,
    MalformedFile,
    PasswordRequired,
    UnsupportedFormat,
    WrongPassword,
)
from strongroom.server.interchange.readers import read_file

VAULT = {
    "encrypted": False,
    "folders": [
        {"id": "f1", "name": "Work/Servers"},
        {"id": "f2", "name": "Home"},
    ],
    "items": [
        {
            "type": 1,
            "name": "Router",
            "folderId": "f1",
            "notes": "rack 2",
            "login": {
                "username": "admin",
                "password": "pw",
                "totp": "JBSWY3DPEHPK3PXP",
                "uris": [{"uri": "https://10.0.0.1"}, {"uri": "https://router.lan"}],
            },
            "fields": [
                {"name": "Shown", "value": "a", "type": 0},
                {"name": "Hidden", "value": "b", "type": 1},
                {"name": "Flag", "value": "true", "type": 2},
                {"name": "Linked", "value": None, "type": 3, "linkedId": 100},
            ],
        },
        {"type": 2, "name": "Note", "folderId": None, "notes": "just text"},
        {"type": 1, "name": "Binned", "deletedDate": "2024-01-01T00:00:00Z"},
        {
            "type": 3,
            "name": "Card",
            "folderId": "f2",
            "card": {"number": "4111", "code": "123", "brand": "Visa"},
        },
    ],
}


def encrypt_export(
    plain: dict[str, Any], password: str, iterations: int = 1000
) -> dict[str, Any]:
    """Build a password-protected export the way Bitwarden does (PBKDF2)."""
    salt = base64.b64encode(os.urandom(16)).decode()
    master = PBKDF2HMAC(hashes.SHA256(), 32, salt.encode(), iterations).derive(
        password.encode()
    )
    enc_key = HKDFExpand(hashes.SHA256(), 32, b"enc").derive(master)
    mac_key = HKDFExpand(hashes.SHA256(), 32, b"mac").derive(master)

    def seal(data: bytes) -> str:
        iv = os.urandom(16)
        padder = padding.PKCS7(128).padder()
        padded = padder.update(data) + padder.finalize()
        encryptor = Cipher(algorithms.AES(enc_key), modes.CBC(iv)).encryptor()
        ciphertext = encryptor.update(padded) + encryptor.finalize()
        tag = hmac.HMAC(mac_key, hashes.SHA256())
        tag.update(iv + ciphertext)
        parts = (iv, ciphertext, tag.finalize())
        return "2." + "|".join(base64.b64encode(part).decode() for part in parts)

    return {
        "encrypted": True,
        "passwordProtected": True,
        "salt": salt,
        "kdfType": 0,
        "kdfIterations": iterations,
        "encKeyValidation_DO_NOT_EDIT": seal(b"validation"),
        "data": seal(json.dumps(plain).encode()),
    }


def write(tmp_path: Path, document: object) -> Path:
    path = tmp_path / "bitwarden.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


def test_items_fields_and_folders(tmp_path: Path) -> None:
    """Logins, notes and cards map across; folders nest by '/'."""
    bundle = read_file(write(tmp_path, VAULT))
    assert bundle.source_format == "bitwarden-json"
    assert [(lst.folder_path, lst.name) for lst in bundle.lists] == [
        (("Work",), "Servers"),
        ((), "Bitwarden import"),
        ((), "Home"),
    ]
    router, note, card = bundle.records()
    assert (router.username, router.password, router.url) == (
        "admin",
        "pw",
        "https://10.0.0.1",
    )
    assert router.otp_secret == "JBSWY3DPEHPK3PXP"
    assert router.fields == [
        ImportedField("URL 2", "https://router.lan"),
        ImportedField("Shown", "a"),
        ImportedField("Hidden", "b", True),
        ImportedField("Flag", "true"),
    ]
    assert note.notes == "just text"
    assert ImportedField("Card number", "4111", True) in card.fields


def test_trashed_items_are_left_out(tmp_path: Path) -> None:
    """An item with a deletedDate is skipped with a warning."""
    bundle = read_file(write(tmp_path, VAULT))
    assert "Binned" not in {r.title for r in bundle.records()}
    assert any("in the trash" in w for w in bundle.warnings)


def test_password_protected_round_trip(tmp_path: Path) -> None:
    """A protected export opens with its password and gives the same records."""
    path = write(tmp_path, encrypt_export(VAULT, "hunter2"))
    bundle = read_file(path, password="hunter2")
    assert [r.title for r in bundle.records()] == ["Router", "Note", "Card"]


@pytest.mark.parametrize(
    ("password", "error"),
    [(None, PasswordRequired), ("wrong", WrongPassword)],
)
def test_protected_export_needs_the_right_password(
    tmp_path: Path, password: str | None, error: type[InterchangeError]
) -> None:
    """No password asks for one; a wrong one is reported as such."""
    path = write(tmp_path, encrypt_export(VAULT, "hunter2"))
    with pytest.raises(error):
        read_file(path, password=password)


def test_altered_data_fails_integrity(tmp_path: Path) -> None:
    """Data whose MAC does not match is refused even with the right password."""
    document = encrypt_export(VAULT, "hunter2")
    other = encrypt_export({"items": []}, "hunter2")
    document["data"] = other["data"]  # sealed under a different salt's keys
    with pytest.raises(IntegrityError):
        read_file(write(tmp_path, document), password="hunter2")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"kdfIterations": 10**9}, "kdfIterations is 1000000000"),
        ({"kdfType": 7}, "unknown key derivation"),
        (
            {"kdfType": 1, "kdfMemory": 4096, "kdfParallelism": 4, "kdfIterations": 3},
            "kdfMemory is 4096",
        ),
        ({"data": "0.abc|def"}, "not in the expected form"),
        ({"salt": None}, "no 'salt' text"),
    ],
)
def test_bad_encryption_settings_are_refused(
    tmp_path: Path, change: dict[str, Any], message: str
) -> None:
    """Unknown or server-stalling KDF settings and odd ciphertexts are refused."""
    document = {**encrypt_export(VAULT, "pw"), **change}
    with pytest.raises(MalformedFile) as caught:
        read_file(write(tmp_path, document), password="pw")
    assert message in str(caught.value)


def test_account_restricted_export_is_unsupported(tmp_path: Path) -> None:
    """An export encrypted with the account key cannot be read and says why."""
    document = {
        "encrypted": True,
        "encKeyValidation_DO_NOT_EDIT": "2.x|y|z",
        "items": [],
    }
    with pytest.raises(UnsupportedFormat, match="account's own key"):
        read_file(write(tmp_path, document))


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"items": [', "line 1, column 12: the JSON is not valid"),
        ("[1, 2]", "its top level is a list, not an object"),
        ('{"items": {"a": 1}}', "'items' is an object, not a list"),
        (
            '{"items": [{"type": 1, "name": ["x"]}]}',
            "item 1: 'name' is a list, not text",
        ),
        (
            '{"items": [{"type": 1, "name": "A", "login": "x"}]}',
            "'login' is text, not an object",
        ),
        ('{"items": [{"type": 1, "name": "A\\u0000"}]}', "contains a NUL character"),
    ],
)
def test_malformed_json_is_refused(tmp_path: Path, content: str, message: str) -> None:
    """Broken JSON and wrong value types give one MalformedFile naming the item."""
    path = tmp_path / "bad.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(MalformedFile) as caught:
        read_file(path, format="bitwarden-json")
    assert message in str(caught.value)


@pytest.mark.realdata
def test_unencrypted_export(realdata: Path) -> None:
    """keepassxc's sample: 4 items in two folders with their fields."""
    bundle = read_file(realdata / "keepassxc/bitwarden_export.json")
    assert bundle.record_count() == 4
    assert [lst.name for lst in bundle.lists] == ["My Folder", "Second Folder"]
    records = {r.title: r for r in bundle.records()}
    login = records["Login Name"]
    assert (login.username, login.password) == ("myusername@gmail.com", "mypassword")
    assert login.url == "https://mail.google.com"
    assert login.otp_secret.startswith("otpauth://totp/Google:")
    assert login.notes == "1st line of note text\n2nd Line of note text"
    identity = records["My Identity"]
    assert ImportedField("Address 1", " 1 North Calle Cesar Chavez ") in identity.fields
    assert ImportedField("SSN", "123-12-1234", True) in identity.fields
    assert records["My Secure Note"].notes.count("\n") == 2
    assert ImportedField("Security code", "123", True) in records["Card Name"].fields


@pytest.mark.realdata
@pytest.mark.parametrize(
    "name",
    ["bitwarden_encrypted_export.json", "bitwarden_encrypted_argon2id_export.json"],
)
def test_encrypted_exports(realdata: Path, name: str) -> None:
    """PBKDF2 and Argon2id exports decrypt with 'a' to the KeePassXC login."""
    bundle = read_file(realdata / "keepassxc" / name, password="a")
    (record,) = bundle.records()
    assert (record.title, record.username) == ("KeePassXC", "keepassxc")
    assert (record.url, record.otp_secret) == (
        "https://keepassxc.org",
        "fsfsfsfsefefef",
    )
    assert record.notes == "KeePassXC password manager"


@pytest.mark.realdata
def test_empty_export(realdata: Path) -> None:
    """The empty jslib sample imports as zero records."""
    bundle = read_file(realdata / "bitwarden-jslib/bitwardenJson__empty.json")
    assert bundle.record_count() == 0


@pytest.mark.realdata
@pytest.mark.parametrize(
    ("password", "error", "message"),
    [
        (None, PasswordRequired, "pass its password with --password-stdin"),
        ("not-the-password", WrongPassword, "does not open this Bitwarden export"),
    ],
)
def test_jslib_password_protected(
    realdata: Path, password: str | None, error: type[InterchangeError], message: str
) -> None:
    """The jslib protected sample needs a password and rejects a wrong one."""
    with pytest.raises(error, match=message):
        read_file(
            realdata / "bitwarden-jslib/bitwardenJson__passwordProtected.json",
            password=password,
        )
