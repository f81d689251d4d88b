"""Public-key sealing to a device: PyNaCl's sealed box (X25519 + XSalsa20-Poly1305).

The server seals secret fields to the device's public key so that nothing in
between, a TLS-terminating proxy included, ever sees them.
"""

from nacl.exceptions import CryptoError as NaclCryptoError
from nacl.public import PrivateKey, PublicKey, SealedBox

from strongroom.crypto.errors import DecryptionError

PUBLIC_KEY_BYTES = 32


def generate_keypair() -> tuple[bytes, bytes]:
    """Return a new (private key, public key) pair as raw bytes."""
    private = PrivateKey.generate()
    return bytes(private), bytes(private.public_key)


def seal_to(public_key: bytes, plaintext: bytes) -> bytes:
    """Encrypt `plaintext` so only the holder of the private key can read it."""
    return bytes(SealedBox(PublicKey(public_key)).encrypt(plaintext))


def unseal(private_key: bytes, blob: bytes) -> bytes:
    """Open a blob made by `seal_to`, or raise DecryptionError."""
    try:
        return bytes(SealedBox(PrivateKey(private_key)).decrypt(blob))
    except (NaclCryptoError, ValueError, TypeError) as exc:
        raise DecryptionError("sealed box could not be opened") from exc


def is_valid_public_key(data: bytes) -> bool:
    """Tell whether `data` has the shape of an X25519 public key."""
    return len(data) == PUBLIC_KEY_BYTES
