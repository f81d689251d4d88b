"""Secrets of the mobile path: pairing tokens and device credentials.

A pairing token is an HMAC, under the App Pairing Secret, of the instance id,
the user id, the user's mobile credential generation and the pairing-secret
generation. It is never stored: the server recomputes it, so a QR code dies
as soon as either generation moves on.

A device credential is a random token the server stores only as its SHA-256
(the token carries 256 bits of entropy, so a slow hash would add nothing).
"""

from strongroom.crypto import tokens

CREDENTIAL_BYTES = 32
_TOKEN_CONTEXT = "strongroom/pairing-token/v1"  # noqa: S105 - a label


def pairing_token(
    secret: str,
    *,
    instance_id: str,
    user_id: str,
    credential_generation: int,
    secret_generation: int,
) -> str:
    """The token a QR code carries for this user at these generations."""
    message = "|".join(
        (
            _TOKEN_CONTEXT,
            instance_id,
            user_id,
            str(credential_generation),
            str(secret_generation),
        )
    )
    return tokens.keyed_digest(secret.encode("utf-8"), message)


def new_device_credential() -> str:
    """A fresh device credential (43 URL-safe characters)."""
    return tokens.random_token(CREDENTIAL_BYTES)


def credential_hash(credential: str) -> str:
    """What the server stores in place of a device credential."""
    return tokens.sha256_hex(credential)


def same_hash(stored: str | None, presented: str) -> bool:
    """Compare a stored credential hash with a presented one in constant time."""
    return stored is not None and tokens.equal(stored, presented)
