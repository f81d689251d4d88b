"""AES-256-GCM sealing binds each ciphertext to its key and its place."""

import pytest

from strongroom.crypto import aead
from strongroom.crypto.errors import DecryptionError


def test_round_trip() -> None:
    """A sealed value opens with the same key and associated data."""
    key = aead.generate_key()
    blob = aead.seal(key, b"hunter2", b"record/1/password")
    assert aead.open_sealed(key, blob, b"record/1/password") == b"hunter2"
    assert b"hunter2" not in blob


@pytest.mark.parametrize(
    ("change", "why"),
    [
        ("aad", "moved to another record"),
        ("key", "opened with another key"),
        ("flip", "altered"),
        ("short", "truncated"),
    ],
)
def test_refuses_tampering(change: str, why: str) -> None:
    """Opening fails when the blob is {why}."""
    key = aead.generate_key()
    blob = aead.seal(key, b"secret", b"record/1/password")
    aad = b"record/1/password"
    if change == "aad":
        aad = b"record/2/password"
    elif change == "key":
        key = aead.generate_key()
    elif change == "flip":
        blob = blob[:-1] + bytes([blob[-1] ^ 1])
    else:
        blob = blob[:10]
    with pytest.raises(DecryptionError):
        aead.open_sealed(key, blob, aad)


def test_nonces_differ() -> None:
    """Sealing the same value twice gives different ciphertexts."""
    key = aead.generate_key()
    assert aead.seal(key, b"x", b"a") != aead.seal(key, b"x", b"a")
