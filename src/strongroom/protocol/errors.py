"""Error codes the App Server answers with, and the body that carries them.

Every refusal is an HTTP 4xx (or 503) whose JSON body is `ErrorBody`: a
stable `code` a device can act on, a `message` a person can read, and for
some codes extra data (the field at fault, seconds until retry).
"""

from enum import StrEnum

from pydantic import BaseModel, ConfigDict


class ErrorCode(StrEnum):
    """Why the App Server refused a request."""

    INVALID_REQUEST = "invalid_request"  # 422: body malformed; `field` names it
    PAYLOAD_TOO_LARGE = "payload_too_large"  # 413
    PROTOCOL_TOO_OLD = "protocol_too_old"  # 426: update the app
    UNKNOWN_INSTANCE = "unknown_instance"  # 404: QR from another server
    STALE_QR = "stale_qr"  # 401: QR made before a secret regeneration or reset
    BAD_CREDENTIALS = "bad_credentials"  # 401: username or master password wrong
    LOCKED_OUT = "locked_out"  # 429: `retry_after_seconds` says how long
    FEATURE_NOT_GRANTED = "feature_not_granted"  # 403: no Mobile App feature
    USER_DISABLED = "user_disabled"  # 403
    DEVICE_UNKNOWN = "device_unknown"  # 401: credential not recognised
    DEVICE_REVOKED = "device_revoked"  # 401: erase the cache, pair again
    CREDENTIAL_REPLAYED = "credential_replayed"  # 401: clone caught; device revoked
    WIPE_REQUESTED = "wipe_requested"  # 410: erase the cache now
    CURSOR_INVALID = "cursor_invalid"  # 409: cursor not of this device; full resync
    UNAVAILABLE = "unavailable"  # 503: database down
    INTERNAL_ERROR = "internal_error"  # 500: a server fault, logged; try again later


class ErrorBody(BaseModel):
    """The JSON body of every error answer."""

    model_config = ConfigDict(extra="forbid")

    code: ErrorCode
    message: str
    field: str | None = None
    retry_after_seconds: int | None = None


class ErrorResponse(BaseModel):
    """Top-level error document: `{"error": {...}}`."""

    error: ErrorBody
