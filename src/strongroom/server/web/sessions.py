"""Server-side browser sessions with idle and absolute expiry.

The cookie holds a random token; the database holds its SHA-256, the user, the
CSRF synchronizer token and two times. Expiry is judged against the system
settings `session_idle_minutes` and `session_absolute_hours` at every request,
so changing them takes effect at once.
"""

import datetime
import hashlib
import logging
from dataclasses import dataclass

from sqlalchemy import delete, or_, select
from sqlalchemy.orm import Session

from strongroom.crypto.tokens import random_token, sha256_hex
from strongroom.server.accounts.models import User
from strongroom.server.core.db import utcnow
from strongroom.server.settings import service as settings
from strongroom.server.web.models import WebSession

log = logging.getLogger(__name__)

# Writing last_seen_at on every request would make every page a write; a
# quarter of a minute of slack is invisible against timeouts counted in minutes.
_TOUCH_AFTER = datetime.timedelta(seconds=15)


@dataclass(frozen=True)
class Expiry:
    """How long a session may idle, and how long it may live at all."""

    idle: datetime.timedelta
    absolute: datetime.timedelta


def expiry(session: Session) -> Expiry:
    """The current timeouts from the system settings."""
    return Expiry(
        idle=datetime.timedelta(
            minutes=int(settings.get(session, "session_idle_minutes"))
        ),
        absolute=datetime.timedelta(
            hours=int(settings.get(session, "session_absolute_hours"))
        ),
    )


def auth_stamp(user: User) -> str:
    """A digest of what signing in proved; it changes when the password does."""
    material = f"{user.id}:{user.password_hash or ''}".encode()
    return hashlib.sha256(b"strongroom-web-stamp:" + material).hexdigest()


def start(
    session: Session,
    user: User,
    *,
    ip: str | None,
    user_agent: str,
    mfa_pending: bool,
) -> tuple[str, WebSession]:
    """Open a session for `user`; returns the cookie token and the row.

    A fresh token at every sign-in (and after the second factor) means a
    token planted before sign-in is worthless afterwards (session fixation).
    """
    token = random_token(32)
    row = WebSession(
        id=sha256_hex(token),
        user_id=user.id,
        csrf_token=random_token(32),
        auth_stamp=auth_stamp(user),
        mfa_pending=mfa_pending,
        source_ip=ip,
        user_agent=user_agent[:255],
        created_at=utcnow(),
        last_seen_at=utcnow(),
    )
    session.add(row)
    session.flush()
    log.info("web_session_started user_id=%s mfa_pending=%s", user.id, mfa_pending)
    return token, row


@dataclass(frozen=True)
class Lookup:
    """What a cookie token led to: a live session with its user, or why not."""

    row: WebSession | None
    user: User | None
    reason: str | None  # "missing", "expired", "revoked" when row is None


def load(session: Session, token: str, *, touch: bool = True) -> Lookup:
    """Find the live session for `token`, ending it when expired or stale.

    `touch` counts the request as activity for the idle timeout; a page's own
    background refresh passes False, so a tab left open is still signed out.
    """
    row = session.get(WebSession, sha256_hex(token))
    if row is None:
        return Lookup(None, None, "missing")
    now = utcnow()
    limits = expiry(session)
    if now - row.last_seen_at > limits.idle or now - row.created_at > limits.absolute:
        session.delete(row)
        log.info("web_session_expired user_id=%s", row.user_id)
        return Lookup(None, None, "expired")

    # A disabled user or a changed password ends every session at once, even
    # when the change came from the CLI rather than this UI.
    user = session.get(User, row.user_id)
    if user is None or not user.active or row.auth_stamp != auth_stamp(user):
        session.delete(row)
        return Lookup(None, None, "revoked")
    if touch and now - row.last_seen_at > _TOUCH_AFTER:
        row.last_seen_at = now
    return Lookup(row, user, None)


def end(session: Session, token: str) -> None:
    """End the session of `token` (sign-out)."""
    session.execute(delete(WebSession).where(WebSession.id == sha256_hex(token)))


def end_for_user(session: Session, user_id: str) -> int:
    """End every session of a user; returns how many ended."""
    result = session.execute(delete(WebSession).where(WebSession.user_id == user_id))
    return int(result.rowcount)  # type: ignore[attr-defined]


def purge_expired(session: Session) -> int:
    """Delete every expired session; called at sign-in to keep the table small."""
    limits = expiry(session)
    now = utcnow()
    result = session.execute(
        delete(WebSession).where(
            or_(
                WebSession.last_seen_at < now - limits.idle,
                WebSession.created_at < now - limits.absolute,
            )
        )
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def set_flash(session: Session, session_id: str, message: str) -> None:
    """Leave a one-line message for the next page this browser shows."""
    row = session.get(WebSession, session_id)
    if row is not None:
        row.flash = message[:500]


# Separates a flash message from a one-time secret riding with it; a control
# character no message or generated password ever contains.
_FLASH_SEPARATOR = "\x1e"


def set_flash_secret(
    session: Session, session_id: str, message: str, secret: str
) -> None:
    """Leave a message plus a one-time secret (a generated password) for the
    next page only; `pop_flash` clears both when that page is shown."""
    row = session.get(WebSession, session_id)
    if row is not None:
        text = message[:200].replace(_FLASH_SEPARATOR, " ")
        row.flash = f"{text}{_FLASH_SEPARATOR}{secret[:290]}"


def pop_flash(row: WebSession) -> str | None:
    """Take the pending message off the session, if any (without its secret)."""
    return pop_flash_parts(row)[0]


def pop_flash_parts(row: WebSession) -> tuple[str | None, str | None]:
    """Take the pending message and one-time secret off the session.

    Both are cleared in the same transaction, so a refresh shows neither.
    """
    stored = row.flash
    if stored is None:
        return None, None
    row.flash = None
    message, mark, secret = stored.partition(_FLASH_SEPARATOR)
    return message or None, secret if mark else None


def sessions_of(session: Session, user_id: str) -> list[WebSession]:
    """A user's sessions, newest first."""
    return list(
        session.scalars(
            select(WebSession)
            .where(WebSession.user_id == user_id)
            .order_by(WebSession.created_at.desc())
        )
    )
