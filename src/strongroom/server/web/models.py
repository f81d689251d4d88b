"""Rows the browser UI keeps: server-side sessions, sign-in throttling, TOTP use.

Nothing in a browser session lives in a process's memory, so several web
processes behind a load balancer serve the same users.
"""

import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column

from strongroom.server.core.db import Base, UTCDateTime, utcnow
from strongroom.server.vault.models import Record


class WebSession(Base):
    """One signed-in browser.

    The cookie carries a random token; only its SHA-256 is stored, so a dump of
    the database hands nobody a live session.
    """

    __tablename__ = "web_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    # The synchronizer token every state-changing form of this session carries.
    csrf_token: Mapped[str] = mapped_column(String(64))
    # A digest of the password hash at sign-in: a password reset ends the session.
    auth_stamp: Mapped[str] = mapped_column(String(64))
    # True between a correct password and a correct TOTP code.
    mfa_pending: Mapped[bool] = mapped_column(Boolean, default=False)
    # A TOTP secret being enrolled, sealed until the user confirms a code.
    pending_totp_sealed: Mapped[bytes | None] = mapped_column(
        LargeBinary, nullable=True
    )
    flash: Mapped[str | None] = mapped_column(String(500), nullable=True)
    source_ip: Mapped[str | None] = mapped_column(String(64), nullable=True)
    user_agent: Mapped[str] = mapped_column(String(255), default="")
    created_at: Mapped[datetime.datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime.datetime] = mapped_column(
        UTCDateTime, default=utcnow, index=True
    )


class LoginThrottle(Base):
    """Failed sign-ins from one address within the current window."""

    __tablename__ = "web_login_throttle"

    source_ip: Mapped[str] = mapped_column(String(64), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    window_started_at: Mapped[datetime.datetime] = mapped_column(
        UTCDateTime, default=utcnow
    )


class TotpLastStep(Base):
    """The last TOTP time step a user signed in with, so a code works once."""

    __tablename__ = "web_totp_last_step"

    user_id: Mapped[str] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    last_step: Mapped[int] = mapped_column(BigInteger, default=0)


# The list page sorts one list's records by a column, case-insensitively, and
# pages with LIMIT/OFFSET. These indexes (list, sort key, id) let the
# database walk the list in order instead of sorting all of it per page; the
# trailing id makes ties deterministic without a second sort.
RECORD_PAGE_INDEXES = (
    Index("ix_records_page_title", Record.list_id, func.lower(Record.title), Record.id),
    Index(
        "ix_records_page_username",
        Record.list_id,
        func.lower(Record.username),
        Record.id,
    ),
    Index("ix_records_page_url", Record.list_id, func.lower(Record.url), Record.id),
    Index("ix_records_page_updated", Record.list_id, Record.updated_at, Record.id),
)
