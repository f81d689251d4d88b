"""Writing, reading and verifying the hash-chained audit log.

Each row's `hash` is HMAC-SHA256, under the audit chain key, of the previous
row's hash and this row's content. The chain key is stored only sealed under
the instance key, so someone who can write to the database but lacks the key
can neither alter a row nor rebuild the chain after it. A keyed marker of the
newest row (`audit_head`) catches rows removed from the end.
"""

import datetime
import hmac
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, select, text
from sqlalchemy.orm import Session

from strongroom.server.audit.models import AuditEvent
from strongroom.server.core.actor import Actor
from strongroom.server.core.db import new_id, utcnow
from strongroom.server.core.errors import ConfigurationError
from strongroom.server.settings.models import SystemSetting

log = logging.getLogger(__name__)

GENESIS = "0" * 64
# Any constant distinct from other advisory locks Strongroom takes.
_CHAIN_LOCK = 7_316_001


def _canonical(event: AuditEvent) -> bytes:
    body = {
        "seq": event.seq,
        "id": event.id,
        "occurred_at": event.occurred_at.isoformat(),
        "received_at": event.received_at.isoformat(),
        "event_type": event.event_type,
        "outcome": event.outcome,
        "actor_user_id": event.actor_user_id,
        "actor_name": event.actor_name,
        "platform": event.platform,
        "device_id": event.device_id,
        "source_ip": event.source_ip,
        "target_type": event.target_type,
        "target_id": event.target_id,
        "target_name": event.target_name,
        "list_id": event.list_id,
        "record_id": event.record_id,
        "details": event.details,
    }
    return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()


CHAIN_KEY_INFO = "audit_chain_key"
HEAD_SETTING = "audit_head"


def chain_key(session: Session) -> bytes:
    """The key the opened instance put on the session, or a clear refusal."""
    key = session.info.get(CHAIN_KEY_INFO)
    if not isinstance(key, bytes):
        # Failing closed: an unkeyed append would break the chain for good.
        raise ConfigurationError(
            "the audit log cannot be written without the instance's chain key",
            hint="open the database through the installation (strongroom "
            "commands, web or App Server), not directly",
        )
    return key


def link_hash(key: bytes, prev_hash: str, event: AuditEvent) -> str:
    """The keyed hash that chains `event` to the row before it."""
    return hmac.new(key, prev_hash.encode() + _canonical(event), "sha256").hexdigest()


def _head_mac(key: bytes, seq: int, row_hash: str) -> str:
    return hmac.new(key, f"head:{seq}:{row_hash}".encode(), "sha256").hexdigest()


def _store_head(session: Session, key: bytes, event: AuditEvent) -> None:
    value = {"seq": event.seq, "mac": _head_mac(key, event.seq, event.hash)}
    row = session.get(SystemSetting, HEAD_SETTING)
    if row is None:
        session.add(SystemSetting(key=HEAD_SETTING, value=value))
    else:
        row.value = value


def _lock_chain(session: Session) -> None:
    # Appends must be serialised or two writers would both link to the same
    # predecessor. SQLite's write lock already does it; PostgreSQL needs this.
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _CHAIN_LOCK})


# The widths of the name columns (a list's path may be longer: folders and
# the list itself take 200 characters each).
NAME_COLUMN_MAX = 300


def _fit(text: str | None, limit: int = NAME_COLUMN_MAX) -> str | None:
    # Names are for people reading the log; the ids beside them identify the
    # object, so a long path is shortened rather than the change refused.
    if text is None or len(text) <= limit:
        return text
    return text[: limit - 1] + "…"


def record(
    session: Session,
    actor: Actor,
    event_type: str,
    *,
    outcome: str = "success",
    target_type: str | None = None,
    target_id: str | None = None,
    target_name: str | None = None,
    list_id: str | None = None,
    record_id: str | None = None,
    details: dict[str, Any] | None = None,
    occurred_at: datetime.datetime | None = None,
    event_id: str | None = None,
) -> AuditEvent | None:
    """Append one event in the caller's transaction.

    With an `event_id` already stored (a device retrying an upload) nothing is
    written and None is returned, so each event is stored exactly once.
    """
    key = chain_key(session)
    _lock_chain(session)
    if event_id is not None and session.scalar(
        select(AuditEvent.seq).where(AuditEvent.id == event_id)
    ):
        return None

    last = session.execute(
        select(AuditEvent.seq, AuditEvent.hash).order_by(AuditEvent.seq.desc()).limit(1)
    ).first()
    now = utcnow()
    event = AuditEvent(
        seq=(last.seq + 1) if last else 1,
        id=event_id or new_id(),
        occurred_at=occurred_at or now,
        received_at=now,
        event_type=event_type,
        outcome=outcome,
        actor_user_id=actor.user_id,
        actor_name=_fit(actor.name) or "",
        platform=actor.platform,
        device_id=actor.device_id,
        source_ip=actor.ip,
        target_type=target_type,
        target_id=target_id,
        target_name=_fit(target_name),
        list_id=list_id,
        record_id=record_id,
        details=details or {},
        prev_hash=last.hash if last else GENESIS,
    )
    event.hash = link_hash(key, event.prev_hash, event)
    session.add(event)
    _store_head(session, key, event)
    session.flush()
    log.info(
        "audit_event event=%s outcome=%s actor=%s target=%s",
        event_type,
        outcome,
        actor.user_id or actor.name,
        target_id,
    )
    return event


@dataclass(frozen=True)
class ChainReport:
    """What `verify` found: how many rows, and the first broken link if any."""

    checked: int
    broken_seq: int | None = None
    reason: str | None = None

    @property
    def ok(self) -> bool:
        """True when every link holds."""
        return self.broken_seq is None


def _rows(session: Session, batch: int = 2000) -> Iterator[AuditEvent]:
    after = 0
    while True:
        rows = session.scalars(
            select(AuditEvent)
            .where(AuditEvent.seq > after)
            .order_by(AuditEvent.seq)
            .limit(batch)
        ).all()
        if not rows:
            return
        yield from rows
        after = rows[-1].seq
        session.expunge_all()


def verify(session: Session) -> ChainReport:
    """Walk the chain from the first row and report the first broken link,
    including rows removed from the end (checked against the head marker)."""
    key = chain_key(session)
    prev_hash, expected_seq, checked = GENESIS, 1, 0
    for event in _rows(session):
        if event.seq != expected_seq:
            return ChainReport(checked, expected_seq, "a row is missing")
        if event.prev_hash != prev_hash:
            return ChainReport(checked, event.seq, "it does not link to the row before")
        if not hmac.compare_digest(link_hash(key, prev_hash, event), event.hash):
            return ChainReport(checked, event.seq, "its content was altered")
        prev_hash, expected_seq, checked = event.hash, expected_seq + 1, checked + 1
    return _check_head(session, key, checked, prev_hash)


def _check_head(
    session: Session, key: bytes, last_seq: int, last_hash: str
) -> ChainReport:
    head = session.get(SystemSetting, HEAD_SETTING)
    if head is None:
        if last_seq == 0:
            return ChainReport(0)
        return ChainReport(last_seq, last_seq, "the marker of the newest event is gone")
    seq, mac = int(head.value.get("seq", 0)), str(head.value.get("mac", ""))
    if seq > last_seq:
        return ChainReport(
            last_seq,
            last_seq + 1,
            f"events {last_seq + 1} to {seq} were removed from the end",
        )
    if seq != last_seq or not hmac.compare_digest(mac, _head_mac(key, seq, last_hash)):
        return ChainReport(
            last_seq, last_seq, "the marker of the newest event does not match"
        )
    return ChainReport(last_seq)


@dataclass(frozen=True)
class AuditFilter:
    """Criteria for reading the log; every field narrows it."""

    user_id: str | None = None
    event_type: str | None = None
    list_id: str | None = None
    platform: str | None = None
    device_id: str | None = None
    since: datetime.datetime | None = None
    until: datetime.datetime | None = None


def query(filters: AuditFilter) -> Select[AuditEvent]:
    """A SELECT of matching events, newest first, for the caller to page."""
    stmt = select(AuditEvent)
    if filters.user_id:
        stmt = stmt.where(AuditEvent.actor_user_id == filters.user_id)
    if filters.event_type:
        stmt = stmt.where(AuditEvent.event_type == filters.event_type)
    if filters.list_id:
        stmt = stmt.where(AuditEvent.list_id == filters.list_id)
    if filters.platform:
        stmt = stmt.where(AuditEvent.platform == filters.platform)
    if filters.device_id:
        stmt = stmt.where(AuditEvent.device_id == filters.device_id)
    if filters.since:
        stmt = stmt.where(AuditEvent.occurred_at >= filters.since)
    if filters.until:
        stmt = stmt.where(AuditEvent.occurred_at < filters.until)
    return stmt.order_by(AuditEvent.seq.desc())
