"""Users, security groups, memberships and feature access."""

import datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from strongroom.server.core.db import Base, UTCDateTime, new_id, utcnow

FEATURE_MOBILE = "mobile"
FEATURES = (FEATURE_MOBILE,)


class User(Base):
    """A person who signs in; directory accounts carry their domain."""

    __tablename__ = "users"
    __table_args__ = (UniqueConstraint("domain", "login_name"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    login_name: Mapped[str] = mapped_column(String(100))
    # Empty for local accounts: a NULL would escape the unique constraint.
    domain: Mapped[str] = mapped_column(String(100), default="")
    display_name: Mapped[str] = mapped_column(String(200), default="")
    email: Mapped[str] = mapped_column(String(254), default="")
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    password_hash: Mapped[str | None] = mapped_column(String(255), nullable=True)
    totp_secret: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime.datetime | None] = mapped_column(
        UTCDateTime, nullable=True
    )
    offline_ttl_days: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[datetime.datetime] = mapped_column(UTCDateTime, default=utcnow)

    @property
    def qualified_name(self) -> str:
        """The name as people type it: `DOMAIN\\name` for directory accounts."""
        return f"{self.domain}\\{self.login_name}" if self.domain else self.login_name


class Group(Base):
    """A security group; permissions and features granted to it reach members."""

    __tablename__ = "groups"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    description: Mapped[str] = mapped_column(String(255), default="")
    created_at: Mapped[datetime.datetime] = mapped_column(UTCDateTime, default=utcnow)


class GroupMember(Base):
    """A user's membership of a group."""

    __tablename__ = "group_members"

    group_id: Mapped[str] = mapped_column(
        ForeignKey("groups.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[str] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class FeatureAccess(Base):
    """A feature (the Mobile App) granted to one user or one group."""

    __tablename__ = "feature_access"
    __table_args__ = (
        CheckConstraint("(user_id IS NULL) <> (group_id IS NULL)", name="one_grantee"),
        UniqueConstraint("feature", "user_id"),
        UniqueConstraint("feature", "group_id"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    feature: Mapped[str] = mapped_column(String(32))
    user_id: Mapped[str | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), nullable=True, index=True
    )
    group_id: Mapped[str | None] = mapped_column(
        ForeignKey("groups.id", ondelete="CASCADE"), nullable=True, index=True
    )
    created_at: Mapped[datetime.datetime] = mapped_column(UTCDateTime, default=utcnow)
