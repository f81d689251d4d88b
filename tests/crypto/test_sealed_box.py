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


def test_one_unsealer_opens_many_blobs_and_refuses_others() -> None:
    """An Unsealer built once opens every blob sealed to its key, and no other."""
    private, public = sealed_box.generate_keypair()
    unsealer = sealed_box.Unsealer(private)
    blobs = [sealed_box.seal_to(public, f"secret {i}".encode()) for i in range(3)]
    assert [unsealer.unseal(b) for b in blobs] == [
        b"secret 0",
        b"secret 1",
        b"secret 2",
    ]
    _, other_public = sealed_box.generate_keypair()
    with pytest.raises(DecryptionError):
        unsealer.unseal(sealed_box.seal_to(other_public, b"x"))
    with pytest.raises(DecryptionError):
        sealed_box.Unsealer(b"short")
