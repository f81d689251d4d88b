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
    return Unsealer(private_key).unseal(blob)


class Unsealer:
    """Opens many blobs for one private key.

    Building the box derives the public key (an X25519 scalar multiplication,
    about a third of the cost of opening one blob), so a device opening the
    secrets of thousands of records builds it once.
    """

    def __init__(self, private_key: bytes) -> None:
        try:
            self._box = SealedBox(PrivateKey(private_key))
        except (NaclCryptoError, ValueError, TypeError) as exc:
            raise DecryptionError("not a usable private key") from exc

    def unseal(self, blob: bytes) -> bytes:
        """Open a blob made by `seal_to`, or raise DecryptionError."""
        try:
            return bytes(self._box.decrypt(blob))
        except (NaclCryptoError, ValueError, TypeError) as exc:
            raise DecryptionError("sealed box could not be opened") from exc


def is_valid_public_key(data: bytes) -> bool:
    """Tell whether `data` has the shape of an X25519 public key."""
    return len(data) == PUBLIC_KEY_BYTES
