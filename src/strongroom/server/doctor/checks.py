"""The database side of `doctor mobile USER`: what the server thinks of the user.

Each function returns one Check. Their ids and evidence keys:

    account_active       user, user_id, active
    mobile_feature       granted, direct, via_groups
    mobile_lists         lists_with_permission, lists_with_mobile_access,
                         mobile_lists, lists_without_mobile_access,
                         records_on_mobile_lists, records_that_would_sync
    master_password      set, generation, set_at, locked_until
    qr_current           credential_set_at, qr_issued_at, last_pairing_at,
                         pairing_secret_changed_at, app_server_url_changed_at,
                         valid_since
    devices              count, active, devices: [{id, name, platform, status,
                         paired_at, last_sync_at, last_failure_at,
                         last_failure_reason, last_failed_event, revoked_reason}]

Lists of names stop at LIST_LIMIT entries; counts are always complete.
"""

import datetime
from typing import Any

from sqlalchemy import Integer, cast, func, or_, select
from sqlalchemy.orm import Session

from strongroom.protocol.schemas import DeviceEventType
from strongroom.server.accounts import service as accounts
from strongroom.server.accounts.models import (
    FEATURE_MOBILE,
    FeatureAccess,
    Group,
    GroupMember,
    User,
)
from strongroom.server.audit.models import AuditEvent
from strongroom.server.doctor.report import Check, Status
from strongroom.server.mobile.models import DEVICE_ACTIVE, Device, MobileCredential
from strongroom.server.settings import service as settings
from strongroom.server.vault import service as vault
from strongroom.server.vault.models import PasswordList, Permission, Record

LIST_LIMIT = 20


def iso(value: datetime.datetime | None) -> str | None:
    """A timestamp as ISO 8601 text for evidence (None stays None)."""
    return None if value is None else value.isoformat()


def plural(count: int, word: str) -> str:
    """`1 record`, `2 records`: a count with its noun."""
    return f"{count} {word}{'' if count == 1 else 's'}"


def _names(items: list[str], limit: int = 3) -> str:
    shown = ", ".join(items[:limit])
    return shown + (f" and {len(items) - limit} more" if len(items) > limit else "")


# --- the account ------------------------------------------------------------------


def account_active(user: User) -> Check:
    """The account exists (the caller found it) and is enabled."""
    name = user.qualified_name
    evidence = {"user": name, "user_id": user.id, "active": user.active}
    if user.active:
        return Check(
            "account_active", f"Account {name} is active", Status.PASS, evidence
        )
    return Check(
        "account_active",
        f"Account {name} is disabled",
        Status.FAIL,
        evidence,
        fix=f"A disabled user's phone receives nothing: enable the account "
        f"(`strongroom user enable {name}`) if {name} should have access.",
    )


def mobile_feature(session: Session, user: User) -> Check:
    """The Mobile App feature is granted directly or through a group."""
    name = user.qualified_name
    direct = bool(
        session.scalar(
            select(FeatureAccess.id).where(
                FeatureAccess.feature == FEATURE_MOBILE,
                FeatureAccess.user_id == user.id,
            )
        )
    )
    via_groups = list(
        session.scalars(
            select(Group.name)
            .join(FeatureAccess, FeatureAccess.group_id == Group.id)
            .join(GroupMember, GroupMember.group_id == Group.id)
            .where(
                FeatureAccess.feature == FEATURE_MOBILE, GroupMember.user_id == user.id
            )
            .order_by(Group.name)
        )
    )
    granted = accounts.has_feature(session, user, FEATURE_MOBILE)
    evidence = {"granted": granted, "direct": direct, "via_groups": via_groups}
    if not granted:
        return Check(
            "mobile_feature",
            f"Mobile App feature not granted to {name}",
            Status.FAIL,
            evidence,
            fix=f"Grant the Mobile App feature to {name} or to one of their groups "
            f"(`strongroom feature grant mobile --user {name}`).",
        )
    how = ["directly"] if direct else []
    how += [f"via group {group}" for group in via_groups]
    return Check(
        "mobile_feature",
        f"Mobile App feature granted to {name} ({', '.join(how)})",
        Status.PASS,
        evidence,
    )


# --- what would reach the phone -----------------------------------------------------


def _list_flags(session: Session, user_id: str) -> dict[str, bool]:
    """Every list the user holds a permission on, and whether any grant is flagged."""
    rows = session.execute(
        select(Permission.list_id, func.max(cast(Permission.mobile_access, Integer)))
        .where(
            or_(
                Permission.user_id == user_id,
                Permission.group_id.in_(
                    select(GroupMember.group_id).where(GroupMember.user_id == user_id)
                ),
            )
        )
        .group_by(Permission.list_id)
    ).all()
    return {str(list_id): bool(flag) for list_id, flag in rows}


def _paths(session: Session, list_ids: list[str]) -> list[str]:
    lists = session.scalars(
        select(PasswordList).where(PasswordList.id.in_(list_ids[:LIST_LIMIT]))
    ).all()
    return sorted(vault.list_path(session, plist) for plist in lists)


def _count(session: Session, stmt: Any) -> int:
    return int(session.scalar(select(func.count()).select_from(stmt.subquery())) or 0)


def mobile_lists(session: Session, user: User) -> Check:
    """Lists with Mobile Access, and how many records a sync would carry."""
    name = user.qualified_name
    flags = _list_flags(session, user.id)
    flagged = sorted(list_id for list_id, on in flags.items() if on)
    unflagged = sorted(list_id for list_id, on in flags.items() if not on)
    on_flagged = _count(session, select(Record.id).where(Record.list_id.in_(flagged)))
    would_sync = _count(session, vault.phone_records_query(user.id))
    evidence: dict[str, Any] = {
        "lists_with_permission": len(flags),
        "lists_with_mobile_access": len(flagged),
        "mobile_lists": _paths(session, flagged),
        "lists_without_mobile_access": _paths(session, unflagged),
        "records_on_mobile_lists": on_flagged,
        # What a sync carries right now: zero too while the account is
        # disabled or lacks the feature, which the checks above report.
        "records_that_would_sync": would_sync,
    }

    if not flags:
        return Check(
            "mobile_lists",
            f"{name} holds no permission on any password list",
            Status.WARN,
            evidence,
            fix=f"Grant {name} (or one of their groups) a permission on the lists "
            "they need; until then the phone shows nothing.",
        )
    off_paths = evidence["lists_without_mobile_access"]
    if not flagged:
        which = "the only list" if len(flags) == 1 else f"all {len(flags)} lists"
        return Check(
            "mobile_lists",
            f"Mobile Access is off on {which} {name} holds a permission on",
            Status.FAIL,
            evidence,
            fix="Nothing may travel to the phone: an admin can turn Mobile Access on "
            f"for the lists {name} needs ({_names(off_paths)}) on the list's "
            "permissions, or with `strongroom mobile-access set LIST... yes`.",
        )
    title = f"Mobile Access on {len(flagged)} of {len(flags)} lists, " + (
        f"{plural(on_flagged, 'record')} would sync"
        if would_sync == on_flagged
        # The lists are right, but the account or the feature (failed above)
        # keeps every record off the phone: the title must not promise them.
        else f"{plural(on_flagged, 'record')} on them, {would_sync} would sync now"
    )
    if on_flagged == 0:
        return Check(
            "mobile_lists",
            title,
            Status.WARN,
            evidence,
            fix="The lists with Mobile Access hold no records, so the phone shows "
            "nothing; add records or turn Mobile Access on for other lists.",
        )
    return Check("mobile_lists", title, Status.PASS, evidence)


# --- the mobile credential and its QR -----------------------------------------------


def credential_of(session: Session, user: User) -> MobileCredential | None:
    """The user's mobile credential row, if any."""
    return session.get(MobileCredential, user.id)


def master_password(
    credential: MobileCredential | None, user: User, now: datetime.datetime
) -> Check:
    """A mobile master password is set, and the user is not locked out."""
    name = user.qualified_name
    has_password = (
        credential is not None and credential.master_password_hash is not None
    )
    evidence = {
        "set": has_password,
        "generation": credential.generation if credential else None,
        "set_at": iso(credential.set_at) if credential else None,
        "locked_until": iso(credential.locked_until) if credential else None,
    }
    if not has_password:
        return Check(
            "master_password",
            f"{name} has no mobile master password",
            Status.FAIL,
            evidence,
            fix=f"{name} sets one in Preferences, or an admin runs "
            f"`strongroom mobile set-password {name} --password-stdin`; then show "
            "the QR code.",
        )
    locked = credential.locked_until if credential else None
    if locked is not None and locked > now:
        return Check(
            "master_password",
            f"{name} is locked out after too many wrong master passwords",
            Status.WARN,
            evidence,
            fix=f"Wait until {_when(locked)}, or lift the lock-out now with "
            f"`strongroom mobile unlock {name}` (paired phones keep working); "
            "several wrong attempts in a row caused this.",
        )
    return Check(
        "master_password", f"{name} has a mobile master password", Status.PASS, evidence
    )


def _last_pairing(session: Session, user: User) -> datetime.datetime | None:
    # A device paired after the last change proves its QR code was current.
    paired: datetime.datetime | None = session.scalar(
        select(func.max(Device.paired_at)).where(Device.user_id == user.id)
    )
    return paired


def qr_current(session: Session, credential: MobileCredential, user: User) -> Check:
    """The QR code is newer than the last pairing-secret and URL change.

    The QR code carries the App Server URL and a token derived from the
    pairing secret and the credential generation: a code made before either
    changed no longer pairs.
    """
    name = user.qualified_name
    secret_at = settings.changed_at(session, settings.PAIRING_SECRET_CHANGED_AT)
    url_at = settings.changed_at(session, settings.APP_SERVER_URL_CHANGED_AT)
    last_pairing = _last_pairing(session, user)
    changes = [t for t in (secret_at, url_at) if t is not None]
    valid_since = max(changes) if changes else None
    # The newest sign of a QR code made under the current secret and URL: the
    # password being set (the spec's measure), a code shown since, a pairing.
    newest = max(
        (
            t
            for t in (credential.set_at, credential.qr_issued_at, last_pairing)
            if t is not None
        ),
        default=None,
    )
    evidence: dict[str, Any] = {
        "credential_set_at": iso(credential.set_at),
        "qr_issued_at": iso(credential.qr_issued_at),
        "last_pairing_at": iso(last_pairing),
        "pairing_secret_changed_at": iso(secret_at),
        "app_server_url_changed_at": iso(url_at),
        "valid_since": iso(valid_since),
    }
    if valid_since is None or (newest is not None and newest >= valid_since):
        return Check(
            "qr_current",
            f"{name}'s QR code is newer than the last pairing-secret and URL change",
            Status.PASS,
            evidence,
        )
    when = _when(valid_since)
    show = f"show {name} a new one (Preferences, or `strongroom mobile qr {name}`)"
    if valid_since != secret_at:
        return Check(
            "qr_current",
            f"{name}'s QR code predates the last change (the App Server URL changed)",
            Status.FAIL,
            evidence,
            fix=f"QR codes shown before {when} carry the old URL: {show} and pair "
            "again.",
        )
    # Regenerating the secret also revoked every phone paired before it.
    return Check(
        "qr_current",
        f"{name}'s QR code predates the last change (the pairing secret was "
        "regenerated)",
        Status.FAIL,
        evidence,
        fix=f"QR codes shown before {when} no longer pair and phones paired before "
        f"then were revoked: {show} and pair again.",
    )


def _when(moment: datetime.datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


# --- devices ----------------------------------------------------------------------


# Events the phone itself recorded offline (a mistyped master password, say)
# are not failures of its contact with the server.
_PHONE_RECORDED = [event_type.value for event_type in DeviceEventType]


def _last_failed_event(session: Session, device_id: str) -> AuditEvent | None:
    return session.scalars(
        select(AuditEvent)
        .where(
            AuditEvent.device_id == device_id,
            AuditEvent.outcome != "success",
            AuditEvent.event_type.not_in(_PHONE_RECORDED),
        )
        .order_by(AuditEvent.seq.desc())
        .limit(1)
    ).first()


def _failure_reason(device: Device, event: AuditEvent | None) -> str | None:
    if device.last_failure_reason:
        return device.last_failure_reason
    if event is None:
        return None
    details = event.details or {}
    reason = details.get("reason") or details.get("code") or event.event_type
    return str(reason)


def _device_evidence(session: Session, device: Device) -> dict[str, Any]:
    event = _last_failed_event(session, device.id)
    failed_at = device.last_failure_at or (event.occurred_at if event else None)
    return {
        "id": device.id,
        "name": device.name,
        "platform": device.platform,
        "status": device.status,
        "paired_at": iso(device.paired_at),
        "last_sync_at": iso(device.last_sync_at),
        "last_failure_at": iso(failed_at),
        "last_failure_reason": _failure_reason(device, event),
        "last_failed_event": None
        if event is None
        else {
            "event": event.event_type,
            "outcome": event.outcome,
            "at": iso(event.occurred_at),
            "details": event.details,
        },
        "revoked_reason": device.revoked_reason,
    }


def _last_sync_failed(entry: dict[str, Any]) -> bool:
    failed_at = entry["last_failure_at"]
    if failed_at is None:
        return False
    succeeded = entry["last_sync_at"] or entry["paired_at"]
    return succeeded is None or _parse(failed_at) > _parse(succeeded)


def _parse(text: str) -> datetime.datetime:
    return datetime.datetime.fromisoformat(text)


def _superseded(entry: dict[str, Any], entries: list[dict[str, Any]]) -> bool:
    # A revoked or wiped device whose failure came before the user paired an
    # active one is history: the phone was paired again, nothing is left to fix.
    if entry["status"] == DEVICE_ACTIVE:
        return False
    failed_at = _parse(entry["last_failure_at"])
    return any(
        other["status"] == DEVICE_ACTIVE
        and other["paired_at"] is not None
        and _parse(other["paired_at"]) > failed_at
        for other in entries
    )


def devices(session: Session, user: User) -> Check:
    """The user's devices, their last sync and last failure (devices + audit log)."""
    name = user.qualified_name
    rows = session.scalars(
        select(Device).where(Device.user_id == user.id).order_by(Device.paired_at)
    ).all()
    entries = [_device_evidence(session, device) for device in rows]
    active = [e for e in entries if e["status"] == DEVICE_ACTIVE]
    evidence = {"count": len(entries), "active": len(active), "devices": entries}

    failed = [
        e for e in entries if _last_sync_failed(e) and not _superseded(e, entries)
    ]
    if failed:
        # The newest failure is the one the person is asking about.
        first = max(failed, key=lambda e: _parse(e["last_failure_at"]))
        label = first["name"] or first["id"]
        refusal = _refusal_kind(first)
        if not active and refusal is not None:
            # No device left that syncs, and the last one was turned away for
            # good: the phone shows nothing until it is paired again.
            return Check(
                "devices",
                f"None of {name}'s devices can sync: {label} was {refusal}",
                Status.FAIL,
                evidence,
                fix=_refused_fix(label, name, first),
            )
        return Check(
            "devices",
            f"Last sync of {len(failed)} of {name}'s devices failed",
            Status.WARN,
            evidence,
            fix=_device_fix(label, str(first["last_failure_reason"]), first["status"]),
        )
    if not entries:
        return Check(
            "devices",
            f"{name} has no paired device",
            Status.WARN,
            evidence,
            fix=f"{name} pairs a phone by scanning the QR code shown in Preferences "
            f"(or printed by `strongroom mobile qr {name}`).",
        )
    if not active:
        return Check(
            "devices",
            f"None of {name}'s {len(entries)} devices is active",
            Status.WARN,
            evidence,
            fix=f"Every device was revoked or wiped: {name} pairs again with a new "
            "QR code.",
        )
    return Check(
        "devices",
        f"{name} has {plural(len(active), 'active device')}, none failing",
        Status.PASS,
        evidence,
    )


# The refusals that end a device for good, by the code its last failed
# contact was refused with: the phone erased its cache and cannot sync again.
_REFUSAL_KINDS = {
    "credential_replayed": "revoked for a replayed credential",
    "device_revoked": "revoked",
    "wipe_requested": "wiped",
}
_REPLAY_WORDS = ("replay", "stale", "rotated")


def _refusal_kind(entry: dict[str, Any]) -> str | None:
    """How the device was turned away for good, or None for a passing failure."""
    event = entry["last_failed_event"] or {}
    code = (event.get("details") or {}).get("code")
    if code in _REFUSAL_KINDS:
        return _REFUSAL_KINDS[code]
    if entry["status"] == DEVICE_ACTIVE:
        return None
    # No code in the log (an older event): judge by the noted reason.
    reason = str(entry["last_failure_reason"] or "").lower()
    if any(word in reason for word in _REPLAY_WORDS):
        return _REFUSAL_KINDS["credential_replayed"]
    if "wipe" in reason:
        return _REFUSAL_KINDS["wipe_requested"]
    if "revoked" in reason:
        return _REFUSAL_KINDS["device_revoked"]
    return None


def _refused_fix(label: str, name: str, entry: dict[str, Any]) -> str:
    new_qr = f"from a new QR code (Preferences, or `strongroom mobile qr {name}`)"
    if _refusal_kind(entry) == _REFUSAL_KINDS["credential_replayed"]:
        return (
            f"Device {label} presented a credential that was already used (a copied "
            "phone or a restored backup): erase the app's data on the genuine phone "
            f"and pair it again {new_qr}."
        )
    reason = entry["revoked_reason"] or entry["last_failure_reason"]
    return f"Device {label} was turned away ({reason}): pair the phone again {new_qr}."


def _device_fix(label: str, reason: str, status: str) -> str:
    lowered = reason.lower()
    if any(word in lowered for word in _REPLAY_WORDS):
        return (
            f"Device {label} presented a credential that was already used (a copied "
            "phone or a restored backup) and was revoked: erase the app's data on "
            "the genuine phone and pair it again."
        )
    if status != DEVICE_ACTIVE:
        return f"Device {label} is {status} ({reason}): pair the phone again."
    return f"Device {label} last failed with {reason!r}: open the app and sync again."
