"""Cryptographic building blocks shared by the server and the device.

Everything here wraps a well-kept library (`cryptography`, `argon2-cffi`,
PyNaCl); nothing implements a primitive. This package imports nothing else of
Strongroom, so the device can carry it without the server.
"""

from strongroom.crypto.errors import CryptoError, DecryptionError

__all__ = ["CryptoError", "DecryptionError"]
