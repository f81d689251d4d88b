"""Mobile credentials, paired devices, their sync state and pairing attempts."""

import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
)
from sqlalchemy.orm import Mapped, mapped_column

from strongroom.server.core.db import Base, UTCDateTime, new_id, utcnow

DEVICE_ACTIVE = "active"
DEVICE_REVOKED = "revoked"
DEVICE_WIPE_REQUESTED = "wipe_requested"
DEVICE_WIPED = "wiped"
DEVICE_STATUSES = (DEVICE_ACTIVE, DEVICE_REVOKED, DEVICE_WIPE_REQUESTED, DEVICE_WIPED)

# Slots of a device's list set: what it has acknowledged, and what the one
# reply sent but not yet acknowledged would make it hold.
SLOT_ACKED = "acked"
SLOT_PENDING = "pending"

# Why a device credential stopped being valid.
RETIRED_ROTATED = "rotated"  # the device used its successor
RETIRED_DROPPED = "dropped"  # handed out in a reply the device never used


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
    # When a QR code was last shown or printed for this user (troubleshooter).
    qr_issued_at: Mapped[datetime.datetime | None] = mapped_column(
        UTCDateTime, nullable=True
    )


class Device(Base):
    """A paired phone (or desktop client) of one user.

    `credential_hash` is the SHA-256 of the credential the device holds;
    `pending_credential_hash` that of the one sent in the last sync reply,
    which becomes current when the device presents it. `credential_generation`
    is the user's MobileCredential generation at pairing: a newer one means the
    master password changed since, and the device is no longer trusted.
    """

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
    # Chosen by the app once per installation; a new pairing of the same
    # installation replaces the old device.
    installation_id: Mapped[str | None] = mapped_column(
        String(64), nullable=True, index=True
    )
    wipe_requested_at: Mapped[datetime.datetime | None] = mapped_column(
        UTCDateTime, nullable=True
    )
    wiped_at: Mapped[datetime.datetime | None] = mapped_column(
        UTCDateTime, nullable=True
    )


class RetiredDeviceCredential(Base):
    """A device credential that must never be presented again.

    Presenting one means a second copy of the device exists (a cloned phone or
    a restored backup), so the device is revoked.
    """

    __tablename__ = "retired_device_credentials"
    __table_args__ = (
        Index(
            "ix_retired_device_credentials_device_retired", "device_id", "retired_at"
        ),
    )

    credential_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    device_id: Mapped[str] = mapped_column(ForeignKey("devices.id", ondelete="CASCADE"))
    reason: Mapped[str] = mapped_column(String(16))
    retired_at: Mapped[datetime.datetime] = mapped_column(UTCDateTime, default=utcnow)


class DeviceSyncState(Base):
    """What one device has acknowledged, and the one reply it has not yet.

    A cursor names either state. Versions are values of the `records` change
    counter, access stamps values of the `access` counter.
    """

    __tablename__ = "device_sync_states"

    device_id: Mapped[str] = mapped_column(
        ForeignKey("devices.id", ondelete="CASCADE"), primary_key=True
    )
    acked_cursor: Mapped[str | None] = mapped_column(String(64), nullable=True)
    acked_version: Mapped[int] = mapped_column(BigInteger, default=0)
    acked_access: Mapped[int] = mapped_column(BigInteger, default=0)
    pending_cursor: Mapped[str | None] = mapped_column(String(64), nullable=True)
    pending_version: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    pending_access: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    # True when the pending reply carried a new list set (rows in SLOT_PENDING).
    pending_lists: Mapped[bool] = mapped_column(Boolean, default=False)
    pending_full: Mapped[bool] = mapped_column(Boolean, default=False)
    pending_at: Mapped[datetime.datetime | None] = mapped_column(
        UTCDateTime, nullable=True
    )


class DeviceSyncList(Base):
    """One list a device holds (acked) or will hold once it acknowledges (pending).

    No foreign key to the list: a deleted list must stay here until the device
    has learnt of the deletion.
    """

    __tablename__ = "device_sync_lists"

    device_id: Mapped[str] = mapped_column(
        ForeignKey("devices.id", ondelete="CASCADE"), primary_key=True
    )
    slot: Mapped[str] = mapped_column(String(8), primary_key=True)
    list_id: Mapped[str] = mapped_column(String(36), primary_key=True)


class PairingAttempt(Base):
    """Failed pairing attempts of one app installation, for its lock-out."""

    __tablename__ = "pairing_attempts"

    installation_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    failed_attempts: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime.datetime | None] = mapped_column(
        UTCDateTime, nullable=True
    )
    last_attempt_at: Mapped[datetime.datetime] = mapped_column(
        UTCDateTime, default=utcnow
    )
