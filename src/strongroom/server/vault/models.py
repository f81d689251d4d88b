"""Folders, password lists, records with their generic fields, permissions."""

import datetime
import enum

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from strongroom.server.core.db import Base, UTCDateTime, new_id, utcnow

TITLE_MAX = 255
USERNAME_MAX = 255
DESCRIPTION_MAX = 255
LIST_NAME_MAX = 200
FOLDER_NAME_MAX = 200
URL_MAX = 2048


class Level(enum.IntEnum):
    """What a permission allows; a higher value includes the lower ones."""

    VIEW = 1
    MODIFY = 2
    ADMIN = 3

    @property
    def label(self) -> str:
        """The lower-case name used on the command line and in the API."""
        return self.name.lower()


class Folder(Base):
    """A folder; folders nest and hold password lists."""

    __tablename__ = "folders"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(FOLDER_NAME_MAX))
    parent_id: Mapped[str | None] = mapped_column(
        ForeignKey("folders.id", ondelete="RESTRICT"), nullable=True, index=True
    )
    version: Mapped[int] = mapped_column(BigInteger, default=0, index=True)
    created_at: Mapped[datetime.datetime] = mapped_column(UTCDateTime, default=utcnow)


class PasswordList(Base):
    """A password list: the unit permissions and Mobile Access apply to."""

    __tablename__ = "password_lists"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(LIST_NAME_MAX))
    folder_id: Mapped[str | None] = mapped_column(
        ForeignKey("folders.id", ondelete="RESTRICT"), nullable=True, index=True
    )
    description: Mapped[str] = mapped_column(String(DESCRIPTION_MAX), default="")
    version: Mapped[int] = mapped_column(BigInteger, default=0, index=True)
    created_at: Mapped[datetime.datetime] = mapped_column(UTCDateTime, default=utcnow)


class Record(Base):
    """A password record. Password, notes and OTP secret are stored sealed."""

    __tablename__ = "records"
    __table_args__ = (Index("ix_records_list_version", "list_id", "version"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    list_id: Mapped[str] = mapped_column(
        ForeignKey("password_lists.id", ondelete="CASCADE")
    )
    title: Mapped[str] = mapped_column(String(TITLE_MAX))
    username: Mapped[str] = mapped_column(String(USERNAME_MAX), default="")
    url: Mapped[str] = mapped_column(String(URL_MAX), default="")
    description: Mapped[str] = mapped_column(String(DESCRIPTION_MAX), default="")
    domain: Mapped[str] = mapped_column(String(255), default="")
    host_name: Mapped[str] = mapped_column(String(255), default="")
    expires_at: Mapped[datetime.date | None] = mapped_column(Date, nullable=True)
    password_sealed: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    notes_sealed: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    otp_sealed: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    # The value of the `records` change counter at the last write of this row.
    version: Mapped[int] = mapped_column(BigInteger, default=0, index=True)
    created_at: Mapped[datetime.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime.datetime] = mapped_column(UTCDateTime, default=utcnow)


class RecordField(Base):
    """A generic field of a record; secret ones are stored sealed."""

    __tablename__ = "record_fields"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    record_id: Mapped[str] = mapped_column(
        ForeignKey("records.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int] = mapped_column(Integer, default=0)
    name: Mapped[str] = mapped_column(String(200))
    secret: Mapped[bool] = mapped_column(Boolean, default=False)
    value: Mapped[str | None] = mapped_column(Text, nullable=True)
    value_sealed: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)


class Tombstone(Base):
    """What remains of a deleted record or list, so phones learn of the deletion."""

    __tablename__ = "tombstones"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(16))  # "record" or "list"
    object_id: Mapped[str] = mapped_column(String(36), index=True)
    list_id: Mapped[str] = mapped_column(String(36), index=True)
    version: Mapped[int] = mapped_column(BigInteger, index=True)
    deleted_at: Mapped[datetime.datetime] = mapped_column(UTCDateTime, default=utcnow)


class Permission(Base):
    """A level on a list for one user or one group, with its Mobile Access flag."""

    __tablename__ = "permissions"
    __table_args__ = (
        CheckConstraint("(user_id IS NULL) <> (group_id IS NULL)", name="one_grantee"),
        UniqueConstraint("list_id", "user_id"),
        UniqueConstraint("list_id", "group_id"),
        Index("ix_permissions_user_mobile", "user_id", "mobile_access"),
        Index("ix_permissions_group_mobile", "group_id", "mobile_access"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    list_id: Mapped[str] = mapped_column(
        ForeignKey("password_lists.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[str | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), nullable=True
    )
    group_id: Mapped[str | None] = mapped_column(
        ForeignKey("groups.id", ondelete="CASCADE"), nullable=True
    )
    level: Mapped[int] = mapped_column(Integer)
    mobile_access: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[datetime.datetime] = mapped_column(UTCDateTime, default=utcnow)
