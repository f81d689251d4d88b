"""The global change counters that version records and access changes."""

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from strongroom.server.core.models import ChangeCounter

RECORDS = "records"
ACCESS = "access"


def bump(session: Session, name: str) -> int:
    """Advance the counter `name` and return its new value.

    The UPDATE takes a row lock, so concurrent writers get distinct values in
    commit order on PostgreSQL; SQLite writers are serialised anyway.
    """
    result = session.execute(
        update(ChangeCounter)
        .where(ChangeCounter.name == name)
        .values(value=ChangeCounter.value + 1)
        .returning(ChangeCounter.value)
    ).scalar_one_or_none()
    if result is not None:
        return int(result)
    session.add(ChangeCounter(name=name, value=1))
    session.flush()
    return 1


def current(session: Session, name: str) -> int:
    """Return the counter's value without changing it (0 if never bumped)."""
    value = session.scalar(
        select(ChangeCounter.value).where(ChangeCounter.name == name)
    )
    return int(value or 0)
