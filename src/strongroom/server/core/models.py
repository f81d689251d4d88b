"""Rows every feature shares: the wrapped data keys and the change counters."""

import datetime

from sqlalchemy import BigInteger, Boolean, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from strongroom.server.core.db import Base, UTCDateTime, new_id, utcnow


class DataKey(Base):
    """A data key, stored only wrapped under an instance key."""

    __tablename__ = "data_keys"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    wrapped: Mapped[bytes] = mapped_column(LargeBinary)
    instance_key_id: Mapped[str] = mapped_column(String(64))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime.datetime] = mapped_column(UTCDateTime, default=utcnow)


class ChangeCounter(Base):
    """A named, ever-growing counter.

    `records` versions every record, list and folder write (and tombstone);
    `access` versions every change of who may see what on a phone.
    """

    __tablename__ = "change_counters"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger, default=0)
