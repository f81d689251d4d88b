"""Argon2id: password hashes for verification and keys derived from passwords."""

import functools
from dataclasses import asdict, dataclass
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from argon2.low_level import Type, hash_secret_raw

# RFC 9106's second recommended option: 64 MiB, 3 passes, 4 lanes.
_HASHER = PasswordHasher(time_cost=3, memory_cost=64 * 1024, parallelism=4)


def hash_password(password: str) -> str:
    """Return an encoded Argon2id hash of `password` with a random salt."""
    return str(_HASHER.hash(password))


def verify_password(encoded: str, password: str) -> bool:
    """Tell whether `password` matches `encoded`; never raises for a mismatch."""
    try:
        return bool(_HASHER.verify(encoded, password))
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


@functools.cache
def _dummy_hash() -> str:
    # A hash of a password nobody knows, verified when the account does not
    # exist so that an unknown name costs the same time as a wrong password.
    # Made on first use, not at import: every CLI start would pay ~0.3 s.
    return str(_HASHER.hash("strongroom-dummy-password-for-timing"))


def burn_verification_time(password: str) -> None:
    """Spend the time a real verification would, for an unknown account."""
    verify_password(_dummy_hash(), password)


@dataclass(frozen=True)
class KdfParams:
    """Argon2id parameters stored beside whatever key they derive."""

    salt: bytes
    time_cost: int = 3
    memory_kib: int = 64 * 1024
    parallelism: int = 4

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-friendly form (the salt in hex)."""
        data = asdict(self)
        data["salt"] = self.salt.hex()
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "KdfParams":
        """Rebuild parameters written by `to_dict`."""
        return cls(
            salt=bytes.fromhex(str(data["salt"])),
            time_cost=int(data["time_cost"]),
            memory_kib=int(data["memory_kib"]),
            parallelism=int(data["parallelism"]),
        )


def derive_key(password: str, params: KdfParams) -> bytes:
    """Derive a 256-bit key from `password` with Argon2id."""
    return bytes(
        hash_secret_raw(
            secret=password.encode("utf-8"),
            salt=params.salt,
            time_cost=params.time_cost,
            memory_cost=params.memory_kib,
            parallelism=params.parallelism,
            hash_len=32,
            type=Type.ID,
        )
    )
