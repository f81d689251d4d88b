"""Pairing: every refusal with its own code, lock-outs, audit, registration."""

import base64
import concurrent.futures
import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import func, select

from strongroom.protocol.errors import ErrorCode
from strongroom.server.accounts import service as accounts
from strongroom.server.audit.models import AuditEvent
from strongroom.server.core.errors import ValidationError
from strongroom.server.core.instance import operator
from strongroom.server.mobile import pairing
from strongroom.server.mobile import service as mobile
from strongroom.server.mobile.errors import (
    BadCredentials,
    FeatureNotGranted,
    MobileRefusal,
    PairingLockedOut,
    ProtocolTooOld,
    StaleQrCode,
    UnknownInstance,
    UserDisabled,
)
from strongroom.server.mobile.models import (
    DEVICE_ACTIVE,
    DEVICE_REVOKED,
    Device,
    MobileCredential,
)
from strongroom.server.settings import service as settings
from tests.server.mobile.helpers import MASTER_PASSWORD, Phone, World, alice


def _pair_events(world: World) -> list[AuditEvent]:
    with world.session() as session:
        return list(
            session.scalars(
                select(AuditEvent)
                .where(AuditEvent.event_type == "mobile.pair")
                .order_by(AuditEvent.seq)
            )
        )


def _nothing(world: World) -> None:
    return None


def _regenerate_secret(world: World) -> None:
    with world.session() as session:
        mobile.regenerate_pairing_secret(session, operator(), world.instance.cipher)


def _reset_password(world: World) -> None:
    with world.session() as session:
        mobile.set_master_password(
            session, operator(), alice(session), "a-new-master-pass-7"
        )


def _clear_and_set_again(world: World) -> None:
    with world.session() as session:
        mobile.clear_master_password(session, operator(), alice(session))
        mobile.set_master_password(
            session, operator(), alice(session), "a-new-master-pass-7"
        )


def _remove_feature(world: World) -> None:
    with world.session() as session:
        accounts.revoke_feature(session, operator(), "mobile", user=alice(session))


def _disable(world: World) -> None:
    with world.session() as session:
        accounts.set_active(session, operator(), alice(session), False)


REFUSALS: list[
    tuple[str, Callable[[World], None], dict[str, Any], type[MobileRefusal], ErrorCode]
] = [
    (
        "unknown instance",
        _nothing,
        {"instance_id": str(uuid.uuid4())},
        UnknownInstance,
        ErrorCode.UNKNOWN_INSTANCE,
    ),
    (
        "QR older than secret regeneration",
        _regenerate_secret,
        {},
        StaleQrCode,
        ErrorCode.STALE_QR,
    ),
    (
        "QR older than password reset",
        _reset_password,
        {"master_password": "a-new-master-pass-7"},
        StaleQrCode,
        ErrorCode.STALE_QR,
    ),
    (
        "QR older than clear",
        _clear_and_set_again,
        {"master_password": "a-new-master-pass-7"},
        StaleQrCode,
        ErrorCode.STALE_QR,
    ),
    (
        "forged token",
        _nothing,
        {"pairing_token": "x" * 43},
        StaleQrCode,
        ErrorCode.STALE_QR,
    ),
    (
        "wrong master password",
        _nothing,
        {"master_password": "not-the-password"},
        BadCredentials,
        ErrorCode.BAD_CREDENTIALS,
    ),
    (
        "web password instead",
        _nothing,
        {"master_password": "alice-web-password-1"},
        BadCredentials,
        ErrorCode.BAD_CREDENTIALS,
    ),
    (
        "unknown user",
        _nothing,
        {"username": "mallory"},
        BadCredentials,
        ErrorCode.BAD_CREDENTIALS,
    ),
    (
        "feature not granted",
        _remove_feature,
        {},
        FeatureNotGranted,
        ErrorCode.FEATURE_NOT_GRANTED,
    ),
    ("user disabled", _disable, {}, UserDisabled, ErrorCode.USER_DISABLED),
    (
        "protocol too old",
        _nothing,
        {"protocol_version": 0},
        ProtocolTooOld,
        ErrorCode.PROTOCOL_TOO_OLD,
    ),
]


@pytest.mark.parametrize(
    ("prepare", "overrides", "error", "code"),
    [case[1:] for case in REFUSALS],
    ids=[case[0] for case in REFUSALS],
)
def test_pairing_refusal_has_its_code_and_is_audited(
    world: World,
    prepare: Callable[[World], None],
    overrides: dict[str, Any],
    error: type[MobileRefusal],
    code: ErrorCode,
) -> None:
    """Each refusal raises its own wire code, registers no device and is audited."""
    prepare(world)
    request = Phone.new().pair_request(world.qr, **overrides)

    with pytest.raises(error) as caught:
        pairing.pair(world.instance, request, ip="10.0.0.9")

    assert caught.value.wire_code is code
    assert caught.value.message  # words a phone can show
    with world.session() as session:
        assert session.scalar(select(func.count()).select_from(Device)) == 0
    event = _pair_events(world)[-1]
    assert (event.outcome, event.platform, event.details["reason"]) == (
        "failure",
        "device",
        code.value,
    )
    assert event.source_ip == "10.0.0.9"


def test_unknown_user_and_wrong_password_read_the_same(world: World) -> None:
    """A stranger cannot tell a missing username from a wrong password."""
    device = Phone.new()
    messages = []
    for overrides in ({"username": "mallory"}, {"master_password": "wrong-password-1"}):
        with pytest.raises(BadCredentials) as caught:
            pairing.pair(
                world.instance, device.pair_request(world.qr, **overrides), ip=None
            )
        messages.append(
            (caught.value.wire_code, caught.value.message, caught.value.http_status)
        )
    assert messages[0] == messages[1]


def test_pairing_registers_device_and_audits_success(world: World) -> None:
    """A good QR code and password register an active device with a credential."""
    device = Phone.new()
    response = pairing.pair(
        world.instance, device.pair_request(world.qr), ip="10.0.0.7"
    )

    assert response.instance_id == world.qr.instance_id
    assert response.user_display_name == "Alice"
    assert response.policies.offline_ttl_days == 7
    assert len(response.device_credential) >= 40
    with world.session() as session:
        row = session.get(Device, response.device_id)
        assert row is not None
        assert (row.status, row.user_id, row.installation_id) == (
            DEVICE_ACTIVE,
            world.alice_id,
            device.installation_id,
        )
        # Only a hash of the credential is stored.
        assert response.device_credential not in (
            row.credential_hash,
            row.pending_credential_hash,
        )
    event = _pair_events(world)[-1]
    assert (event.outcome, event.platform, event.device_id) == (
        "success",
        "device",
        response.device_id,
    )


def test_pairing_again_from_same_installation_replaces_old_device(world: World) -> None:
    """An app installation that pairs again leaves only its newest device active."""
    device = Phone.new()
    first = pairing.pair(world.instance, device.pair_request(world.qr), ip=None)
    second = pairing.pair(world.instance, device.pair_request(world.qr), ip=None)
    with world.session() as session:
        assert session.get(Device, first.device_id).status == DEVICE_REVOKED  # type: ignore[union-attr]
        assert session.get(Device, second.device_id).status == DEVICE_ACTIVE  # type: ignore[union-attr]


def _set_limit(world: World, limit: int) -> None:
    with world.session() as session:
        settings.set_value(session, operator(), "failed_unlock_limit", limit)


def test_user_is_locked_out_after_the_limit(world: World) -> None:
    """After `failed_unlock_limit` wrong passwords, even the right one is refused
    with the seconds until retry, from any installation; audited."""
    _set_limit(world, 3)
    for _ in range(3):
        with pytest.raises(BadCredentials):
            pairing.pair(
                world.instance,
                Phone.new().pair_request(world.qr, master_password="wrong-guess-11"),
                ip=None,
            )

    with pytest.raises(PairingLockedOut) as caught:
        pairing.pair(world.instance, Phone.new().pair_request(world.qr), ip=None)
    assert caught.value.wire_code is ErrorCode.LOCKED_OUT
    assert 14 * 60 < caught.value.retry_after <= 15 * 60
    with world.session() as session:
        locked = session.scalars(
            select(AuditEvent).where(AuditEvent.event_type == "mobile.pair_locked_out")
        ).all()
    assert [e.details["locked"] for e in locked] == [["user"]]


def test_admin_lifts_a_lockout_without_revoking_devices(world: World) -> None:
    """`mobile unlock` ends the user's lock-out; the right password pairs again
    from a new installation, and the lift is audited."""
    _set_limit(world, 3)
    for _ in range(3):
        with pytest.raises(BadCredentials):
            pairing.pair(
                world.instance,
                Phone.new().pair_request(world.qr, master_password="wrong-guess-11"),
                ip=None,
            )
    with world.session() as session:
        alice = accounts.get_user(session, world.alice_id)
        assert mobile.lift_lockout(session, operator(), alice)
        assert not mobile.lift_lockout(session, operator(), alice)

    paired = pairing.pair(world.instance, Phone.new().pair_request(world.qr), ip=None)
    assert paired.device_id
    with world.session() as session:
        lifted = session.scalars(
            select(AuditEvent).where(AuditEvent.event_type == "mobile.lockout_lifted")
        ).all()
    assert len(lifted) == 1


def test_installation_is_locked_out_across_usernames(world: World) -> None:
    """One installation guessing different usernames is locked out as well."""
    _set_limit(world, 3)
    device = Phone.new()
    for name in ("mallory", "trent", "alice"):
        with pytest.raises(BadCredentials):
            pairing.pair(
                world.instance,
                device.pair_request(
                    world.qr, username=name, master_password="guess-guess-1"
                ),
                ip=None,
            )

    with pytest.raises(PairingLockedOut):
        pairing.pair(world.instance, device.pair_request(world.qr), ip=None)
    # Another installation with the right password is not held back by it,
    # but alice herself got one strike only, so she still pairs.
    pairing.pair(world.instance, Phone.new().pair_request(world.qr), ip=None)


def test_success_resets_the_failure_count(world: World) -> None:
    """Failures below the limit are forgotten once the right password is given."""
    _set_limit(world, 3)
    device = Phone.new()
    for _ in range(2):
        with pytest.raises(BadCredentials):
            pairing.pair(
                world.instance,
                device.pair_request(world.qr, master_password="guess-guess-1"),
                ip=None,
            )
    pairing.pair(world.instance, device.pair_request(world.qr), ip=None)
    for _ in range(2):
        with pytest.raises(BadCredentials):
            pairing.pair(
                world.instance,
                device.pair_request(world.qr, master_password="guess-guess-1"),
                ip=None,
            )
    pairing.pair(world.instance, device.pair_request(world.qr), ip=None)


@pytest.mark.parametrize(
    "key",
    [
        "!!!not-base64!!!" * 3,
        base64.b64encode(b"short").decode() + "=" * 40,
        base64.b64encode(bytes(32)).decode(),
    ],
    ids=["garbage", "wrong length", "low-order point"],
)
def test_unusable_public_key_is_refused_before_any_write(
    world: World, key: str
) -> None:
    """A public key that is not X25519 is a field error; nothing is written."""
    before = len(_pair_events(world))
    request = Phone.new().pair_request(world.qr)
    request = request.model_copy(update={"box_public_key": key})
    with pytest.raises(ValidationError) as caught:
        pairing.pair(world.instance, request, ip=None)
    assert caught.value.field == "box_public_key"
    assert len(_pair_events(world)) == before


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("device_name", "\x1b[2J\x1b[Hadmin's laptop"),
        ("device_name", "phone\u202egnp.exe"),
        ("device_platform", "android\nroot"),
    ],
    ids=["terminal escape", "bidi override", "newline in platform"],
)
def test_device_labels_with_control_characters_are_refused(
    world: World, field: str, value: str
) -> None:
    """A device name or platform that could repaint an admin's terminal or
    disguise itself is a field error; no device is registered, nothing audited."""
    before = len(_pair_events(world))
    request = Phone.new().pair_request(world.qr, **{field: value})
    with pytest.raises(ValidationError) as caught:
        pairing.pair(world.instance, request, ip=None)
    assert caught.value.field == field
    assert "control characters" in caught.value.message
    with world.session() as session:
        assert session.scalar(select(func.count()).select_from(Device)) == 0
    assert len(_pair_events(world)) == before


def test_master_password_must_be_strong_and_differ_from_web_password(
    world: World,
) -> None:
    """The service refuses a short master password and one equal to the web password."""
    with world.session() as session:
        user = alice(session)
        with pytest.raises(ValidationError, match="at least"):
            mobile.set_master_password(session, operator(), user, "short")
        with pytest.raises(ValidationError, match="differ from the web password"):
            mobile.set_master_password(
                session, operator(), user, "alice-web-password-1"
            )


def test_master_password_reset_kills_old_pairings(world: World) -> None:
    """Resetting the master password revokes devices and moves the generation on."""
    device = Phone.new()
    paired = pairing.pair(world.instance, device.pair_request(world.qr), ip=None)
    with world.session() as session:
        change = mobile.set_master_password(
            session, operator(), alice(session), "another-master-pw-3"
        )
    assert change.devices_revoked == 1
    with world.session() as session:
        assert session.get(Device, paired.device_id).status == DEVICE_REVOKED  # type: ignore[union-attr]


def test_qr_payload_round_trips_and_changes_with_generation(world: World) -> None:
    """The QR URI parses back to its payload; a reset gives a different token."""
    from strongroom.protocol.qr import PairingPayload

    uri = world.qr.to_uri()
    assert uri.startswith("strongroom://pair?v=1&")
    assert PairingPayload.from_uri(uri) == world.qr
    assert MASTER_PASSWORD not in uri
    _reset_password(world)
    with world.session() as session:
        fresh = mobile.pairing_payload(
            session, operator(), world.instance.cipher, alice(session)
        )
    assert fresh.token != world.qr.token
    assert (fresh.url, fresh.pin, fresh.instance_id) == (
        world.qr.url,
        world.qr.pin,
        world.qr.instance_id,
    )


@pytest.mark.parametrize("username", ["alice", "mallory"], ids=["real", "unknown"])
def test_lockout_does_not_tell_which_usernames_exist(
    world: World, username: str
) -> None:
    """Guessing from many installations locks a name out whether it exists or
    not, so the lock-out is no oracle for usernames."""
    _set_limit(world, 3)
    for _ in range(3):
        with pytest.raises(BadCredentials):
            pairing.pair(
                world.instance,
                Phone.new().pair_request(
                    world.qr, username=username, master_password="guess-guess-1"
                ),
                ip=None,
            )
    with pytest.raises(PairingLockedOut) as caught:
        pairing.pair(
            world.instance,
            Phone.new().pair_request(
                world.qr, username=username, master_password="guess-guess-1"
            ),
            ip=None,
        )
    assert caught.value.retry_after > 0


def test_directory_account_pairs_as_domain_backslash_name(world: World) -> None:
    """A directory account's QR code names it `DOMAIN\\name`; the URI keeps the
    backslash and pairing with that username succeeds."""
    from strongroom.protocol.qr import PairingPayload

    with world.session() as session:
        bob = accounts.create_user(
            session, operator(), "corp\\bob", password="bob-web-password-22"
        )
        accounts.grant_feature(session, operator(), "mobile", user=bob)
        mobile.set_master_password(session, operator(), bob, "bob-mobile-pass-33")
        qr = mobile.pairing_payload(session, operator(), world.instance.cipher, bob)
        bob_id = bob.id

    assert qr.username == "CORP\\bob"
    scanned = PairingPayload.from_uri(qr.to_uri())
    assert scanned.username == "CORP\\bob"
    paired = pairing.pair(
        world.instance,
        Phone.new().pair_request(scanned, "bob-mobile-pass-33"),
        ip=None,
    )
    with world.session() as session:
        device = session.get(Device, paired.device_id)
        assert device is not None and device.user_id == bob_id


@pytest.mark.parametrize("target", ["user", "installation"])
def test_concurrent_guesses_get_no_more_than_the_limit(
    world: World, monkeypatch: pytest.MonkeyPatch, target: str
) -> None:
    """Wrong passwords sent at once, while earlier ones are still being
    checked, cannot exceed `failed_unlock_limit`: an attempt counts from the
    moment it is let through, not once its check has failed."""
    _set_limit(world, 3)
    checked: list[str] = []
    real_verify = pairing._verify

    def slow_verify(candidate: pairing.Candidate, password: str) -> bool:
        checked.append(password)
        time.sleep(0.5)  # every other attempt arrives while this one is checked
        return real_verify(candidate, password)

    monkeypatch.setattr(pairing, "_verify", slow_verify)
    one_installation = Phone.new()

    def attempt(index: int) -> str:
        if target == "user":
            request = Phone.new().pair_request(world.qr, master_password="guess-1")
        else:
            request = one_installation.pair_request(
                world.qr, username=f"guess-{index}", master_password="guess-1"
            )
        try:
            pairing.pair(world.instance, request, ip=None)
        except MobileRefusal as refusal:
            return refusal.wire_code.value
        return "paired"

    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        codes = list(pool.map(attempt, range(8)))

    assert len(checked) == 3
    assert sorted(codes) == ["bad_credentials"] * 3 + ["locked_out"] * 5
    with pytest.raises(PairingLockedOut):
        pairing.pair(
            world.instance,
            (Phone.new() if target == "user" else one_installation).pair_request(
                world.qr
            ),
            ip=None,
        )


def test_refusals_after_the_right_password_use_up_no_attempts(world: World) -> None:
    """A stale QR code or a missing feature, tried with the right password
    again and again, never locks the user out: only wrong passwords count."""
    _set_limit(world, 2)
    stale = Phone.new().pair_request(world.qr, pairing_token="x" * 43)
    for _ in range(3):
        with pytest.raises(StaleQrCode):
            pairing.pair(world.instance, stale, ip=None)
    _remove_feature(world)
    for _ in range(3):
        with pytest.raises(FeatureNotGranted):
            pairing.pair(world.instance, Phone.new().pair_request(world.qr), ip=None)
    with world.session() as session:
        row = session.get(MobileCredential, world.alice_id)
        assert row is not None
        assert (row.failed_attempts, row.locked_until) == (0, None)

    # One wrong password is still one strike of two, not three of two.
    with pytest.raises(BadCredentials):
        pairing.pair(
            world.instance,
            Phone.new().pair_request(world.qr, master_password="guess-guess-1"),
            ip=None,
        )
    with world.session() as session:
        accounts.grant_feature(session, operator(), "mobile", user=alice(session))
    assert pairing.pair(world.instance, Phone.new().pair_request(world.qr), ip=None)
