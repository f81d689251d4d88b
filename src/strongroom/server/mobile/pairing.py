"""Pairing: a new device proves the QR token and the master password.

The order of the checks is a security decision:

1. protocol version and instance id (nothing secret is involved);
2. lock-outs of the installation and of the user (before any guess is tried);
3. the master password, with a dummy Argon2 run for unknown users so that
   timing does not tell which usernames exist;
4. only then: disabled account, stale QR code, missing Mobile App feature.
   These answers are specific, so they are given only to someone who knows
   the master password.

Every attempt is audited with platform `device`. Wrong passwords count
against the user and against the app installation; past the system setting
`failed_unlock_limit` both are locked out for `lockout_minutes`.

An attempt is counted when it is let through to the password check, not once
the check has failed: guesses sent all at once would otherwise all be checked
before the first failure was counted. A right password gives its count back.
"""

import base64
import binascii
import datetime
import logging
import math
from dataclasses import dataclass

from sqlalchemy import or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from strongroom.crypto import sealed_box, tokens
from strongroom.crypto.errors import CryptoError
from strongroom.crypto.passwords import burn_verification_time, verify_password
from strongroom.crypto.tokens import sha256_hex
from strongroom.protocol.schemas import PairRequest, PairResponse
from strongroom.server.accounts import service as accounts
from strongroom.server.accounts.models import FEATURE_MOBILE, User
from strongroom.server.audit import service as audit
from strongroom.server.core.actor import PLATFORM_DEVICE, Actor
from strongroom.server.core.db import Database, utcnow
from strongroom.server.core.errors import NotFound, ValidationError
from strongroom.server.core.instance import Instance
from strongroom.server.mobile import devices, service
from strongroom.server.mobile.credentials import (
    credential_hash,
    new_device_credential,
    pairing_token,
)
from strongroom.server.mobile.errors import (
    BadCredentials,
    FeatureNotGranted,
    MobileRefusal,
    PairingLockedOut,
    StaleQrCode,
    UnknownInstance,
    UserDisabled,
)
from strongroom.server.mobile.models import (
    DEVICE_ACTIVE,
    Device,
    MobileCredential,
    PairingAttempt,
)
from strongroom.server.settings import service as settings

log = logging.getLogger(__name__)

BAD_CREDENTIALS_MESSAGE = "the username or master password is wrong"


@dataclass(frozen=True)
class Candidate:
    """What the first look at the request found (no secret checked yet)."""

    instance_id: str
    user_id: str | None
    password_hash: str | None
    generation: int


def pair(instance: Instance, request: PairRequest, *, ip: str | None) -> PairResponse:
    """Register a device for the user the request proves to be; or refuse.

    A refusal is audited (and counted, for wrong passwords) in a transaction of
    its own, then raised for the delivery layer.
    """
    public_key = decode_public_key(request.box_public_key)
    for field, value in (
        ("device_name", request.device_name),
        ("device_platform", request.device_platform),
    ):
        _check_label(field, value)
    try:
        with instance.db.session() as session:
            candidate = _screen(session, request)
            _reserve_attempt(session, request, candidate.user_id)
    except MobileRefusal as refusal:
        _record_failure(instance.db, request, refusal, None, ip)
        raise

    # Argon2 runs outside any transaction: SQLite's write lock must not wait on it.
    password_ok = _verify(candidate, request.master_password)

    try:
        with instance.db.session() as session:
            response = _complete(
                session, instance, request, candidate, password_ok, public_key, ip
            )
    except MobileRefusal as refusal:
        _record_failure(instance.db, request, refusal, candidate.user_id, ip)
        raise
    return response


def decode_public_key(text: str) -> bytes:
    """Decode the device's X25519 public key; ValidationError when it is not one."""
    try:
        key = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise ValidationError(
            "box_public_key", "box_public_key is not base64"
        ) from None
    if not sealed_box.is_valid_public_key(key):
        raise ValidationError(
            "box_public_key", f"box_public_key is {len(key)} bytes, not 32"
        )
    try:
        # A key sealing fails on (a low-order point) would only fail later, at
        # every sync; refuse it now while the app can still show why.
        sealed_box.seal_to(key, b"probe")
    except (CryptoError, RuntimeError, ValueError, TypeError):
        # PyNaCl raises its own RuntimeError subclass for low-order points.
        raise ValidationError(
            "box_public_key", "box_public_key is not a usable X25519 key"
        ) from None
    return key


def _check_label(field: str, value: str) -> None:
    """Refuse control characters in a name the device chose for itself.

    Admins read device names in terminals (`strongroom mobile devices`), web
    pages and audit exports: an escape sequence or a bidi override there
    could repaint a terminal or disguise one device as another.
    """
    if accounts.has_control_characters(value):
        raise ValidationError(
            field,
            f"{field} must not contain control characters",
            hint="rename the device without control or formatting characters",
        )


def _screen(session: Session, request: PairRequest) -> Candidate:
    devices.check_protocol(request.protocol_version)
    instance_id = settings.instance_id(session)
    if request.instance_id != instance_id:
        raise UnknownInstance(
            "this QR code belongs to another Strongroom server",
            hint="scan the QR code from this server's Preferences page",
        )

    now = utcnow()
    attempt = session.get(PairingAttempt, request.installation_id)
    if attempt is not None:
        _refuse_if_locked(attempt.locked_until, now)

    try:
        user = accounts.find_user(session, request.username)
    except NotFound:
        # Unknown names lock out like real users do; otherwise the lock-out
        # itself would tell a stranger which usernames exist.
        unknown = session.get(PairingAttempt, unknown_name_key(request.username))
        if unknown is not None:
            _refuse_if_locked(unknown.locked_until, now)
        return Candidate(instance_id, None, None, 0)
    credential = session.get(MobileCredential, user.id)
    if credential is None:
        return Candidate(instance_id, user.id, None, 0)
    _refuse_if_locked(credential.locked_until, now)
    return Candidate(
        instance_id, user.id, credential.master_password_hash, credential.generation
    )


def _refuse_if_locked(
    locked_until: datetime.datetime | None, now: datetime.datetime
) -> None:
    if locked_until is None or locked_until <= now:
        return
    seconds = math.ceil((locked_until - now).total_seconds())
    raise PairingLockedOut(
        f"too many failed attempts; try again in {_minutes(seconds)}",
        retry_after=seconds,
    )


def _minutes(seconds: int) -> str:
    minutes = max(1, math.ceil(seconds / 60))
    return "1 minute" if minutes == 1 else f"{minutes} minutes"


def _verify(candidate: Candidate, password: str) -> bool:
    if candidate.password_hash is None:
        # Unknown user or no master password: spend the time a real check
        # takes, so the answer's timing does not tell the two cases apart.
        burn_verification_time(password)
        return False
    return verify_password(candidate.password_hash, password)


def _complete(
    session: Session,
    instance: Instance,
    request: PairRequest,
    candidate: Candidate,
    password_ok: bool,
    public_key: bytes,
    ip: str | None,
) -> PairResponse:
    user = session.get(User, candidate.user_id) if candidate.user_id else None
    credential = session.get(MobileCredential, user.id) if user else None
    if (
        user is None
        or credential is None
        or not password_ok
        # The password was verified against the hash read before; if it was
        # reset meanwhile, that verification proves nothing any more.
        or credential.master_password_hash != candidate.password_hash
    ):
        raise BadCredentials(BAD_CREDENTIALS_MESSAGE, hint="check both and try again")

    if not user.active:
        raise UserDisabled(
            "your account is disabled; ask an administrator",
            hint="an administrator can enable the account",
        )
    secret, secret_generation = settings.pairing_secret(session, instance.cipher)
    expected = pairing_token(
        secret,
        instance_id=candidate.instance_id,
        user_id=user.id,
        credential_generation=credential.generation,
        secret_generation=secret_generation,
    )
    if not tokens.equal(expected, request.pairing_token):
        raise StaleQrCode(
            "this QR code is no longer valid; open Preferences for a new one "
            "and scan it again",
            hint="the master password was reset or the pairing secret regenerated",
        )
    if not accounts.has_feature(session, user, FEATURE_MOBILE):
        raise FeatureNotGranted(
            "the Mobile App is not enabled for your account; ask an administrator",
            hint="an administrator grants the Mobile App feature",
        )

    credential_value = new_device_credential()
    device = _register(session, request, user, credential, public_key, credential_value)
    credential.failed_attempts = 0
    credential.locked_until = None
    session.execute(
        update(PairingAttempt)
        .where(PairingAttempt.installation_id == request.installation_id)
        .values(failed_attempts=0, locked_until=None, last_attempt_at=utcnow())
    )
    audit.record(
        session,
        devices.device_actor(device, user, ip),
        "mobile.pair",
        target_type="device",
        target_id=device.id,
        target_name=device.name or device.id,
        details={
            "installation_id": request.installation_id,
            "platform": device.platform,
        },
    )
    log.info("device_paired device_id=%s user_id=%s", device.id, user.id)
    return PairResponse(
        device_id=device.id,
        device_credential=credential_value,
        instance_id=candidate.instance_id,
        user_display_name=user.display_name or user.qualified_name,
        server_time=utcnow(),
        policies=service.policies_for(session, user),
    )


def _register(
    session: Session,
    request: PairRequest,
    user: User,
    credential: MobileCredential,
    public_key: bytes,
    credential_value: str,
) -> Device:
    # An app installation pairs again after a reset: its older device record
    # must not stay usable beside the new one.
    for old in session.scalars(
        select(Device).where(
            Device.user_id == user.id,
            Device.installation_id == request.installation_id,
            Device.status == DEVICE_ACTIVE,
        )
    ):
        service.mark_revoked(session, old, "replaced by a new pairing of this app")
    device = Device(
        user_id=user.id,
        name=request.device_name.strip(),
        platform=request.device_platform.strip(),
        box_public_key=public_key,
        status=DEVICE_ACTIVE,
        credential_hash=credential_hash(credential_value),
        credential_generation=credential.generation,
        installation_id=request.installation_id,
        paired_at=utcnow(),
    )
    session.add(device)
    session.flush()
    return device


# --- counting attempts ------------------------------------------------------


@dataclass(frozen=True)
class Limits:
    """The lock-out policy: attempts allowed, and until when a lock-out lasts."""

    attempts: int
    until: datetime.datetime


def _limits(session: Session) -> Limits:
    values = settings.all_values(session)
    minutes = int(values["lockout_minutes"])
    return Limits(
        int(values["failed_unlock_limit"]),
        utcnow() + datetime.timedelta(minutes=minutes),
    )


def unknown_name_key(username: str) -> str:
    """The attempts-table key of a username no user has (a digest: no PII kept).

    An app choosing such a string as its installation id shares the row, which
    can only lock that app itself out.
    """
    return "name:" + sha256_hex(username.strip().lower())[:40]


def _attempt_keys(request: PairRequest, user_id: str | None) -> list[tuple[str, str]]:
    """(attempts-table key, what it locks) of the counters an attempt moves."""
    keys = [(request.installation_id, "installation")]
    if user_id is None:
        # Unknown names lock out like real users do; otherwise the lock-out
        # itself would tell a stranger which usernames exist.
        keys.append((unknown_name_key(request.username), "username"))
    return keys


def _reserve_attempt(
    session: Session, request: PairRequest, user_id: str | None
) -> None:
    """Count this attempt before its password is checked, or refuse it.

    Refused (PairingLockedOut, and the caller's transaction rolls the counts
    back) when a counter is locked out by now, or when counting this attempt
    would pass the limit because others, still being checked, hold the rest
    of it. Each count is one atomic statement that also re-reads the lock, so
    a lock-out committed since `_screen` looked is seen here.
    """
    limits = _limits(session)
    now = utcnow()
    # Lock times are re-read as columns, not through session.get, which would
    # answer the rows `_screen` loaded, as they were before any new lock-out.
    for key, _label in _attempt_keys(request, user_id):
        count = _bump_attempts(session, key, now)
        if count is None:
            _refuse_if_locked(
                session.scalar(
                    select(PairingAttempt.locked_until).where(
                        PairingAttempt.installation_id == key
                    )
                ),
                now,
            )
        elif count > limits.attempts:
            _refuse_if_locked(limits.until, now)
    if user_id is None:
        return
    count = session.scalar(
        update(MobileCredential)
        .where(
            MobileCredential.user_id == user_id,
            or_(
                MobileCredential.locked_until.is_(None),
                MobileCredential.locked_until <= now,
            ),
        )
        .values(failed_attempts=MobileCredential.failed_attempts + 1)
        .returning(MobileCredential.failed_attempts)
        # The ORM must not try to match the returned row to loaded objects.
        .execution_options(synchronize_session=False)
    )
    if count is None:
        # No row (no master password: nothing to count) or locked meanwhile.
        _refuse_if_locked(
            session.scalar(
                select(MobileCredential.locked_until).where(
                    MobileCredential.user_id == user_id
                )
            ),
            now,
        )
    elif count > limits.attempts:
        _refuse_if_locked(limits.until, now)


def _settle_failure(
    session: Session, request: PairRequest, user_id: str | None
) -> list[str]:
    """A wrong password, counted when it was let through: lock out whatever
    it brought to the limit. Returns what got locked."""
    limits = _limits(session)
    locked = [
        label
        for key, label in _attempt_keys(request, user_id)
        if _lock_key(session, key, limits)
    ]
    if user_id is not None and _lock_user(session, user_id, limits):
        locked.append("user")
    return locked


def _give_back(session: Session, request: PairRequest, user_id: str | None) -> None:
    """Uncount an attempt whose password was right but that was refused anyway
    (disabled account, stale QR code, no Mobile App feature)."""
    keys = [key for key, _label in _attempt_keys(request, user_id)]
    session.execute(
        update(PairingAttempt)
        .where(PairingAttempt.installation_id.in_(keys))
        .where(PairingAttempt.failed_attempts > 0)
        .values(failed_attempts=PairingAttempt.failed_attempts - 1)
    )
    if user_id is not None:
        session.execute(
            update(MobileCredential)
            .where(MobileCredential.user_id == user_id)
            .where(MobileCredential.failed_attempts > 0)
            .values(failed_attempts=MobileCredential.failed_attempts - 1)
        )


def _bump_attempts(session: Session, key: str, now: datetime.datetime) -> int | None:
    """Add one attempt to `key`'s count atomically; return the new count, or
    None when `key` is locked out (its count is left alone)."""
    dialect = session.get_bind().dialect.name
    module = postgresql if dialect == "postgresql" else sqlite
    table = PairingAttempt.__table__
    stmt = module.insert(table).values(
        installation_id=key, failed_attempts=1, last_attempt_at=now
    )
    stmt = stmt.on_conflict_do_update(
        index_elements=[table.c.installation_id],
        set_={
            "failed_attempts": table.c.failed_attempts + 1,
            "last_attempt_at": stmt.excluded.last_attempt_at,
        },
        where=or_(table.c.locked_until.is_(None), table.c.locked_until <= now),
    ).returning(table.c.failed_attempts)
    count = session.execute(stmt).scalar_one_or_none()
    return None if count is None else int(count)


def _lock_key(session: Session, key: str, limits: Limits) -> bool:
    """Lock `key` out if its count has reached the limit, in one statement;
    True when it did.

    The counter restarts so that after the lock-out another `limit` attempts
    are allowed, not one.
    """
    locked = session.scalar(
        update(PairingAttempt)
        .where(PairingAttempt.installation_id == key)
        .where(PairingAttempt.failed_attempts >= limits.attempts)
        .values(failed_attempts=0, locked_until=limits.until)
        .returning(PairingAttempt.installation_id)
    )
    return locked is not None


def _lock_user(session: Session, user_id: str, limits: Limits) -> bool:
    """Lock the user out if their count has reached the limit; True when it did."""
    locked = session.scalar(
        update(MobileCredential)
        .where(MobileCredential.user_id == user_id)
        .where(MobileCredential.failed_attempts >= limits.attempts)
        .values(failed_attempts=0, locked_until=limits.until)
        .returning(MobileCredential.user_id)
    )
    return locked is not None


# --- failures ----------------------------------------------------------------


def _record_failure(
    db: Database,
    request: PairRequest,
    refusal: MobileRefusal,
    user_id: str | None,
    ip: str | None,
) -> None:
    """Audit a refused pairing; settle its counted attempt.

    A wrong password stays counted and may lock out; a refusal after the
    right password gives its count back. A refusal before the password was
    checked (protocol, instance, lock-out) was never counted, or its count
    was rolled back.
    """
    actor = Actor(
        user_id=user_id,
        name=request.username[:300],
        platform=PLATFORM_DEVICE,
        ip=ip,
    )
    details = {
        "reason": refusal.wire_code.value,
        "installation_id": request.installation_id,
        "device_name": request.device_name[:200],
    }
    with db.session() as session:
        locked: list[str] = []
        if isinstance(refusal, BadCredentials):
            locked = _settle_failure(session, request, user_id)
        elif isinstance(refusal, RIGHT_PASSWORD_REFUSALS):
            _give_back(session, request, user_id)
        if locked:
            audit.record(
                session,
                actor,
                "mobile.pair_locked_out",
                outcome="failure",
                target_type="user" if user_id else None,
                target_id=user_id,
                details={**details, "locked": locked},
            )
        audit.record(
            session,
            actor,
            "mobile.pair",
            outcome="failure",
            target_type="user" if user_id else None,
            target_id=user_id,
            details=details,
        )
    log.info(
        "pairing_refused code=%s user_id=%s installation_id=%s",
        refusal.wire_code.value,
        user_id,
        request.installation_id,
    )


# Refused only after the master password proved right (see _complete).
RIGHT_PASSWORD_REFUSALS = (UserDisabled, StaleQrCode, FeatureNotGranted)
