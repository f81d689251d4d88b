"""Every error the core can raise becomes words for a person, with a next step."""

import pytest

from strongroom.client.app.messages import After, notice_for
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
    ProfileNotWritable,
    RecordNotFound,
    ServerGarbage,
    ServerRefused,
    ServerTimeout,
    ServerUnreachable,
    WipeRequested,
    WrongMasterPassword,
)
from strongroom.protocol.errors import ErrorCode

URL = "https://vault.example:9443"

# (error, words the title must hold, where the app goes next)
CASES: list[tuple[ClientError, str, After]] = [
    (PinMismatch(), "not your organisation's server", After.STAY),
    (ServerRefused(ErrorCode.STALE_QR, "old code"), "no longer valid", After.STAY),
    (
        ServerRefused(ErrorCode.LOCKED_OUT, "locked", retry_after_seconds=600),
        "Locked out",
        After.STAY,
    ),
    (CacheExpired(7), "expired", After.STAY),
    (
        WipeRequested(ErrorCode.WIPE_REQUESTED, "wiped"),
        "was wiped",
        After.PAIR,
    ),
    (
        DeviceRevoked(ErrorCode.DEVICE_REVOKED, "revoked"),
        "no longer paired",
        After.PAIR,
    ),
    (
        ServerRefused(ErrorCode.CREDENTIAL_REPLAYED, "replayed"),
        "signed out for safety",
        After.PAIR,
    ),
    (
        CacheErased("the master password was entered wrongly 5 times"),
        "erased",
        After.PAIR,
    ),
    (WrongMasterPassword(1), "not right", After.UNLOCK),
    (MasterPasswordRequired(72), "master password", After.UNLOCK),
    (BiometricUnavailable("no key store"), "not available", After.STAY),
    (ServerUnreachable(URL, "connection refused"), "Cannot reach", After.STAY),
    (ServerTimeout(URL), "did not answer", After.STAY),
    (ServerGarbage(URL, "not JSON"), "cannot read", After.STAY),
    (
        BadPairingCode("this is not a Strongroom pairing code"),
        "not a Strongroom",
        After.STAY,
    ),
    (NotPaired(), "not paired", After.PAIR),
    (AlreadyPaired("already paired"), "already paired", After.STAY),
    (CacheCorrupt("the cache is truncated"), "damaged", After.STAY),
    (RecordNotFound("abcd"), "no longer on this phone", After.STAY),
    (NoOtpSecret("no secret"), "No one-time code", After.STAY),
    (ClipboardUnavailable("no display"), "Cannot copy", After.STAY),
    (ProfileNotWritable("read-only"), "cannot store", After.STAY),
    *[
        (ServerRefused(code, "refused"), "", After.STAY)
        for code in ErrorCode
        if code
        not in (
            ErrorCode.STALE_QR,
            ErrorCode.LOCKED_OUT,
            ErrorCode.CREDENTIAL_REPLAYED,
        )
    ],
]


@pytest.mark.parametrize(("error", "title", "after"), CASES)
def test_each_error_reads_as_a_sentence_with_what_to_do(
    error: ClientError, title: str, after: After
) -> None:
    """Each notice has a title, a next step, no CLI command, and the right screen."""
    notice = notice_for(error)
    assert title in notice.title
    assert notice.next_step.endswith(".")
    assert "strongroom-mobile" not in notice.text
    assert "`" not in notice.text
    assert notice.after is after
    assert notice.error


def test_a_lock_out_says_how_long_to_wait() -> None:
    """The server's retry-after becomes minutes to wait."""
    notice = notice_for(
        ServerRefused(ErrorCode.LOCKED_OUT, "locked", retry_after_seconds=61)
    )
    assert "Try again in 2 minutes" in notice.next_step


def test_an_unexpected_failure_is_admitted_plainly() -> None:
    """A bug shows "Something went wrong" with the exception type, never a trace."""
    notice = notice_for(KeyError("secret-looking-key"))
    assert notice.title == "Something went wrong"
    assert "KeyError" in notice.detail
    assert "secret-looking-key" not in notice.text
