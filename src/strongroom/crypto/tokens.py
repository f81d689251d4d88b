"""Random tokens, keyed digests and constant-time comparison."""

import base64
import hashlib
import hmac
import secrets


def random_token(nbytes: int = 32) -> str:
    """Return a URL-safe random token carrying `nbytes` bytes of entropy."""
    return secrets.token_urlsafe(nbytes)


def sha256_hex(value: str) -> str:
    """Return the SHA-256 of a high-entropy token, for storing it instead."""
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def keyed_digest(key: bytes, message: str, length: int = 32) -> str:
    """Return HMAC-SHA256(key, message) as unpadded base64url, cut to `length` bytes."""
    digest = hmac.new(key, message.encode("utf-8"), hashlib.sha256).digest()[:length]
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def equal(a: str | bytes, b: str | bytes) -> bool:
    """Compare two secrets in time independent of where they differ."""
    left = a.encode("utf-8") if isinstance(a, str) else a
    right = b.encode("utf-8") if isinstance(b, str) else b
    return hmac.compare_digest(left, right)
