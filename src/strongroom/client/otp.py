"""Time-based one-time passwords (RFC 6238) from a record's OTP secret.

The secret may be a bare base32 key or an `otpauth://totp/...` URI (what
KeePassXC and most authenticator exports store).
"""

import binascii
import datetime
import hashlib
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pyotp

from strongroom.client.errors import NoOtpSecret
from strongroom.client.models import OtpCode

_DIGESTS: dict[str, Any] = {
    "SHA1": hashlib.sha1,
    "SHA256": hashlib.sha256,
    "SHA512": hashlib.sha512,
}


class _ExistingTotp(pyotp.TOTP):
    """pyotp's TOTP accepting the 80-bit secrets many services still issue.

    pyotp refuses secrets under 112 bits so that new ones are strong; the
    device only shows codes for secrets a service already chose, and refusing
    would lock the person out of that account, not make it safer.
    """

    min_secret_length_bits = 80


def _bad(why: object) -> NoOtpSecret:
    return NoOtpSecret(
        f"this record's one-time-password secret cannot be used ({why})",
        hint="correct the OTP secret on the server, then sync",
    )


def _from_uri(text: str) -> pyotp.TOTP:
    parts = urlsplit(text)
    if parts.netloc.lower() != "totp":
        raise ValueError("only time-based (totp) codes are supported")
    query = {k.lower(): v[0] for k, v in parse_qs(parts.query).items()}
    algorithm = query.get("algorithm", "SHA1").upper()
    if algorithm not in _DIGESTS:
        raise ValueError(f"unknown algorithm {algorithm}")
    return _ExistingTotp(
        query.get("secret", "").replace(" ", "").upper(),
        digits=int(query.get("digits", "6")),
        digest=_DIGESTS[algorithm],
        interval=int(query.get("period", "30")),
    )


def _totp(secret: str) -> pyotp.TOTP:
    text = secret.strip()
    if not text:
        raise NoOtpSecret(
            "this record has no one-time-password secret",
            hint="add one on the server, then sync",
        )
    try:
        if text.lower().startswith("otpauth://"):
            return _from_uri(text)
        return _ExistingTotp(text.replace(" ", "").upper())
    except (ValueError, TypeError, binascii.Error) as exc:
        raise _bad(exc) from exc


def current_code(secret: str, now: datetime.datetime) -> OtpCode:
    """The code valid at `now` and how many seconds it stays valid."""
    totp = _totp(secret)
    if totp.interval <= 0:
        raise _bad("the period must be positive")
    try:
        code = totp.at(now)
    except (ValueError, TypeError, binascii.Error) as exc:
        raise _bad(exc) from exc
    interval = int(totp.interval)
    # RFC 6238 section 4: T = floor((now - T0) / X) with T0 = 0.
    seconds_left = interval - int(now.timestamp()) % interval
    return OtpCode(code=str(code), seconds_left=seconds_left, interval=interval)
