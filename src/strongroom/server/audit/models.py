"""The audit log: one row per event, each chained to the one before."""

import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from strongroom.server.core.db import Base, UTCDateTime


class AuditEvent(Base):
    """One thing that happened. Rows are never updated or deleted.

    `hash` is HMAC-SHA256 (keyed, see the service) over the previous row's
    hash and this row's content, so altering or removing a row breaks every
    link after it.
    """

    __tablename__ = "audit_events"
    __table_args__ = (
        Index("ix_audit_events_occurred", "occurred_at"),
        Index("ix_audit_events_type", "event_type"),
    )

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    # Devices choose event ids, which makes uploads idempotent.
    id: Mapped[str] = mapped_column(String(36), unique=True)
    occurred_at: Mapped[datetime.datetime] = mapped_column(UTCDateTime)
    received_at: Mapped[datetime.datetime] = mapped_column(UTCDateTime)
    event_type: Mapped[str] = mapped_column(String(64))
    outcome: Mapped[str] = mapped_column(String(16), default="success")
    actor_user_id: Mapped[str | None] = mapped_column(
        String(36), nullable=True, index=True
    )
    actor_name: Mapped[str] = mapped_column(String(300), default="")
    platform: Mapped[str] = mapped_column(String(16))
    device_id: Mapped[str | None] = mapped_column(String(36), nullable=True, index=True)
    source_ip: Mapped[str | None] = mapped_column(String(64), nullable=True)
    target_type: Mapped[str | None] = mapped_column(String(32), nullable=True)
    target_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    target_name: Mapped[str | None] = mapped_column(String(300), nullable=True)
    list_id: Mapped[str | None] = mapped_column(String(36), nullable=True, index=True)
    record_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))
