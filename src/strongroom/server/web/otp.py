"""One-time codes (RFC 6238) of a record's OTP secret, for the record page.

The secret is a bare base32 key or an `otpauth://totp/...` link, whose digits,
period and algorithm are honoured.
"""

import binascii
import hashlib
import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pyotp

_DIGESTS: dict[str, Any] = {
    "SHA1": hashlib.sha1,
    "SHA256": hashlib.sha256,
    "SHA512": hashlib.sha512,
}


class _ExistingTotp(pyotp.TOTP):
    """pyotp's TOTP accepting the 80-bit secrets many services still issue.

    pyotp refuses secrets under 112 bits so that new ones are strong; a record
    stores a secret a service already chose, and refusing it would only lock
    its owner out of that account.
    """

    min_secret_length_bits = 80


def totp_of(raw: str) -> pyotp.TOTP:
    """The TOTP generator for a record's secret; ValueError when unusable."""
    text = raw.strip()
    if not text:
        raise ValueError("the OTP secret is empty")
    try:
        if text.lower().startswith("otpauth://"):
            return _from_uri(text)
        return _ExistingTotp(text.replace(" ", "").replace("-", "").upper())
    except (TypeError, binascii.Error) as exc:
        raise ValueError(str(exc)) from exc


def _from_uri(text: str) -> pyotp.TOTP:
    parts = urlsplit(text)
    if parts.netloc.lower() != "totp":
        raise ValueError("only time-based (totp) links are supported")
    query = {k.lower(): v[0] for k, v in parse_qs(parts.query).items()}
    algorithm = query.get("algorithm", "SHA1").upper()
    if algorithm not in _DIGESTS:
        raise ValueError(f"unknown algorithm {algorithm}")
    try:
        digits = int(query.get("digits", "6"))
        period = int(query.get("period", "30"))
    except ValueError:
        raise ValueError("digits and period must be numbers") from None
    if not 1 <= period <= 600:
        raise ValueError("the period must be from 1 to 600 seconds")
    return _ExistingTotp(
        query.get("secret", "").replace(" ", "").upper(),
        digits=digits,
        digest=_DIGESTS[algorithm],
        interval=period,
    )


def check(raw: str) -> None:
    """Raise ValueError unless `raw` yields codes."""
    totp_of(raw).now()


def current(raw: str, now: float | None = None) -> tuple[str, int, int] | None:
    """(code, seconds left, period) for `raw`, or None when it is unusable."""
    if not raw.strip():
        return None
    moment = time.time() if now is None else now
    try:
        totp = totp_of(raw)
        code = str(totp.at(int(moment)))
    except ValueError:
        return None
    period = int(totp.interval)
    # RFC 6238 section 4: T = floor((now - T0) / X) with T0 = 0.
    return code, period - int(moment) % period, period
