"""Helpers the page modules share: permission gates that audit, redirects and
the confirmation step of destructive actions."""

from dataclasses import dataclass

from fastapi import Depends, Request
from fastapi.responses import RedirectResponse
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session
from starlette.datastructures import FormData
from starlette.responses import Response

from strongroom.server.accounts.models import Group, User
from strongroom.server.core.errors import PermissionDenied
from strongroom.server.vault import service as vault
from strongroom.server.vault.models import Level
from strongroom.server.web.context import WebContext, admin_context, csrf_context
from strongroom.server.web.errors import AuditedDenial
from strongroom.server.web.forms import FormReader
from strongroom.server.web.templating import render

# Every page router of the UI carries one of these, so no state-changing
# route can be added without the CSRF check.
USER_PAGES = [Depends(csrf_context)]
ADMIN_PAGES = [Depends(admin_context)]


def see_other(path: str) -> RedirectResponse:
    """Post/Redirect/Get: after a change, the browser loads `path` afresh."""
    return RedirectResponse(path, status_code=303)


# The field only a confirmation page's form carries. A destructive POST
# without it acts on nothing and shows that page instead, so neither a stale
# form, a double click nor a forged-but-tokened request skips the question.
CONFIRM_FIELD = "confirm"
CONFIRM_VALUE = "yes"


@dataclass(frozen=True)
class Confirmation:
    """What a confirmation page asks before a destructive action.

    `lines` say in plain words what will happen; `action` is the POST that
    does it (with `hidden` fields besides the CSRF token and the confirm
    field); `refusal`, when set, replaces the Confirm button with the reason
    the action cannot be done.
    """

    title: str
    lines: tuple[str, ...]
    action: str
    button: str
    cancel: str
    hidden: tuple[tuple[str, str], ...] = ()
    refusal: str | None = None
    admin: bool = False


def confirmed(data: FormData) -> bool:
    """Tell whether the form came from a confirmation page's Confirm button."""
    return FormReader(data).raw(CONFIRM_FIELD) == CONFIRM_VALUE


def confirm_page(
    request: Request, confirmation: Confirmation, *, status: int = 200
) -> Response:
    """The page that asks, with Confirm (a CSRF-protected POST) and Cancel."""
    template = "admin/confirm.html" if confirmation.admin else "confirm.html"
    return render(request, template, status_code=status, confirm=confirmation)


def count_of(n: int, noun: str) -> str:
    """`n` and the noun, plural unless one: "1 phone", "2 phones"."""
    return f"{n} {noun}{'' if n == 1 else 's'}"


def clear_lines(whose: str, owner: str, active: int) -> tuple[str, ...]:
    """What clearing a master password does, said of `whose` phones
    ("alice's", "Your") and their `owner` ("alice", "you")."""
    if active == 1:
        now = (
            "1 paired phone is revoked now and erases its offline copy the next "
            "time it contacts the App Server."
        )
    elif active:
        now = (
            f"{active} paired phones are revoked now and erase their offline "
            "copies the next time they contact the App Server."
        )
    else:
        now = "No phone is paired right now."
    sets = "set" if owner == "you" else "sets"
    return (
        f"{whose} phones will be unpaired and must be paired again with a new QR "
        f"code, after {owner} {sets} a new master password.",
        now,
    )


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
