"""Argon2id hashes verify only the right password; derived keys are stable."""

import os

from strongroom.crypto import passwords


def test_hash_verifies_only_the_password() -> None:
    """The hash is Argon2id and accepts only the password it was made from."""
    encoded = passwords.hash_password("correct horse")
    assert encoded.startswith("$argon2id$")
    assert passwords.verify_password(encoded, "correct horse")
    assert not passwords.verify_password(encoded, "correct horsE")


def test_garbage_hash_is_a_mismatch_not_an_error() -> None:
    """A damaged stored hash counts as a mismatch instead of raising."""
    assert not passwords.verify_password("not-a-hash", "x")


def test_derive_key_depends_on_password_and_salt() -> None:
    """The same password and parameters give the same key; others differ."""
    params = passwords.KdfParams(salt=os.urandom(16), memory_kib=8 * 1024)
    key = passwords.derive_key("pw", params)
    assert len(key) == 32
    assert passwords.derive_key("pw", params) == key
    assert passwords.derive_key("pw2", params) != key
    other = passwords.KdfParams(salt=os.urandom(16), memory_kib=8 * 1024)
    assert passwords.derive_key("pw", other) != key


def test_params_round_trip() -> None:
    """Stored KDF parameters read back equal."""
    params = passwords.KdfParams(salt=b"\x01" * 16)
    assert passwords.KdfParams.from_dict(params.to_dict()) == params
    assert params.memory_kib >= 64 * 1024 and params.time_cost >= 3
