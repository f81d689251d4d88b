"""The hash-chained audit log: appends link, verify finds tampering, uploads are
stored once, and filters narrow the log."""

import datetime
import itertools

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from strongroom.server.audit import service as audit
from strongroom.server.audit.models import AuditEvent
from strongroom.server.core.actor import PLATFORM_DEVICE, Actor
from strongroom.server.core.db import Database
from strongroom.server.core.errors import ConfigurationError
from strongroom.server.core.instance import Instance, operator

OP = operator()
PHONE = Actor(
    user_id="u-1",
    name="alice",
    platform=PLATFORM_DEVICE,
    device_id="d-1",
    ip="10.0.0.9",
)


def _append(session: Session, count: int) -> list[AuditEvent]:
    events = []
    for number in range(count):
        event = audit.record(
            session, OP, "test.event", target_name=f"n{number}", details={"n": number}
        )
        assert event is not None
        events.append(event)
    return events


def test_each_event_links_to_the_one_before(session: Session) -> None:
    """Seqs count up without gaps and each prev_hash is the previous hash."""
    events = _append(session, 3)
    rows = session.scalars(sa.select(AuditEvent).order_by(AuditEvent.seq)).all()
    assert [r.seq for r in rows] == list(range(1, len(rows) + 1))
    assert rows[0].prev_hash == audit.GENESIS
    for before, after in itertools.pairwise(rows):
        assert after.prev_hash == before.hash
    assert events[-1].hash == rows[-1].hash
    report = audit.verify(session)
    assert report.ok and report.checked == len(rows)


def test_verify_reports_the_first_broken_link(instance: Instance) -> None:
    """Altering a row names it; a row whose hash was recomputed by the tamperer
    is caught at the next link; a deleted row is named as missing."""
    with instance.db.session() as session:
        _append(session, 6)
    db = Database(instance.db.url)

    def tamper(statement: str) -> audit.ChainReport:
        with db.engine.begin() as conn:
            conn.execute(sa.text(statement))
        with instance.db.session() as session:
            return audit.verify(session)

    report = tamper("UPDATE audit_events SET actor_name = 'mallory' WHERE seq = 6")
    assert (report.broken_seq, report.reason, report.checked) == (
        6,
        "its content was altered",
        5,
    )

    # A tamperer with the database but not the instance key cannot recompute
    # the keyed hash: one made with any other key is caught at that row.
    with instance.db.session() as session:
        row = session.get(AuditEvent, 6)
        assert row is not None
        forged = audit.link_hash(b"\x00" * 32, row.prev_hash, row)
    report = tamper(f"UPDATE audit_events SET hash = '{forged}' WHERE seq = 6")
    assert (report.broken_seq, report.reason) == (6, "its content was altered")
    report = tamper("DELETE FROM audit_events WHERE seq = 2")
    assert (report.broken_seq, report.reason) == (2, "a row is missing")
    db.dispose()


def test_an_uploaded_event_is_stored_once(session: Session) -> None:
    """A device retrying an upload with the same event id stores nothing new and
    keeps the device's own time."""
    when = datetime.datetime(2030, 1, 2, 3, 4, 5, tzinfo=datetime.UTC)
    first = audit.record(
        session, PHONE, "record.viewed", event_id="e-1", occurred_at=when
    )
    again = audit.record(
        session, PHONE, "record.viewed", event_id="e-1", occurred_at=when
    )
    assert first is not None and again is None
    stored = session.scalars(sa.select(AuditEvent).where(AuditEvent.id == "e-1")).one()
    assert stored.occurred_at == when and stored.received_at != when
    assert (stored.device_id, stored.source_ip) == ("d-1", "10.0.0.9")
    assert audit.verify(session).ok


def test_filters_narrow_the_log(session: Session) -> None:
    """User, type, list, platform and time filters each narrow the query."""
    when = datetime.datetime(2030, 6, 1, tzinfo=datetime.UTC)
    audit.record(session, PHONE, "record.viewed", list_id="L1", occurred_at=when)
    audit.record(session, OP, "list.created", list_id="L2")

    def types(**criteria: object) -> list[str]:
        stmt = audit.query(audit.AuditFilter(**criteria))  # type: ignore[arg-type]
        return [e.event_type for e in session.scalars(stmt)]

    assert types(user_id="u-1") == ["record.viewed"]
    assert types(event_type="list.created") == ["list.created"]
    assert types(list_id="L1") == ["record.viewed"]
    assert types(platform="device") == ["record.viewed"]
    assert types(device_id="d-1") == ["record.viewed"]
    assert types(since=when) == ["record.viewed"]
    assert "record.viewed" not in types(until=when)


def test_verify_catches_rows_removed_from_the_end(instance: Instance) -> None:
    """Deleting the newest events is caught by the keyed head marker."""
    with instance.db.session() as session:
        _append(session, 4)
        total = audit.verify(session).checked
    db = Database(instance.db.url)
    with db.engine.begin() as conn:
        conn.execute(
            sa.text("DELETE FROM audit_events WHERE seq > :n"), {"n": total - 2}
        )
    db.dispose()
    with instance.db.session() as session:
        report = audit.verify(session)
    assert (report.broken_seq, report.reason) == (
        total - 1,
        f"events {total - 1} to {total} were removed from the end",
    )


def test_appending_without_the_chain_key_is_refused(instance: Instance) -> None:
    """A session opened without the instance's chain key cannot append."""
    db = Database(instance.db.url)
    with db.session() as session, pytest.raises(ConfigurationError):
        audit.record(session, OP, "test.event")
    db.dispose()
