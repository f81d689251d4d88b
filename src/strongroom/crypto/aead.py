"""AES-256-GCM sealing with associated data.

A sealed blob is the 12-byte random nonce followed by the GCM ciphertext and
tag. The associated data binds a ciphertext to where it belongs (a record and a
field), so moving it elsewhere makes opening fail.
"""

import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from strongroom.crypto.errors import DecryptionError

KEY_BYTES = 32
NONCE_BYTES = 12


def generate_key() -> bytes:
    """Return a fresh random 256-bit key."""
    return AESGCM.generate_key(bit_length=256)


def seal(key: bytes, plaintext: bytes, aad: bytes) -> bytes:
    """Encrypt and authenticate `plaintext`, binding it to `aad`."""
    # A random 96-bit nonce per message; with a key used for well under 2**32
    # messages the collision risk stays negligible (NIST SP 800-38D, 8.3).
    nonce = os.urandom(NONCE_BYTES)
    return nonce + AESGCM(key).encrypt(nonce, plaintext, aad)


def open_sealed(key: bytes, blob: bytes, aad: bytes) -> bytes:
    """Return the plaintext of `blob`, or raise DecryptionError.

    Fails when the blob was altered, sealed under another key, or sealed with
    different associated data (for instance swapped from another record).
    """
    if len(blob) < NONCE_BYTES + 16:
        raise DecryptionError("ciphertext is too short")

    nonce, body = blob[:NONCE_BYTES], blob[NONCE_BYTES:]
    try:
        return AESGCM(key).decrypt(nonce, body, aad)
    except InvalidTag as exc:
        raise DecryptionError("ciphertext failed authentication") from exc
