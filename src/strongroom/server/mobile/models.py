"""Mobile credentials and paired devices."""

import datetime

from sqlalchemy import ForeignKey, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from strongroom.server.core.db import Base, UTCDateTime, new_id, utcnow

DEVICE_ACTIVE = "active"
DEVICE_REVOKED = "revoked"
DEVICE_WIPE_REQUESTED = "wipe_requested"
DEVICE_WIPED = "wiped"


class MobileCredential(Base):
    """A user's mobile master password and its generation.

    The generation goes up whenever the password is set or cleared, which
    kills every QR code and pairing made before.
    """

    __tablename__ = "mobile_credentials"

    user_id: Mapped[str] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    master_password_hash: Mapped[str | None] = mapped_column(String(255), nullable=True)
    generation: Mapped[int] = mapped_column(Integer, default=0)
    set_at: Mapped[datetime.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    failed_attempts: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime.datetime | None] = mapped_column(
        UTCDateTime, nullable=True
    )


class Device(Base):
    """A paired phone (or desktop client) of one user."""

    __tablename__ = "devices"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(200), default="")
    platform: Mapped[str] = mapped_column(String(50), default="")
    box_public_key: Mapped[bytes] = mapped_column(LargeBinary)
    status: Mapped[str] = mapped_column(String(20), default=DEVICE_ACTIVE)
    credential_hash: Mapped[str] = mapped_column(String(64))
    pending_credential_hash: Mapped[str | None] = mapped_column(
        String(64), nullable=True
    )
    credential_generation: Mapped[int] = mapped_column(Integer, default=0)
    paired_at: Mapped[datetime.datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime.datetime | None] = mapped_column(
        UTCDateTime, nullable=True
    )
    last_sync_at: Mapped[datetime.datetime | None] = mapped_column(
        UTCDateTime, nullable=True
    )
    last_failure_at: Mapped[datetime.datetime | None] = mapped_column(
        UTCDateTime, nullable=True
    )
    last_failure_reason: Mapped[str | None] = mapped_column(String(255), nullable=True)
    revoked_at: Mapped[datetime.datetime | None] = mapped_column(
        UTCDateTime, nullable=True
    )
    revoked_reason: Mapped[str | None] = mapped_column(String(255), nullable=True)
