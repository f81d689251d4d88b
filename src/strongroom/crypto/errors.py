"""Errors raised by the crypto package.

CryptoError
 └── DecryptionError   a ciphertext failed authentication or cannot be opened
"""


class CryptoError(Exception):
    """Root of every error raised by `strongroom.crypto`."""


class DecryptionError(CryptoError):
    """A ciphertext was altered, swapped, or opened with the wrong key."""
