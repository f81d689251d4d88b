"""The device's one exception family: every error says what happened and what to do.

    ClientError                       message + hint; exit code 1
     ├── UsageError                   the command was put together wrongly (exit 2)
     ├── ProfileError                 the profile directory cannot be used
     │    └── ProfileNotWritable      nothing can be written there
     ├── NotPaired                    this profile holds no paired device yet
     ├── AlreadyPaired                this profile is already paired
     ├── BadPairingCode               the QR code or text is not a Strongroom code
     ├── CacheCorrupt                 the offline copy is damaged (truncated, altered)
     ├── CacheErased                  the offline copy was erased (wipe, revoke, limit)
     ├── CacheExpired                 the offline time to live has passed: sync first
     ├── UnlockError                  the vault stays locked
     │    ├── WrongMasterPassword     carries the attempts left before erasure
     │    ├── MasterPasswordRequired  biometrics are not enough any more
     │    ├── SessionInvalid          the session token is unknown, locked or idle
     │    └── BiometricUnavailable    no secure key store, or biometrics are off
     ├── RecordNotFound               no record with that id (or prefix)
     ├── NoOtpSecret                  the record has no (valid) OTP secret
     ├── ClipboardUnavailable         this device has no clipboard to copy to
     ├── SyncInProgress               another sync of this profile did not finish
     └── ServerError                  talking to the App Server failed
          ├── ServerUnreachable       no connection (DNS, refused, offline)
          ├── ServerTimeout           it did not answer in time
          ├── ServerGarbage           it answered something this app cannot read
          ├── PinMismatch             its certificate is not the one paired with
          └── ServerRefused           it answered with an error code (`code`)
               ├── DeviceRevoked      revoked or a clone was caught: cache erased
               └── WipeRequested      an administrator ordered a wipe: cache erased

Each class owns its exit code; the CLI has one handler that prints `message`
and `hint`, and the phone app shows the same two sentences.
"""

from strongroom.protocol.errors import ErrorCode


class ClientError(Exception):
    """A problem a person can act on: `message` says what, `hint` what to do next."""

    exit_code = 1

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message}; {self.hint}" if self.hint else self.message


class UsageError(ClientError):
    """The command or call was put together wrongly."""

    exit_code = 2


class ProfileError(ClientError):
    """The profile directory cannot be used as it is."""

    exit_code = 3


class ProfileNotWritable(ProfileError):
    """Nothing can be written in the profile directory."""


class NotPaired(ClientError):
    """This profile has no paired device."""

    exit_code = 4

    def __init__(self) -> None:
        super().__init__(
            "this device is not paired with a Strongroom server yet",
            hint="scan your pairing QR code with `strongroom-mobile pair`",
        )


class AlreadyPaired(ClientError):
    """The profile already holds a paired device."""

    exit_code = 4


class BadPairingCode(ClientError):
    """The QR code (or its text) is not a Strongroom pairing code."""

    exit_code = 5


class CacheCorrupt(ClientError):
    """The offline copy cannot be read: truncated, altered or not a cache at all."""

    exit_code = 6


class CacheErased(ClientError):
    """The offline copy was erased; `reason` says why."""

    exit_code = 7

    def __init__(self, reason: str) -> None:
        super().__init__(
            f"this device's offline copy was erased: {reason}",
            hint="pair the device again with a new QR code",
        )
        self.reason = reason


class CacheExpired(ClientError):
    """The offline time to live has passed; nothing is shown until a sync."""

    exit_code = 8

    def __init__(self, days: int | None, why: str | None = None) -> None:
        super().__init__(
            why
            or f"the offline copy is older than the {days} days your organisation "
            "allows",
            hint="connect to the network and run `strongroom-mobile sync`",
        )


class UnlockError(ClientError):
    """The vault could not be unlocked."""

    exit_code = 9


class WrongMasterPassword(UnlockError):
    """The master password did not open the cache; `attempts_left` before erasure."""

    def __init__(self, attempts_left: int) -> None:
        plural = "attempt" if attempts_left == 1 else "attempts"
        super().__init__(
            "that master password is not right",
            hint=f"{attempts_left} {plural} left before this device erases its "
            "offline copy",
        )
        self.attempts_left = attempts_left


class MasterPasswordRequired(UnlockError):
    """Biometrics or a session may not unlock now: the policy wants the password."""

    def __init__(self, hours: int) -> None:
        super().__init__(
            f"your organisation asks for the master password every {hours} hours",
            hint="unlock with your master password this time",
        )


class SessionInvalid(UnlockError):
    """The session token is unknown, was locked, or idled out."""

    def __init__(self, why: str) -> None:
        super().__init__(
            f"the session in STRONGROOM_MOBILE_SESSION {why}",
            hint="run `strongroom-mobile unlock` again, or unset the variable",
        )


class BiometricUnavailable(UnlockError):
    """Biometric unlock is off, not allowed, or has no secure key store."""


class RecordNotFound(ClientError):
    """No record in the offline copy has that id."""

    exit_code = 10

    def __init__(self, record_id: str, *, ambiguous: bool = False) -> None:
        if ambiguous:
            message = f"more than one record starts with {record_id!r}"
            hint = "give more characters of the id (`strongroom-mobile ls` shows them)"
        else:
            message = f"there is no record {record_id!r} on this device"
            hint = "`strongroom-mobile ls` or `search` shows the ids"
        super().__init__(message, hint=hint)


class NoOtpSecret(ClientError):
    """The record holds no usable one-time-password secret."""

    exit_code = 10


class ClipboardUnavailable(ClientError):
    """There is no clipboard here (a headless machine, no copy tool)."""

    exit_code = 11

    def __init__(self, why: str) -> None:
        super().__init__(
            f"this device has no clipboard to copy to ({why})",
            hint="use `strongroom-mobile show ID --reveal` instead",
        )


class SyncInProgress(ClientError):
    """Another sync of the same profile held the sync lock for too long."""

    def __init__(self, waited_seconds: float) -> None:
        super().__init__(
            "another sync of this device is still running "
            f"(waited {waited_seconds:.0f} seconds)",
            hint="let it finish, then sync again; your offline copy still works",
        )


class ServerError(ClientError):
    """Talking to the App Server failed; the offline copy is unchanged."""

    exit_code = 12


class ServerUnreachable(ServerError):
    """No connection could be made to the App Server."""

    def __init__(self, url: str, why: str) -> None:
        super().__init__(
            f"cannot reach the App Server at {url} ({why})",
            hint="check the network; your offline copy still works",
        )


class ServerTimeout(ServerError):
    """The App Server did not answer in time."""

    def __init__(self, url: str) -> None:
        super().__init__(
            f"the App Server at {url} did not answer in time",
            hint="try again later; your offline copy still works",
        )


class ServerGarbage(ServerError):
    """The App Server answered something that is not the Strongroom protocol."""

    def __init__(self, url: str, why: str) -> None:
        super().__init__(
            f"the App Server at {url} sent an answer this app cannot read ({why})",
            hint="ask your administrator to check the App Server URL and version",
        )


PIN_MISMATCH_MESSAGE = (
    "the App Server's certificate does not match the key this device was paired with"
)
PIN_MISMATCH_AT_PAIRING_MESSAGE = (
    "the App Server's certificate does not match the key in the pairing QR code"
)


class PinMismatch(ServerError):
    """The certificate's public key differs from the pin in the QR code."""

    exit_code = 13

    def __init__(self, *, pairing: bool = False) -> None:
        # Nothing was sent: the handshake failed before the first request byte.
        super().__init__(
            PIN_MISMATCH_AT_PAIRING_MESSAGE if pairing else PIN_MISMATCH_MESSAGE,
            hint="do not use this network; tell your administrator (nothing was sent)",
        )


# What a person on a phone should do next, per code the App Server may send.
_NEXT_STEP: dict[ErrorCode, str] = {
    ErrorCode.INVALID_REQUEST: "update the app; if that does not help, tell your "
    "administrator",
    ErrorCode.PAYLOAD_TOO_LARGE: "sync again; if it persists, tell your administrator",
    ErrorCode.PROTOCOL_TOO_OLD: "update the Strongroom app",
    ErrorCode.UNKNOWN_INSTANCE: "this QR code belongs to another server; ask for a "
    "new one",
    ErrorCode.STALE_QR: "ask your administrator for a new QR code (the old one died "
    "when the password or pairing secret changed)",
    ErrorCode.BAD_CREDENTIALS: "check the master password (not your web password) "
    "and try again",
    ErrorCode.FEATURE_NOT_GRANTED: "ask your administrator for the Mobile App feature",
    ErrorCode.USER_DISABLED: "ask your administrator to enable your account",
    ErrorCode.DEVICE_UNKNOWN: "pair this device again",
    ErrorCode.DEVICE_REVOKED: "pair this device again with a new QR code",
    ErrorCode.CREDENTIAL_REPLAYED: "pair this device again; tell your administrator",
    ErrorCode.WIPE_REQUESTED: "pair this device again if your administrator allows",
    ErrorCode.CURSOR_INVALID: "sync again",
    ErrorCode.UNAVAILABLE: "try again later; your offline copy still works",
}


_LIFT_LOCKOUT = (
    "ask your administrator to lift the lock-out now "
    "(`strongroom mobile unlock USER` on the server)"
)


def _lockout_next_step(server_message: str, retry_after_seconds: int | None) -> str:
    """What to do when locked out, without repeating the wait the server named."""
    if not retry_after_seconds:
        return f"wait and try again, or {_LIFT_LOCKOUT}"
    minutes = max(1, (retry_after_seconds + 59) // 60)
    wait = f"try again in {minutes} minute{'s' if minutes != 1 else ''}"
    if wait in server_message:
        return f"wait, or {_LIFT_LOCKOUT}"
    return f"{wait}, or {_LIFT_LOCKOUT}"


class ServerRefused(ServerError):
    """The App Server answered with an error `code` (see protocol.errors)."""

    def __init__(
        self,
        code: ErrorCode,
        server_message: str,
        *,
        retry_after_seconds: int | None = None,
        field: str | None = None,
    ) -> None:
        hint = _NEXT_STEP.get(code)
        if code is ErrorCode.LOCKED_OUT:
            hint = _lockout_next_step(server_message, retry_after_seconds)
        super().__init__(f"the App Server refused: {server_message}", hint=hint)
        self.code = code
        self.server_message = server_message
        self.retry_after_seconds = retry_after_seconds
        self.field = field


class DeviceRevoked(ServerRefused):
    """The device was revoked (or a clone caught); its cache has been erased."""

    exit_code = 14


class WipeRequested(ServerRefused):
    """An administrator ordered this device wiped; its cache has been erased."""

    exit_code = 14
