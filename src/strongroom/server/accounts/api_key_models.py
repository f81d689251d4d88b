"""API keys for the REST API and the password lists each one is scoped to."""

import datetime

from sqlalchemy import Boolean, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from strongroom.server.core.db import Base, UTCDateTime, new_id, utcnow

KEY_NAME_MAX = 100


class ApiKey(Base):
    """A key a script presents as `sr_<id>_<secret>`; only the secret's hash is kept.

    The key acts as `user_id` (with that user's permissions, never more), and
    only on its scoped lists unless `system_wide`.
    """

    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(KEY_NAME_MAX))
    # SHA-256 (hex) of the secret part; see api_keys.py for why not Argon2id.
    secret_hash: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[str] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    system_wide: Mapped[bool] = mapped_column(Boolean, default=False)
    created_by: Mapped[str] = mapped_column(String(300), default="")
    created_at: Mapped[datetime.datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime.datetime | None] = mapped_column(
        UTCDateTime, nullable=True
    )
    revoked_at: Mapped[datetime.datetime | None] = mapped_column(
        UTCDateTime, nullable=True
    )


class ApiKeyList(Base):
    """One password list a list-scoped key may touch."""

    __tablename__ = "api_key_lists"

    key_id: Mapped[str] = mapped_column(
        ForeignKey("api_keys.id", ondelete="CASCADE"), primary_key=True
    )
    list_id: Mapped[str] = mapped_column(
        ForeignKey("password_lists.id", ondelete="CASCADE"),
        primary_key=True,
        index=True,
    )
