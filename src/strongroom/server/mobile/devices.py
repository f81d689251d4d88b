"""How a paired device proves itself, and what happens when it cannot.

A device presents its id and its current credential. The server knows three
kinds of credential per device: the current one, the pending one (sent in the
last sync reply, not yet used) and retired ones (superseded, or handed out in a
reply that was lost). A retired credential coming back means there is a
second copy of the device, so the device is revoked.

Refusals roll their transaction back (no partial write); `remember_failure`
then records what the troubleshooter and the audit log need in a transaction
of its own.
"""

import datetime
import enum
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from strongroom.protocol import MIN_PROTOCOL_VERSION
from strongroom.protocol.schemas import DeviceEvent, DeviceEventType, LogoutResponse
from strongroom.server.accounts.models import User
from strongroom.server.accounts.service import has_control_characters
from strongroom.server.audit import service as audit
from strongroom.server.core.actor import PLATFORM_DEVICE, Actor
from strongroom.server.core.db import Database, utcnow
from strongroom.server.core.errors import ValidationError
from strongroom.server.mobile import service
from strongroom.server.mobile.credentials import credential_hash, same_hash
from strongroom.server.mobile.errors import (
    CredentialReplayed,
    DeviceRevoked,
    DeviceUnknown,
    MobileRefusal,
    ProtocolTooOld,
    WipeRequested,
)
from strongroom.server.mobile.models import (
    DEVICE_ACTIVE,
    DEVICE_REVOKED,
    DEVICE_WIPE_REQUESTED,
    DEVICE_WIPED,
    Device,
    DeviceSyncState,
    MobileCredential,
    RetiredDeviceCredential,
)
from strongroom.server.vault.models import Record

log = logging.getLogger(__name__)

REPLAY_REASON = "credential replayed (possible cloned device); device revoked"
EARLIEST_EVENT = datetime.datetime(2000, 1, 1, tzinfo=datetime.UTC)
LATEST_EVENT = datetime.datetime(2200, 1, 1, tzinfo=datetime.UTC)


class Presented(enum.Enum):
    """Which of the device's credentials the request carried."""

    CURRENT = "current"
    PENDING = "pending"
    RETIRED = "retired"


@dataclass(frozen=True)
class Authenticated:
    """A device whose credential matched, with its owner."""

    device: Device
    user: User
    presented: Presented
    presented_hash: str
    sync_state: DeviceSyncState | None = None

    def actor(self, ip: str | None) -> Actor:
        """The actor for what this device does (platform `device`)."""
        return device_actor(self.device, self.user, ip)


def device_actor(device: Device, user: User, ip: str | None) -> Actor:
    """The actor for events from `device`."""
    return Actor(
        user_id=user.id,
        name=user.qualified_name,
        platform=PLATFORM_DEVICE,
        device_id=device.id,
        ip=ip,
    )


def check_protocol(version: int) -> None:
    """Refuse clients older than the oldest protocol this server speaks."""
    if version < MIN_PROTOCOL_VERSION:
        raise ProtocolTooOld(
            "this app is too old for the server; update it from your app store",
            hint=f"protocol {version} is below {MIN_PROTOCOL_VERSION}",
        )


def authenticate(session: Session, device_id: str, credential: str) -> Authenticated:
    """Find the device, match its credential and check it may still sync.

    The device row is locked (on PostgreSQL) until the transaction ends, so
    two requests of one device, even through two App Servers, run one after
    the other and rotate its credential in order. The lock is taken by a
    query of its own: a query that locks and reads at once would, after
    waiting for the lock, still see the sync state as it was before the
    request that held the lock (PostgreSQL re-reads only the locked row),
    and a device's first two syncs would both try to create it. One query
    after the lock then reads the device, its owner, the owner's credential
    generation and the device's sync state, all as last committed.
    """
    locked = session.scalar(
        select(Device.id).where(Device.id == device_id).with_for_update()
    )
    if locked is None:
        raise DeviceUnknown("this device is not paired with this server")
    row = session.execute(
        select(Device, User, MobileCredential.generation, DeviceSyncState)
        .join(User, User.id == Device.user_id)
        .outerjoin(MobileCredential, MobileCredential.user_id == Device.user_id)
        .outerjoin(DeviceSyncState, DeviceSyncState.device_id == Device.id)
        .where(Device.id == device_id)
    ).first()
    if row is None:
        raise DeviceUnknown("this device is not paired with this server")
    device, user, generation, state = row

    presented_hash = credential_hash(credential)
    presented = _match(session, device, presented_hash)
    _check_standing(
        device, generation, authenticated=presented is not Presented.RETIRED
    )
    if presented is Presented.RETIRED:
        raise CredentialReplayed(
            "this device's credential was already used by another copy of it; "
            "the device is revoked: erase the app's data and pair again"
        )
    return Authenticated(device, user, presented, presented_hash, state)


def _match(session: Session, device: Device, presented_hash: str) -> Presented:
    if same_hash(device.pending_credential_hash, presented_hash):
        return Presented.PENDING
    if same_hash(device.credential_hash, presented_hash):
        return Presented.CURRENT
    retired = session.get(RetiredDeviceCredential, presented_hash)
    if retired is not None and retired.device_id == device.id:
        return Presented.RETIRED
    # A guess or a forgery: it proves nothing, so it must not revoke anything
    # (device ids are not secret) and says no more than "not valid".
    raise DeviceUnknown("the device credential is not valid; pair the device again")


def _check_standing(
    device: Device, generation: int | None, *, authenticated: bool
) -> None:
    if device.status in (DEVICE_WIPE_REQUESTED, DEVICE_WIPED):
        refusal: MobileRefusal = WipeRequested(
            "an administrator ordered this device erased", hint="pair it again"
        )
    elif device.status == DEVICE_REVOKED:
        refusal = DeviceRevoked(
            "this device was revoked; pair it again to use it",
            reason=device.revoked_reason or "revoked",
        )
    else:
        stale = _generation_refusal(device, generation)
        if stale is None:
            return
        refusal = stale
    refusal.authenticated = authenticated
    raise refusal


def _generation_refusal(device: Device, generation: int | None) -> MobileRefusal | None:
    # Setting or clearing the master password revokes devices explicitly; this
    # catches any path that bumped the generation without doing so.
    if generation is not None and generation == device.credential_generation:
        return None
    return DeviceRevoked(
        "the master password changed since this device was paired; pair it again",
        reason="master password changed since pairing",
        revoke_now=True,
    )


# --- events ------------------------------------------------------------------


def validated_events(events: Sequence[DeviceEvent]) -> list[tuple[str, DeviceEvent]]:
    """Pair each event with its canonical UUID; ValidationError names the bad one."""
    checked: list[tuple[str, DeviceEvent]] = []
    for index, event in enumerate(events):
        try:
            canonical = str(uuid.UUID(event.event_id))
        except ValueError:
            raise ValidationError(
                f"events.{index}.event_id", "an event id must be a UUID"
            ) from None
        if event.occurred_at.utcoffset() is None:
            raise ValidationError(
                f"events.{index}.occurred_at",
                "an event time must carry its time zone (ISO 8601 with an offset)",
            )
        try:
            in_utc = event.occurred_at.astimezone(datetime.UTC)
        except OverflowError:
            in_utc = None
        # Device clocks drift, so any plausible time is kept as the device
        # said; only values no database column can hold are refused.
        if in_utc is None or not EARLIEST_EVENT <= in_utc <= LATEST_EVENT:
            raise ValidationError(
                f"events.{index}.occurred_at",
                "an event time must lie between the years 2000 and 2199",
            )
        ids = {
            name: _event_uuid(index, name, value)
            for name, value in (
                ("record_id", event.record_id),
                ("list_id", event.list_id),
            )
            if value is not None
        }
        if event.field is not None and has_control_characters(event.field):
            raise ValidationError(
                f"events.{index}.field",
                "an event's field name must not contain control characters",
            )
        checked.append((canonical, event.model_copy(update=ids)))
    return checked


def _event_uuid(index: int, name: str, value: str) -> str:
    # The ids land in the audit log as the device sent them: anything but a
    # UUID (a line break, a bidi override) would be stored for admins to read.
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise ValidationError(
            f"events.{index}.{name}", f"an event's {name} must be a UUID"
        ) from None


def store_events(
    session: Session, actor: Actor, events: Sequence[tuple[str, DeviceEvent]]
) -> list[str]:
    """Append the device's events to the audit log, each exactly once.

    Events keep the device's time; the log adds the receipt time. An event id
    already stored (a retry after a lost reply) is acknowledged again without
    a second row. Returns the ids as the device sent them.
    """
    record_ids = {event.record_id for _, event in events if event.record_id}
    titles: dict[str, str] = {}
    if record_ids:
        titles = {
            str(rid): str(title)
            for rid, title in session.execute(
                select(Record.id, Record.title).where(Record.id.in_(record_ids))
            ).all()
        }
    for canonical, event in events:
        audit.record(
            session,
            actor,
            event.event_type.value,
            outcome=(
                "failure"
                if event.event_type is DeviceEventType.UNLOCK_FAILED
                else "success"
            ),
            target_type="record" if event.record_id else None,
            target_id=event.record_id,
            target_name=titles.get(event.record_id or ""),
            list_id=event.list_id,
            record_id=event.record_id,
            details={"field": event.field} if event.field else None,
            occurred_at=event.occurred_at,
            event_id=canonical,
        )
    return [event.event_id for _, event in events]


# --- after a refusal ---------------------------------------------------------


def remember_failure(
    db: Database,
    device_id: str,
    refusal: MobileRefusal | ValidationError,
    *,
    operation: str,
    ip: str | None,
    events: Sequence[DeviceEvent] = (),
) -> None:
    """Record a refused device request in a transaction of its own.

    Revokes a device whose retired credential came back, marks a wipe as
    delivered, notes the failure on the device and audits it. Events sent by
    a device that proved its credential are kept: they are its last words.
    """
    with db.session() as session:
        device = session.get(Device, device_id, with_for_update=True)
        if device is None:
            # Unknown ids are not audited: anyone can invent them, and the log
            # must not be a place strangers can fill.
            log.info("device_request_refused device_id=unknown operation=%s", operation)
            return
        user = session.get(User, device.user_id)
        if user is None:
            return
        actor = device_actor(device, user, ip)
        reason = _consequences(session, actor, device, refusal)
        if getattr(refusal, "authenticated", False) and events:
            try:
                store_events(session, actor, validated_events(events))
            except ValidationError:
                log.info("device_events_dropped device_id=%s", device.id)
        service.note_failure(session, device.id, reason)
        audit.record(
            session,
            actor,
            f"device.{operation}",
            outcome="failure",
            target_type="device",
            target_id=device.id,
            target_name=device.name or device.id,
            details={"reason": reason, "code": _code_of(refusal)},
        )
    log.info(
        "device_request_refused device_id=%s operation=%s code=%s",
        device_id,
        operation,
        _code_of(refusal),
    )


def _code_of(refusal: MobileRefusal | ValidationError) -> str:
    if isinstance(refusal, MobileRefusal):
        return refusal.wire_code.value
    return "invalid_request"


def _consequences(
    session: Session,
    actor: Actor,
    device: Device,
    refusal: MobileRefusal | ValidationError,
) -> str:
    """Act on what the refusal means for the device; return the reason to note."""
    if isinstance(refusal, CredentialReplayed):
        if device.status == DEVICE_ACTIVE:
            service.mark_revoked(session, device, REPLAY_REASON)
            audit.record(
                session,
                actor,
                "device.credential_replayed",
                outcome="failure",
                target_type="device",
                target_id=device.id,
                target_name=device.name or device.id,
                details={"reason": REPLAY_REASON},
            )
            log.warning("device_credential_replayed device_id=%s", device.id)
        return REPLAY_REASON
    if isinstance(refusal, DeviceRevoked):
        if refusal.revoke_now and device.status == DEVICE_ACTIVE:
            service.mark_revoked(session, device, refusal.reason)
        return f"device revoked: {refusal.reason}"
    if isinstance(refusal, WipeRequested):
        if device.status == DEVICE_WIPE_REQUESTED:
            device.status = DEVICE_WIPED
            device.wiped_at = utcnow()
            audit.record(
                session,
                actor,
                "device.wiped",
                target_type="device",
                target_id=device.id,
                target_name=device.name or device.id,
            )
            log.info("device_wipe_delivered device_id=%s", device.id)
        return "remote wipe delivered"
    if isinstance(refusal, DeviceUnknown):
        return "an unknown device credential was presented"
    if isinstance(refusal, ValidationError):
        return f"invalid request: {refusal.field}"
    return refusal.message


# --- logout ------------------------------------------------------------------


def logout(
    db: Database, device_id: str, credential: str, protocol_version: int, ip: str | None
) -> LogoutResponse:
    """The device revokes itself (the user signed out of the app); idempotent."""
    try:
        with db.session() as session:
            check_protocol(protocol_version)
            try:
                who = authenticate(session, device_id, credential)
            except (DeviceRevoked, WipeRequested) as refusal:
                # Already out: a retry after a lost reply must get the same answer.
                if not refusal.authenticated:
                    raise
                device = session.get(Device, device_id)
                if device is not None and device.status == DEVICE_ACTIVE:
                    service.mark_revoked(session, device, "signed out on the device")
                return LogoutResponse(revoked=True)
            service.mark_revoked(session, who.device, "signed out on the device")
            audit.record(
                session,
                who.actor(ip),
                "device.logout",
                target_type="device",
                target_id=who.device.id,
                target_name=who.device.name or who.device.id,
            )
    except MobileRefusal as refusal:
        remember_failure(db, device_id, refusal, operation="logout", ip=ip)
        raise
    log.info("device_logged_out device_id=%s", device_id)
    return LogoutResponse(revoked=True)
