"""Decryption of Bitwarden's password-protected JSON exports.

Such an export holds the KDF settings, a salt, a validation string and the
encrypted vault JSON. The key is derived from the export password with
PBKDF2-SHA256 (kdfType 0) or Argon2id (kdfType 1, salt = SHA-256 of the salt
text, memory in MiB), then stretched with HKDF-Expand (SHA-256, info "enc"
and "mac") into an AES-256 key and an HMAC-SHA256 key. Each value is an
"EncString" of type 2: ``2.<iv>|<ciphertext>|<mac>`` in base64, AES-256-CBC
with PKCS#7 padding, authenticated by HMAC-SHA256 over iv + ciphertext. Every
primitive comes from `cryptography` or `argon2-cffi`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass

from argon2.low_level import Type, hash_secret_raw
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, hmac, padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.hkdf import HKDFExpand
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC

from strongroom.server.interchange.errors import (
    IntegrityError,
    MalformedFile,
    WrongPassword,
)

logger = logging.getLogger(__name__)

KDF_PBKDF2 = 0
KDF_ARGON2ID = 1

# Ceilings on the work a file may ask of the server. Bitwarden's own maxima
# are 2,000,000 PBKDF2 iterations and 1 GiB of Argon2 memory; a file asking
# for more is refused rather than allowed to stall an import.
MAX_PBKDF2_ITERATIONS = 2_000_000
MAX_ARGON2_ITERATIONS = 10
MAX_ARGON2_MEMORY_MIB = 1024
MAX_ARGON2_PARALLELISM = 16

NOT_OPENED_MESSAGE = (
    "the password does not open this Bitwarden export; check it and try again"
)


@dataclass(frozen=True)
class _Keys:
    encryption: bytes
    mac: bytes


def decrypt_export(document: Mapping[str, object], password: str) -> bytes:
    """Return the decrypted vault JSON of a password-protected export.

    Raises WrongPassword if the validation string does not authenticate,
    IntegrityError if the data does not, and MalformedFile for bad settings.
    """
    keys = _derive_keys(document, password)
    validation = _text(document, "encKeyValidation_DO_NOT_EDIT")
    try:
        _decrypt(validation, keys)
    except InvalidSignature:
        logger.info("interchange.bitwarden.wrong_password")
        raise WrongPassword(NOT_OPENED_MESSAGE) from None
    try:
        return _decrypt(_text(document, "data"), keys)
    except InvalidSignature:
        raise IntegrityError(
            "the export's data fails its integrity check; the file was altered",
            hint="export the vault from Bitwarden again",
        ) from None


def _derive_keys(document: Mapping[str, object], password: str) -> _Keys:
    salt = _text(document, "salt").encode("utf-8")
    kdf = document.get("kdfType")
    iterations = _number(document, "kdfIterations")
    secret = password.encode("utf-8")
    if kdf == KDF_PBKDF2:
        _check_range("kdfIterations", iterations, 1, MAX_PBKDF2_ITERATIONS)
        master = PBKDF2HMAC(hashes.SHA256(), 32, salt, iterations).derive(secret)
    elif kdf == KDF_ARGON2ID:
        memory = _number(document, "kdfMemory")
        parallelism = _number(document, "kdfParallelism")
        _check_range("kdfIterations", iterations, 1, MAX_ARGON2_ITERATIONS)
        _check_range("kdfMemory", memory, 1, MAX_ARGON2_MEMORY_MIB)
        _check_range("kdfParallelism", parallelism, 1, MAX_ARGON2_PARALLELISM)
        master = hash_secret_raw(
            secret,
            hashlib.sha256(salt).digest(),
            time_cost=iterations,
            memory_cost=memory * 1024,
            parallelism=parallelism,
            hash_len=32,
            type=Type.ID,
        )
    else:
        raise MalformedFile(
            f"the export names an unknown key derivation (kdfType {kdf!r})",
            hint="export the vault from Bitwarden again",
        )
    logger.debug(
        "interchange.bitwarden.key_derived",
        extra={"kdf_type": kdf, "kdf_iterations": iterations},
    )
    return _Keys(_expand(master, b"enc"), _expand(master, b"mac"))


def _expand(master: bytes, info: bytes) -> bytes:
    return HKDFExpand(hashes.SHA256(), 32, info).derive(master)


def _decrypt(enc_string: str, keys: _Keys) -> bytes:
    """Authenticate, then decrypt one type-2 EncString; InvalidSignature if forged."""
    iv, ciphertext, mac = _split_enc_string(enc_string)
    check = hmac.HMAC(keys.mac, hashes.SHA256())
    check.update(iv + ciphertext)
    check.verify(mac)  # constant-time; raises InvalidSignature
    decryptor = Cipher(algorithms.AES(keys.encryption), modes.CBC(iv)).decryptor()
    padded = decryptor.update(ciphertext) + decryptor.finalize()
    unpadder = padding.PKCS7(algorithms.AES.block_size).unpadder()
    try:
        return unpadder.update(padded) + unpadder.finalize()
    except ValueError:
        # Authenticated yet badly padded: the writer was broken, not the password.
        raise MalformedFile(
            "the export's encrypted data is badly padded",
            hint="export the vault from Bitwarden again",
        ) from None


def _split_enc_string(enc_string: str) -> tuple[bytes, bytes, bytes]:
    kind, _, body = enc_string.partition(".")
    parts = body.split("|")
    # Only type 2 (AES-CBC with HMAC) is accepted: the unauthenticated types
    # would let a tampered file decrypt to attacker-chosen text.
    if kind != "2" or len(parts) != 3:
        raise MalformedFile(
            "the export's encrypted values are not in the expected form "
            "(type 2: iv|data|mac)",
            hint="export the vault from Bitwarden again",
        )
    try:
        iv, ciphertext, mac = (base64.b64decode(part, validate=True) for part in parts)
    except binascii.Error:
        raise MalformedFile("the export's encrypted values are not base64") from None
    if len(iv) != 16 or not ciphertext or len(ciphertext) % 16:
        raise MalformedFile("the export's encrypted values have the wrong length")
    return iv, ciphertext, mac


def _text(document: Mapping[str, object], key: str) -> str:
    value = document.get(key)
    if not isinstance(value, str) or not value:
        raise MalformedFile(
            f"the password-protected export has no {key!r} text",
            hint="export the vault from Bitwarden again",
        )
    return value


def _number(document: Mapping[str, object], key: str) -> int:
    value = document.get(key)
    if not isinstance(value, int) or isinstance(value, bool):
        raise MalformedFile(
            f"the password-protected export's {key!r} is not a number",
            hint="export the vault from Bitwarden again",
        )
    return value


def _check_range(key: str, value: int, low: int, high: int) -> None:
    if not low <= value <= high:
        raise MalformedFile(
            f"the export's {key} is {value}; Strongroom accepts {low} to {high}",
            hint="export the vault again with Bitwarden's default settings",
        )
