"""Refusals of the mobile API, each carrying the protocol's wire code.

    StrongroomError (core)
     ├── AuthenticationFailed
     │    ├── StaleQrCode             stale_qr: QR older than a reset or regeneration
     │    ├── BadCredentials          bad_credentials: username or password wrong
     │    ├── DeviceUnknown           device_unknown: credential not recognised
     │    ├── DeviceRevoked           device_revoked: erase the cache, pair again
     │    ├── CredentialReplayed      credential_replayed: a clone caught
     │    └── LockedOut
     │         └── PairingLockedOut   locked_out: carries seconds until retry
     ├── PermissionDenied
     │    ├── FeatureNotGranted       feature_not_granted
     │    └── UserDisabled            user_disabled
     ├── NotFound
     │    └── UnknownInstance         unknown_instance: the QR is for another server
     ├── ProtocolTooOld               protocol_too_old: update the app
     ├── WipeRequested                wipe_requested: erase the cache now
     └── CursorInvalid                cursor_invalid: resync from scratch

The App Server's one handler turns `wire_code` and `http_status` into the
ErrorResponse body; messages are written for a phone's screen.
"""

from strongroom.protocol.errors import ErrorCode
from strongroom.server.core.errors import (
    AuthenticationFailed,
    LockedOut,
    NotFound,
    PermissionDenied,
    StrongroomError,
)


class MobileRefusal(StrongroomError):
    """Base of every mobile refusal: names its wire code."""

    wire_code: ErrorCode = ErrorCode.INVALID_REQUEST
    # Set when the caller proved it holds a valid device credential, so that
    # what it sent (its queued audit events) may still be trusted.
    authenticated: bool = False


class ProtocolTooOld(MobileRefusal):
    """The app speaks a protocol version this server no longer accepts."""

    wire_code = ErrorCode.PROTOCOL_TOO_OLD
    http_status = 426


class UnknownInstance(NotFound, MobileRefusal):
    """The QR code names another Strongroom installation."""

    wire_code = ErrorCode.UNKNOWN_INSTANCE


class StaleQrCode(AuthenticationFailed, MobileRefusal):
    """The QR code was made before the last secret regeneration or password reset."""

    wire_code = ErrorCode.STALE_QR


class BadCredentials(AuthenticationFailed, MobileRefusal):
    """Username or master password wrong; deliberately does not say which."""

    wire_code = ErrorCode.BAD_CREDENTIALS


class PairingLockedOut(LockedOut, MobileRefusal):
    """Too many failed pairing attempts for this user or this installation."""

    wire_code = ErrorCode.LOCKED_OUT


class FeatureNotGranted(PermissionDenied, MobileRefusal):
    """The user does not hold the Mobile App feature."""

    wire_code = ErrorCode.FEATURE_NOT_GRANTED


class UserDisabled(PermissionDenied, MobileRefusal):
    """The user's account is disabled."""

    wire_code = ErrorCode.USER_DISABLED


class DeviceUnknown(AuthenticationFailed, MobileRefusal):
    """No device has this id, or the credential is not one it ever held."""

    wire_code = ErrorCode.DEVICE_UNKNOWN


class DeviceRevoked(AuthenticationFailed, MobileRefusal):
    """The device was revoked; `reason` is kept for the troubleshooter."""

    wire_code = ErrorCode.DEVICE_REVOKED

    def __init__(self, message: str, *, reason: str, revoke_now: bool = False) -> None:
        super().__init__(message, hint="pair the device again")
        self.reason = reason
        # True when the refusal itself is what revokes the device (its user's
        # master password changed since pairing).
        self.revoke_now = revoke_now


class CredentialReplayed(AuthenticationFailed, MobileRefusal):
    """A credential that was already rotated came back: a copy of the device."""

    wire_code = ErrorCode.CREDENTIAL_REPLAYED


class WipeRequested(MobileRefusal):
    """An administrator or the user ordered this device's cache erased."""

    wire_code = ErrorCode.WIPE_REQUESTED
    http_status = 410


class CursorInvalid(MobileRefusal):
    """The cursor is not one this server gave to this device."""

    wire_code = ErrorCode.CURSOR_INVALID
    http_status = 409
