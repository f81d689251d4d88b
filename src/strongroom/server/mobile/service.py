"""Mobile credentials, QR codes and paired devices, for admins and their users.

The web UI and the admin CLI call these with an Actor: administrators may act
on anyone, a user on their own credentials and devices. The wire side (pairing
and sync) lives in `pairing.py` and `sync.py`.
"""

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from strongroom.crypto.passwords import hash_password, verify_password
from strongroom.protocol.qr import PairingPayload
from strongroom.protocol.schemas import Policies
from strongroom.server.accounts import service as accounts
from strongroom.server.accounts.models import User
from strongroom.server.audit import service as audit
from strongroom.server.core.actor import Actor
from strongroom.server.core.db import utcnow
from strongroom.server.core.errors import (
    ConfigurationError,
    NotFound,
    PermissionDenied,
    ValidationError,
)
from strongroom.server.core.keys import FieldCipher
from strongroom.server.mobile.credentials import pairing_token
from strongroom.server.mobile.models import (
    DEVICE_ACTIVE,
    DEVICE_REVOKED,
    DEVICE_WIPE_REQUESTED,
    DEVICE_WIPED,
    Device,
    DeviceSyncList,
    MobileCredential,
)
from strongroom.server.settings import service as settings

log = logging.getLogger(__name__)

MASTER_PASSWORD_FIELD = "master password"  # noqa: S105 - a field name


def _require_self_or_admin(actor: Actor, user_id: str) -> None:
    if actor.operator or actor.is_admin or actor.user_id == user_id:
        return
    raise PermissionDenied("only administrators may do this for another user")


def _require_admin(actor: Actor) -> None:
    if not (actor.operator or actor.is_admin):
        raise PermissionDenied("only administrators may do this")


# --- master password ---------------------------------------------------------


def credential_of(session: Session, user: User) -> MobileCredential | None:
    """The user's mobile credential row, None before a master password was set."""
    return session.get(MobileCredential, user.id)


def check_master_password(user: User, password: str) -> None:
    """Refuse a master password that is weak or equals the user's web password.

    Comparing means verifying the candidate against the web password's hash
    (one Argon2id run): the web password itself is never stored to compare.
    """
    accounts.check_password_strength(
        MASTER_PASSWORD_FIELD, password, user_inputs=accounts.user_inputs_of(user)
    )
    # Two separate secrets are the point of a mobile master password: one
    # phished web password must not also open every offline copy.
    if user.password_hash and verify_password(user.password_hash, password):
        raise ValidationError(
            MASTER_PASSWORD_FIELD,
            "the mobile master password must differ from the web password",
            hint="choose a password you do not use to sign in on the web",
        )


@dataclass(frozen=True)
class PasswordChange:
    """The outcome of setting a master password."""

    generation: int
    devices_revoked: int


def set_master_password(
    session: Session, actor: Actor, user: User, password: str
) -> PasswordChange:
    """Set (or reset) the user's mobile master password (admins, or the user).

    The generation moves on, so every earlier QR code stops working and the
    devices paired under the old password are revoked.
    """
    _require_self_or_admin(actor, user.id)
    check_master_password(user, password)
    credential = credential_of(session, user)
    if credential is None:
        credential = MobileCredential(user_id=user.id, generation=0, failed_attempts=0)
        session.add(credential)
    credential.master_password_hash = hash_password(password)
    credential.generation = (credential.generation or 0) + 1
    credential.set_at = utcnow()
    credential.failed_attempts = 0
    credential.locked_until = None
    session.flush()

    revoked = revoke_user_devices(
        session, actor, user, reason="master password changed"
    )
    audit.record(
        session,
        actor,
        "mobile.master_password_set",
        target_type="user",
        target_id=user.id,
        target_name=user.qualified_name,
        details={"generation": credential.generation, "devices_revoked": revoked},
    )
    log.info(
        "mobile_password_set user_id=%s generation=%s",
        user.id,
        credential.generation,
    )
    return PasswordChange(credential.generation, revoked)


def clear_master_password(session: Session, actor: Actor, user: User) -> int:
    """Remove the master password and revoke the user's devices; returns how many.

    The generation moves on, so every QR code of this user dies as well.
    """
    _require_self_or_admin(actor, user.id)
    credential = credential_of(session, user)
    if credential is None:
        credential = MobileCredential(user_id=user.id, generation=0, failed_attempts=0)
        session.add(credential)
    credential.master_password_hash = None
    credential.generation = (credential.generation or 0) + 1
    credential.set_at = utcnow()
    credential.failed_attempts = 0
    credential.locked_until = None
    session.flush()

    revoked = revoke_user_devices(
        session, actor, user, reason="mobile credentials cleared"
    )
    audit.record(
        session,
        actor,
        "mobile.credentials_cleared",
        target_type="user",
        target_id=user.id,
        target_name=user.qualified_name,
        details={"generation": credential.generation, "devices_revoked": revoked},
    )
    log.info("mobile_credentials_cleared user_id=%s", user.id)
    return revoked


def lift_lockout(session: Session, actor: Actor, user: User) -> bool:
    """End a user's mobile lock-out without touching password or devices.

    Anyone holding a user's QR code can lock them out with wrong passwords;
    this lets an admin restore access without resetting the master password,
    which would revoke every phone. Returns False when nothing was locked.
    """
    _require_admin(actor)
    credential = credential_of(session, user)
    if credential is None or (
        credential.locked_until is None and not credential.failed_attempts
    ):
        return False
    credential.failed_attempts = 0
    credential.locked_until = None
    audit.record(
        session,
        actor,
        "mobile.lockout_lifted",
        target_type="user",
        target_id=user.id,
        target_name=user.qualified_name,
    )
    log.info("mobile_lockout_lifted user_id=%s", user.id)
    return True


# --- QR code -----------------------------------------------------------------


def pairing_payload(
    session: Session, actor: Actor, cipher: FieldCipher, user: User
) -> PairingPayload:
    """The QR payload for `user` (admins, or the user themselves); audited.

    Refuses while the user has no master password, the App Server URL or pin
    is unset, since such a code could never pair.
    """
    _require_self_or_admin(actor, user.id)
    credential = credential_of(session, user)
    if credential is None or not credential.master_password_hash:
        raise ValidationError(
            MASTER_PASSWORD_FIELD,
            f"{user.qualified_name} has no mobile master password yet",
            hint="set one first: `strongroom mobile set-password "
            f"{user.qualified_name}`",
        )
    url = str(settings.get(session, "app_server_url") or "")
    pin = str(settings.get(session, "app_server_pin") or "")
    if not url:
        raise ConfigurationError(
            "the App Server URL is not set",
            hint="run `strongroom settings set app_server_url https://host:9443`",
        )
    if not pin:
        raise ConfigurationError(
            "the App Server's public-key pin is not set",
            hint="run `strongroom mobile query-pin`",
        )

    instance_id = settings.instance_id(session)
    secret, secret_generation = settings.pairing_secret(session, cipher)
    token = pairing_token(
        secret,
        instance_id=instance_id,
        user_id=user.id,
        credential_generation=credential.generation,
        secret_generation=secret_generation,
    )
    credential.qr_issued_at = utcnow()
    audit.record(
        session,
        actor,
        "mobile.qr_issued",
        target_type="user",
        target_id=user.id,
        target_name=user.qualified_name,
        details={
            "generation": credential.generation,
            "secret_generation": secret_generation,
        },
    )
    return PairingPayload(
        url=url,
        pin=pin,
        instance_id=instance_id,
        username=user.qualified_name,
        token=token,
    )


@dataclass(frozen=True)
class SecretRegeneration:
    """The outcome of regenerating the App Pairing Secret."""

    generation: int
    devices_revoked: int


PAIRING_SECRET_REVOKE_REASON = "pairing secret regenerated"  # noqa: S105 - a reason


def active_device_count(session: Session) -> int:
    """How many devices, of every user, are active (what a regeneration revokes)."""
    return int(
        session.scalar(
            select(func.count())
            .select_from(Device)
            .where(Device.status == DEVICE_ACTIVE)
        )
        or 0
    )


def regenerate_pairing_secret(
    session: Session, actor: Actor, cipher: FieldCipher
) -> SecretRegeneration:
    """Make a new App Pairing Secret (admins): every QR code and pairing dies.

    Every active device of every user is revoked (each revocation audited,
    then the regeneration itself), so its next contact is refused as
    `device_revoked` and the phone erases its cache; each phone pairs again
    from a new QR code.
    """
    _require_admin(actor)
    devices = list(
        session.scalars(
            select(Device)
            .where(Device.status == DEVICE_ACTIVE)
            .order_by(Device.user_id, Device.paired_at)
        )
    )
    for device in devices:
        mark_revoked(session, device, PAIRING_SECRET_REVOKE_REASON)
        _audit_device(
            session,
            actor,
            "device.revoked",
            device,
            {"reason": PAIRING_SECRET_REVOKE_REASON},
        )
    generation = settings.regenerate_pairing_secret(
        session, actor, cipher, devices_revoked=len(devices)
    )
    log.info(
        "pairing_secret_regenerated generation=%s devices_revoked=%s",
        generation,
        len(devices),
    )
    return SecretRegeneration(generation, len(devices))


# --- policies ----------------------------------------------------------------


def policies_for(session: Session, user: User) -> Policies:
    """What the organisation requires of this user's devices."""
    values = settings.all_values(session)
    ttl = user.offline_ttl_days or int(values["offline_ttl_days"])
    return Policies(
        offline_ttl_days=ttl,
        failed_unlock_limit=int(values["failed_unlock_limit"]),
        biometric_allowed=bool(values["biometric_allowed"]),
        master_password_reentry_hours=int(values["master_password_reentry_hours"]),
    )


# --- devices -----------------------------------------------------------------


@dataclass(frozen=True)
class DeviceInfo:
    """A paired device as admins and its owner see it."""

    id: str
    user_id: str
    user_name: str
    name: str
    platform: str
    status: str
    paired_at: datetime
    last_seen_at: datetime | None
    last_sync_at: datetime | None
    last_failure_at: datetime | None
    last_failure_reason: str | None
    revoked_at: datetime | None
    revoked_reason: str | None


def list_devices(
    session: Session, actor: Actor, user: User | None = None
) -> list[DeviceInfo]:
    """Devices of `user` (or of everyone, for admins), newest pairing first.

    A user who is not an administrator sees only their own devices.
    """
    stmt = select(Device, User).join(User, User.id == Device.user_id)
    if user is not None:
        _require_self_or_admin(actor, user.id)
        stmt = stmt.where(Device.user_id == user.id)
    elif not (actor.operator or actor.is_admin):
        stmt = stmt.where(Device.user_id == (actor.user_id or ""))
    rows = session.execute(stmt.order_by(Device.paired_at.desc())).all()
    return [
        DeviceInfo(
            id=device.id,
            user_id=owner.id,
            user_name=owner.qualified_name,
            name=device.name,
            platform=device.platform,
            status=device.status,
            paired_at=device.paired_at,
            last_seen_at=device.last_seen_at,
            last_sync_at=device.last_sync_at,
            last_failure_at=device.last_failure_at,
            last_failure_reason=device.last_failure_reason,
            revoked_at=device.revoked_at,
            revoked_reason=device.revoked_reason,
        )
        for device, owner in rows
    ]


def get_device(session: Session, device_id: str) -> Device:
    """The device with this id, or NotFound."""
    device = session.get(Device, device_id.strip())
    if device is None:
        raise NotFound(
            f"there is no device {device_id!r}",
            hint="`strongroom mobile devices` lists them",
        )
    return device


def mark_revoked(session: Session, device: Device, reason: str) -> None:
    """Revoke without permission checks or audit (the caller audits).

    The device learns it on its next contact and erases its cache; its sync
    state goes, since it will never sync again. Its credentials stay known, so
    that whichever copy calls next is told it is revoked.
    """
    now = utcnow()
    device.status = DEVICE_REVOKED
    device.revoked_at = now
    device.revoked_reason = reason[:255]
    session.execute(delete(DeviceSyncList).where(DeviceSyncList.device_id == device.id))
    session.flush()


def revoke_device(
    session: Session, actor: Actor, device_id: str, *, reason: str | None = None
) -> Device:
    """Revoke a device (admins, or its owner); audited. Idempotent."""
    device = get_device(session, device_id)
    _require_self_or_admin(actor, device.user_id)
    if device.status != DEVICE_ACTIVE:
        return device
    why = reason or f"revoked by {actor.name}"
    mark_revoked(session, device, why)
    _audit_device(session, actor, "device.revoked", device, {"reason": why})
    log.info("device_revoked device_id=%s user_id=%s", device.id, device.user_id)
    return device


def request_wipe(session: Session, actor: Actor, device_id: str) -> Device:
    """Order a device to erase its cache on its next contact (admins, or its owner).

    A wiped device is revoked as well: it never syncs again. Idempotent.
    """
    device = get_device(session, device_id)
    _require_self_or_admin(actor, device.user_id)
    if device.status in (DEVICE_WIPE_REQUESTED, DEVICE_WIPED):
        return device
    device.status = DEVICE_WIPE_REQUESTED
    device.wipe_requested_at = utcnow()
    device.revoked_at = device.revoked_at or device.wipe_requested_at
    device.revoked_reason = device.revoked_reason or f"wipe ordered by {actor.name}"
    session.flush()
    _audit_device(session, actor, "device.wipe_requested", device, {})
    log.info("device_wipe_requested device_id=%s user_id=%s", device.id, device.user_id)
    return device


def revoke_user_devices(
    session: Session, actor: Actor, user: User, *, reason: str
) -> int:
    """Revoke every active device of `user`; audited per device. Returns how many."""
    devices = list(
        session.scalars(
            select(Device).where(
                Device.user_id == user.id, Device.status == DEVICE_ACTIVE
            )
        )
    )
    for device in devices:
        mark_revoked(session, device, reason)
        _audit_device(session, actor, "device.revoked", device, {"reason": reason})
    return len(devices)


def note_failure(session: Session, device_id: str, reason: str) -> Device | None:
    """Remember why a device's last contact failed (for the troubleshooter)."""
    device = session.get(Device, device_id)
    if device is None:
        return None
    device.last_failure_at = utcnow()
    device.last_failure_reason = reason[:255]
    session.flush()
    return device


def _audit_device(
    session: Session, actor: Actor, event: str, device: Device, details: dict[str, str]
) -> None:
    audit.record(
        session,
        actor,
        event,
        target_type="device",
        target_id=device.id,
        target_name=device.name or device.id,
        details={"user_id": device.user_id, **details},
    )
