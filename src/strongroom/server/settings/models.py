"""System settings as stored: one JSON value per key."""

import datetime
from typing import Any

from sqlalchemy import JSON, String
from sqlalchemy.orm import Mapped, mapped_column

from strongroom.server.core.db import Base, UTCDateTime, utcnow


class SystemSetting(Base):
    """The stored value of one setting; absent rows mean the default."""

    __tablename__ = "system_settings"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[Any] = mapped_column(JSON)
    updated_at: Mapped[datetime.datetime] = mapped_column(UTCDateTime, default=utcnow)
