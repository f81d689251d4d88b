"""Core errors turned into what a person on a phone reads: what happened, what to do.

The core's own `message` says what happened in words that fit any caller; its
`hint` speaks of CLI commands, so the app writes its own next step for every
error a person can meet, naming the buttons of this app. `Notice.after` tells
the app where the person has to go next (pair again, unlock, stay).
"""

import logging
from dataclasses import dataclass
from enum import StrEnum

from strongroom.client.errors import (
    AlreadyPaired,
    BadPairingCode,
    BiometricUnavailable,
    CacheCorrupt,
    CacheErased,
    CacheExpired,
    ClientError,
    ClipboardUnavailable,
    DeviceRevoked,
    MasterPasswordRequired,
    NoOtpSecret,
    NotPaired,
    PinMismatch,
    ProfileError,
    RecordNotFound,
    ServerGarbage,
    ServerRefused,
    ServerTimeout,
    ServerUnreachable,
    WipeRequested,
    WrongMasterPassword,
)
from strongroom.protocol.errors import ErrorCode

log = logging.getLogger(__name__)


class After(StrEnum):
    """Where the app goes once the person has seen the notice."""

    STAY = "stay"
    PAIR = "pair"  # the device holds nothing any more: pair again
    UNLOCK = "unlock"  # the vault is locked (again)


@dataclass(frozen=True)
class Notice:
    """A message for a person: a title, what happened, and what to do next."""

    title: str
    detail: str
    next_step: str
    after: After = After.STAY
    error: bool = True

    @property
    def text(self) -> str:
        """The detail and the next step as shown under the title."""
        return f"{self.detail}\n{self.next_step}" if self.next_step else self.detail


def _sentence(text: str) -> str:
    text = text.strip()
    if not text:
        return text
    text = text[0].upper() + text[1:]
    return text if text.endswith((".", "!", "?", ")")) else f"{text}."


def _minutes(seconds: int | None) -> str:
    if not seconds:
        return "a while"
    minutes = max(1, (seconds + 59) // 60)
    return f"{minutes} minute{'s' if minutes != 1 else ''}"


# What to do when the App Server refused, per protocol error code.
_REFUSED: dict[ErrorCode, tuple[str, str]] = {
    ErrorCode.STALE_QR: (
        "This QR code is no longer valid",
        "It stopped working when your master password or your organisation's "
        "pairing secret changed. Ask your administrator for a new QR code, "
        "then scan it here.",
    ),
    ErrorCode.BAD_CREDENTIALS: (
        "That master password is not right",
        "Type your mobile master password (not the one for the web) and try again.",
    ),
    ErrorCode.UNKNOWN_INSTANCE: (
        "This QR code is for another server",
        "Ask your administrator for the QR code of your organisation's Strongroom.",
    ),
    ErrorCode.FEATURE_NOT_GRANTED: (
        "Mobile access is not switched on for you",
        "Ask your administrator to grant you the Mobile App feature.",
    ),
    ErrorCode.USER_DISABLED: (
        "Your account is disabled",
        "Ask your administrator to enable it.",
    ),
    ErrorCode.PROTOCOL_TOO_OLD: (
        "This app is too old for your server",
        "Update Strongroom from your app store.",
    ),
    ErrorCode.DEVICE_UNKNOWN: (
        "The server does not know this phone",
        "Log out in Settings, then pair again with a new QR code.",
    ),
    ErrorCode.CURSOR_INVALID: (
        "The server asked for a fresh start",
        "Tap Sync now again.",
    ),
    ErrorCode.UNAVAILABLE: (
        "The server is having trouble",
        "Try again later. Your offline copy still works.",
    ),
    ErrorCode.PAYLOAD_TOO_LARGE: (
        "The server refused a request that was too large",
        "Tap Sync now again; if it keeps happening, tell your administrator.",
    ),
    ErrorCode.INVALID_REQUEST: (
        "The server did not understand this app",
        "Update Strongroom; if it keeps happening, tell your administrator.",
    ),
}


def notice_for(exc: BaseException) -> Notice:
    """The notice to show for `exc` (any exception; unknown ones are logged)."""
    if isinstance(exc, ClientError):
        return _client_notice(exc)
    # A bug, not something the person caused: say so plainly, keep the detail
    # in the log (exception types and messages of the core carry no secret).
    log.error("app_unexpected_error error=%s", type(exc).__name__, exc_info=exc)
    return Notice(
        "Something went wrong",
        f"Strongroom hit a problem it did not expect ({type(exc).__name__}).",
        "Try again; if it keeps happening, tell your administrator.",
    )


def _client_notice(exc: ClientError) -> Notice:
    detail = _sentence(exc.message)
    if isinstance(exc, PinMismatch):
        # The wording is deliberately alarming: this is what an intercepting
        # proxy or a spoofed Wi-Fi looks like, and nothing was sent to it.
        return Notice(
            "This is not your organisation's server",
            "The server's certificate does not match the key this phone was "
            "paired with, so Strongroom sent it nothing.",
            "Do not use this network: switch to mobile data or another network, "
            "and tell your administrator.",
        )
    if isinstance(exc, WipeRequested):
        return Notice(
            "This phone was wiped",
            "Your administrator asked for this phone's offline copy to be erased, "
            "and it has been.",
            "To use Strongroom here again, ask your administrator for a new QR "
            "code and pair again.",
            After.PAIR,
        )
    if isinstance(exc, DeviceRevoked):
        return Notice(
            "This phone is no longer paired",
            "The server revoked this phone, and its offline copy has been erased.",
            "Ask your administrator for a new QR code and pair again.",
            After.PAIR,
        )
    if isinstance(exc, ServerRefused):
        return _refused_notice(exc)
    if isinstance(exc, CacheErased):
        return Notice(
            "The offline copy was erased",
            _sentence(f"this phone erased its offline copy: {exc.reason}"),
            "Ask your administrator for a new QR code and pair again.",
            After.PAIR,
        )
    if isinstance(exc, CacheExpired):
        return Notice(
            "Your offline copy has expired",
            f"{detail} Nothing is shown until it is refreshed.",
            "Connect to the network and tap Sync now.",
        )
    if isinstance(exc, WrongMasterPassword):
        left = exc.attempts_left
        return Notice(
            "That master password is not right",
            f"{left} attempt{'s' if left != 1 else ''} left before this phone "
            "erases its offline copy.",
            "Type your mobile master password (not the one for the web).",
            After.UNLOCK,
        )
    if isinstance(exc, MasterPasswordRequired):
        return Notice(
            "Type your master password this time",
            detail,
            "Biometric unlock works again after this.",
            After.UNLOCK,
        )
    if isinstance(exc, BiometricUnavailable):
        return Notice(
            "Biometric unlock is not available",
            detail,
            "Unlock with your master password.",
        )
    if isinstance(exc, ServerUnreachable):
        return Notice(
            "Cannot reach your organisation's server",
            detail,
            "Check your network connection. Your offline copy still works.",
        )
    if isinstance(exc, ServerTimeout):
        return Notice(
            "The server did not answer in time",
            detail,
            "Try again in a moment. Your offline copy still works.",
        )
    if isinstance(exc, ServerGarbage):
        return Notice(
            "The server sent an answer this app cannot read",
            detail,
            "Ask your administrator to check the App Server address.",
        )
    if isinstance(exc, BadPairingCode):
        return Notice(
            "That is not a Strongroom pairing code",
            detail,
            "Scan the QR code from Strongroom's Preferences page in your "
            "browser, or paste its text here.",
        )
    if isinstance(exc, NotPaired):
        return Notice(
            "This phone is not paired yet",
            "It does not hold anything from your organisation.",
            "Scan your pairing QR code to start.",
            After.PAIR,
        )
    if isinstance(exc, AlreadyPaired):
        return Notice(
            "This phone is already paired",
            detail,
            "Log out in Settings first if you want to pair it again.",
        )
    if isinstance(exc, CacheCorrupt):
        return Notice(
            "The offline copy is damaged",
            detail,
            "Erase this phone's copy and pair again; nothing on the server is lost.",
        )
    if isinstance(exc, RecordNotFound):
        return Notice(
            "That entry is no longer on this phone",
            "It was removed by the last sync.",
            "Go back to the lists.",
        )
    if isinstance(exc, NoOtpSecret):
        return Notice(
            "No one-time code for this entry",
            detail,
            "Ask the entry's owner to fix its OTP secret.",
        )
    if isinstance(exc, ClipboardUnavailable):
        return Notice(
            "Cannot copy on this device",
            detail,
            "Tap Reveal and read it instead.",
        )
    if isinstance(exc, ProfileError):
        return Notice(
            "Strongroom cannot store its data",
            detail,
            "Free some space on the phone, then open the app again.",
        )
    return Notice(_sentence(exc.message).rstrip("."), "", _sentence(exc.hint or ""))


def _refused_notice(exc: ServerRefused) -> Notice:
    if exc.code is ErrorCode.LOCKED_OUT:
        # Vague on purpose about why: the server counts failures per user and
        # per device, and says only how long to wait.
        return Notice(
            "Locked out after too many wrong master passwords",
            "The server will not accept another try for now.",
            f"Try again in {_minutes(exc.retry_after_seconds)}, or ask your "
            "administrator to unlock you.",
        )
    if exc.code is ErrorCode.CREDENTIAL_REPLAYED:
        return Notice(
            "This phone was signed out for safety",
            "The server saw this phone's credential used twice, as happens when "
            "a phone is copied, and revoked it.",
            "Pair again with a new QR code and tell your administrator.",
            After.PAIR,
        )
    title, next_step = _REFUSED.get(
        exc.code,
        (
            "The server refused",
            "Try again; if it keeps happening, tell your administrator.",
        ),
    )
    return Notice(title, _sentence(exc.server_message), next_step)
