"""Sealing to a device's public key: only its private key opens it."""

import pytest

from strongroom.crypto import sealed_box
from strongroom.crypto.errors import DecryptionError


def test_only_the_device_opens_it() -> None:
    """The holder of the private key reads the plaintext; another key cannot."""
    private, public = sealed_box.generate_keypair()
    blob = sealed_box.seal_to(public, b"pw")
    assert sealed_box.unseal(private, blob) == b"pw"
    other_private, _ = sealed_box.generate_keypair()
    with pytest.raises(DecryptionError):
        sealed_box.unseal(other_private, blob)
    assert sealed_box.is_valid_public_key(public)
    assert not sealed_box.is_valid_public_key(public[:-1])
