"""Helpers the page modules share: permission gates that audit, redirects."""

from fastapi import Depends
from fastapi.responses import RedirectResponse
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from strongroom.server.accounts.models import Group, User
from strongroom.server.core.errors import PermissionDenied
from strongroom.server.vault import service as vault
from strongroom.server.vault.models import Level
from strongroom.server.web.context import WebContext, admin_context, csrf_context
from strongroom.server.web.errors import AuditedDenial

# Every page router of the UI carries one of these, so no state-changing
# route can be added without the CSRF check.
USER_PAGES = [Depends(csrf_context)]
ADMIN_PAGES = [Depends(admin_context)]


def see_other(path: str) -> RedirectResponse:
    """Post/Redirect/Get: after a change, the browser loads `path` afresh."""
    return RedirectResponse(path, status_code=303)


def ensure_level(
    session: Session,
    ctx: WebContext,
    list_id: str,
    level: Level,
    *,
    record_id: str | None = None,
) -> None:
    """Refuse (403 page, audited) unless the user holds `level` on the list."""
    try:
        vault.require_level(session, ctx.actor, list_id, level)
    except PermissionDenied as exc:
        what = "record" if record_id else "password list"
        raise AuditedDenial(
            ctx.actor,
            f"You need {level.label} permission on this {what}'s list to do this.",
            list_id=list_id,
            record_id=record_id,
            hint=exc.hint,
        ) from None


def ensure_list_admin(session: Session, ctx: WebContext, list_id: str) -> None:
    """Refuse (403, audited) unless the user may manage the list's permissions."""
    try:
        vault.require_list_admin(session, ctx.actor, list_id)
    except PermissionDenied as exc:
        raise AuditedDenial(
            ctx.actor,
            "Only administrators of this password list can see or change its "
            "permissions.",
            list_id=list_id,
            hint=exc.hint,
        ) from None


def _pattern(q: str) -> str:
    escaped = q.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def search_users(session: Session, q: str, limit: int = 20) -> list[User]:
    """Users whose login, domain or display name contains `q`."""
    stmt = select(User).order_by(User.domain, User.login_name).limit(limit)
    if q:
        pattern = _pattern(q)
        stmt = stmt.where(
            or_(
                func.lower(User.login_name).like(pattern, escape="\\"),
                func.lower(User.display_name).like(pattern, escape="\\"),
                func.lower(User.domain).like(pattern, escape="\\"),
            )
        )
    return list(session.scalars(stmt))


def search_groups(session: Session, q: str, limit: int = 20) -> list[Group]:
    """Groups whose name contains `q`."""
    stmt = select(Group).order_by(Group.name).limit(limit)
    if q:
        stmt = stmt.where(func.lower(Group.name).like(_pattern(q), escape="\\"))
    return list(session.scalars(stmt))


def grantee(session: Session, value: str) -> tuple[User | None, Group | None]:
    """Resolve a `user:<id>` or `group:<id>` form value; (None, None) if unknown."""
    kind, _, ident = value.partition(":")
    if kind == "user":
        return session.get(User, ident), None
    if kind == "group":
        return None, session.get(Group, ident)
    return None, None
