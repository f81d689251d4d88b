"""Administration of people: users (with their Mobile Access options and
devices), security groups with members, and Feature Access for the Mobile App."""

import logging

from fastapi import APIRouter, Depends, Request
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from starlette.datastructures import FormData
from starlette.responses import Response

from strongroom.server.accounts import service as accounts
from strongroom.server.accounts.models import (
    FEATURE_MOBILE,
    FeatureAccess,
    Group,
    User,
)
from strongroom.server.audit import service as audit
from strongroom.server.core.db import utcnow
from strongroom.server.core.errors import AlreadyExists, NotFound, ValidationError
from strongroom.server.mobile import service as mobile
from strongroom.server.mobile.models import DEVICE_ACTIVE, Device
from strongroom.server.settings import service as settings
from strongroom.server.web import auth, sessions
from strongroom.server.web.context import (
    WebContext,
    admin_context,
    form_data,
    set_flash,
    set_flash_secret,
)
from strongroom.server.web.forms import FormReader, error_for
from strongroom.server.web.routes.common import (
    ADMIN_PAGES,
    Confirmation,
    clear_lines,
    confirm_page,
    confirmed,
    count_of,
    grantee,
    search_groups,
    search_users,
    see_other,
)
from strongroom.server.web.templating import render

log = logging.getLogger(__name__)

router = APIRouter(include_in_schema=False, dependencies=ADMIN_PAGES)

PASSWORD_MAX = 1024
USER_FIELDS = {
    "login name": "login_name",
    "domain": "login_name",
    "password": "password",
    "display name": "display_name",
}


def _sentence(message: str) -> str:
    text = message[:1].upper() + message[1:]
    return text if text.endswith(".") else text + "."


# --- users ---------------------------------------------------------------------


def _users_page(
    request: Request,
    *,
    status: int = 200,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
) -> Response:
    with request.app.state.instance.db.session() as session:
        users = accounts.list_users(session)
        device_counts = dict(
            session.execute(
                select(Device.user_id, func.count()).group_by(Device.user_id)
            ).all()
        )
        mobile_users = {
            u.id for u in users if accounts.has_feature(session, u, FEATURE_MOBILE)
        }
        now = utcnow()
        locked = {
            u.id for u in users if u.locked_until is not None and u.locked_until > now
        }
    return render(
        request,
        "admin/users.html",
        status_code=status,
        users=users,
        device_counts=device_counts,
        mobile_users=mobile_users,
        locked=locked,
        errors=errors or {},
        values=values or {},
    )


@router.get("/admin/users")
def users(request: Request) -> Response:
    """Every user, and the form to add one."""
    return _users_page(request)


@router.post("/admin/users")
def add_user(
    request: Request,
    ctx: WebContext = Depends(admin_context),
    data: FormData = Depends(form_data),
) -> Response:
    """Add a user; a generated password is shown once when none was typed."""
    form = FormReader(data)
    name = form.text("login_name", label="login name", required=True, max_len=201)
    display = form.text("display_name", label="display name", max_len=200)
    email = form.text("email", max_len=254)
    password = form.text("password", max_len=PASSWORD_MAX, strip=False)
    is_admin = form.flag("is_admin")
    values = {"login_name": name, "display_name": display, "email": email}
    if email and "@" not in email:
        form.error("email", "The email address needs an @.")
    if not form.ok:
        return _users_page(request, status=422, errors=form.errors, values=values)

    generated = not password
    password = password or accounts.generate_password()
    try:
        with ctx.db() as session:
            user = accounts.create_user(
                session,
                ctx.actor,
                name,
                password=password,
                display_name=display,
                email=email,
                is_admin=is_admin,
            )
            user_id = user.id
            _flash_done(
                ctx,
                session,
                f"{user.qualified_name} added.",
                password if generated else None,
            )
    except ValidationError as exc:
        form.error(*error_for(exc, USER_FIELDS))
    except AlreadyExists as exc:
        form.error("login_name", _sentence(exc.message))
    if not form.ok:
        return _users_page(request, status=422, errors=form.errors, values=values)
    return see_other(f"/admin/users/{user_id}")


def _flash_done(
    ctx: WebContext, session: Session, message: str, generated: str | None
) -> None:
    """Leave the outcome for the page the redirect leads to.

    A generated password rides in the server-side session flash (never a URL)
    and is cleared when that page is shown, so a refresh cannot show it again.
    """
    if generated:
        set_flash_secret(ctx, session, message, generated)
    else:
        set_flash(ctx, session, message)


def _user_page(
    request: Request,
    ctx: WebContext,
    user_id: str,
    *,
    status: int = 200,
    errors: dict[str, str] | None = None,
    new_password: str | None = None,
) -> Response:
    with ctx.db() as session:
        user = accounts.get_user(session, user_id)
        credential = mobile.credential_of(session, user)
        page = {
            "user": user,
            "has_master_password": bool(credential and credential.master_password_hash),
            "master_set_at": credential.set_at if credential else None,
            "devices": mobile.list_devices(session, ctx.actor, user),
            "has_mobile": accounts.has_feature(session, user, FEATURE_MOBILE),
            "global_ttl": settings.get(session, "offline_ttl_days"),
            "sessions": len(sessions.sessions_of(session, user.id)),
            "locked": user.locked_until is not None and user.locked_until > utcnow(),
        }
    return render(
        request,
        "admin/user.html",
        status_code=status,
        errors=errors or {},
        new_password=new_password,
        ttl_choices=settings.TTL_CHOICES,
        **page,
    )


@router.get("/admin/users/{user_id}")
def user_detail(
    request: Request, user_id: str, ctx: WebContext = Depends(admin_context)
) -> Response:
    """One user: status, password, Mobile Access options and devices."""
    return _user_page(request, ctx, user_id)


def _disable_confirmation(
    session: Session, ctx: WebContext, user: User
) -> Confirmation:
    name = user.qualified_name
    open_sessions = len(sessions.sessions_of(session, user.id))
    return Confirmation(
        title=f"Disable {name}?",
        lines=(
            f"{name} will be signed out of every browser at once "
            f"({count_of(open_sessions, 'open session')}) and cannot sign in until an "
            "administrator enables the account again.",
            f"The phones of {name} remove their records on their next sync, and "
            f"API keys acting as {name} stop working.",
        ),
        action=f"/admin/users/{user.id}/active",
        button=f"Disable {name}",
        cancel=f"/admin/users/{user.id}",
        hidden=(("value", "no"),),
        refusal=(
            "You cannot disable your own account; ask another administrator."
            if user.id == ctx.user_id
            else None
        ),
        admin=True,
    )


@router.get("/admin/users/{user_id}/active")
def disable_confirm(
    request: Request, user_id: str, ctx: WebContext = Depends(admin_context)
) -> Response:
    """Ask before disabling a user (enabling needs no confirmation)."""
    with ctx.db() as session:
        user = accounts.get_user(session, user_id)
        if not user.active:
            return see_other(f"/admin/users/{user.id}")
        confirmation = _disable_confirmation(session, ctx, user)
    return confirm_page(request, confirmation)


@router.post("/admin/users/{user_id}/active")
def set_active(
    request: Request,
    user_id: str,
    ctx: WebContext = Depends(admin_context),
    data: FormData = Depends(form_data),
) -> Response:
    """Enable or disable a user; disabling ends their browser sessions and
    comes only from its confirmation page."""
    form = FormReader(data)
    value = form.choice("value", ["yes", "no"], default="")
    if not value:
        raise ValidationError("value", "give yes or no")
    if value == "no" and not confirmed(data):
        return disable_confirm(request, user_id, ctx)
    with ctx.db() as session:
        user = accounts.get_user(session, user_id)
        if user.id == ctx.user_id and value == "no":
            raise ValidationError(
                "value",
                "you cannot disable your own account",
                hint="ask another administrator",
            )
        accounts.set_active(session, ctx.actor, user, value == "yes")
        if value == "no":
            sessions.end_for_user(session, user.id)
        set_flash(
            ctx,
            session,
            f"{user.qualified_name} is {'enabled' if value == 'yes' else 'disabled'}.",
        )
    return see_other(f"/admin/users/{user_id}")


@router.post("/admin/users/{user_id}/password")
def reset_password(
    request: Request,
    user_id: str,
    ctx: WebContext = Depends(admin_context),
    data: FormData = Depends(form_data),
) -> Response:
    """Set a new web password (typed, or generated and shown once)."""
    form = FormReader(data)
    password = form.text(
        "new_password", label="new password", max_len=PASSWORD_MAX, strip=False
    )
    generated = not password
    password = password or accounts.generate_password()
    if form.ok:
        try:
            with ctx.db() as session:
                user = accounts.get_user(session, user_id)
                accounts.set_password(session, ctx.actor, user, password)
                _flash_done(
                    ctx,
                    session,
                    f"Password of {user.qualified_name} reset.",
                    password if generated else None,
                )
        except ValidationError as exc:
            form.error(*error_for(exc, {"password": "new_password"}))
    if not form.ok:
        return _user_page(request, ctx, user_id, status=422, errors=form.errors)
    return see_other(f"/admin/users/{user_id}")


@router.post("/admin/users/{user_id}/unlock")
def unlock(user_id: str, ctx: WebContext = Depends(admin_context)) -> Response:
    """Lift a sign-in lockout before it runs out."""
    with ctx.db() as session:
        user = accounts.get_user(session, user_id)
        user.failed_logins = 0
        user.locked_until = None
        audit.record(
            session,
            ctx.actor,
            "user.unlocked",
            target_type="user",
            target_id=user.id,
            target_name=user.qualified_name,
        )
        set_flash(ctx, session, f"{user.qualified_name} is unlocked.")
    return see_other(f"/admin/users/{user_id}")


@router.post("/admin/users/{user_id}/totp-reset")
def reset_totp(user_id: str, ctx: WebContext = Depends(admin_context)) -> Response:
    """Remove a user's authenticator (they lost their phone)."""
    with ctx.db() as session:
        user = accounts.get_user(session, user_id)
        auth.disable_totp(session, user, ctx.actor)
        set_flash(ctx, session, f"Two-step sign-in removed for {user.qualified_name}.")
    return see_other(f"/admin/users/{user_id}")


@router.post("/admin/users/{user_id}/offline-ttl")
def set_offline_ttl(
    request: Request,
    user_id: str,
    ctx: WebContext = Depends(admin_context),
    data: FormData = Depends(form_data),
) -> Response:
    """Override the offline time to live for one user (or inherit the global one)."""
    form = FormReader(data)
    choices = ["inherit"] + [str(d) for d in settings.TTL_CHOICES]
    value = (form.raw("offline_ttl_days") or "").strip()
    if value not in choices:
        form.error(
            "offline_ttl_days", "Choose the system default or 1, 3, 7, 14 or 30 days."
        )
        return _user_page(request, ctx, user_id, status=422, errors=form.errors)
    days = None if value == "inherit" else int(value)
    with ctx.db() as session:
        user = accounts.get_user(session, user_id)
        old = user.offline_ttl_days
        user.offline_ttl_days = days
        audit.record(
            session,
            ctx.actor,
            "user.offline_ttl_set",
            target_type="user",
            target_id=user.id,
            target_name=user.qualified_name,
            details={"old": old, "new": days},
        )
        set_flash(
            ctx,
            session,
            "Offline time to live saved; phones get it on their next sync.",
        )
    return see_other(f"/admin/users/{user_id}")


def _active_devices(session: Session, ctx: WebContext, user: User) -> int:
    devices = mobile.list_devices(session, ctx.actor, user)
    return sum(1 for d in devices if d.status == DEVICE_ACTIVE)


@router.get("/admin/users/{user_id}/mobile-clear")
def clear_mobile_confirm(
    request: Request, user_id: str, ctx: WebContext = Depends(admin_context)
) -> Response:
    """Ask before clearing a user's master password."""
    with ctx.db() as session:
        user = accounts.get_user(session, user_id)
        name = user.qualified_name
        lines = clear_lines(f"{name}'s", name, _active_devices(session, ctx, user))
    return confirm_page(
        request,
        Confirmation(
            title=f"Clear the master password of {name}?",
            lines=lines,
            action=f"/admin/users/{user_id}/mobile-clear",
            button="Clear master password",
            cancel=f"/admin/users/{user_id}",
            admin=True,
        ),
    )


@router.post("/admin/users/{user_id}/mobile-clear")
def clear_mobile(
    request: Request,
    user_id: str,
    ctx: WebContext = Depends(admin_context),
    data: FormData = Depends(form_data),
) -> Response:
    """Clear a user's master password (confirmed); their devices are revoked."""
    if not confirmed(data):
        return clear_mobile_confirm(request, user_id, ctx)
    with ctx.db() as session:
        user = accounts.get_user(session, user_id)
        revoked = mobile.clear_master_password(session, ctx.actor, user)
        set_flash(
            ctx,
            session,
            f"Mobile credentials of {user.qualified_name} cleared; "
            f"{revoked} device(s) revoked.",
        )
    return see_other(f"/admin/users/{user_id}")


def _device_of(session: Session, user_id: str, device_id: str) -> Device:
    device = mobile.get_device(session, device_id)
    if device.user_id != user_id:
        raise NotFound("that device does not belong to this user")
    return device


def _device_confirmation(
    session: Session, user_id: str, device_id: str, action: str
) -> Confirmation:
    """Revoke or Remote wipe of another user's phone, in plain words."""
    device = _device_of(session, user_id, device_id)
    owner = accounts.get_user(session, user_id).qualified_name
    phone = f"The phone “{device.name or device.id}” of {owner}"
    again = f"To use it again, {owner} must pair it with a new QR code."
    if action == "wipe":
        title = f"Remote wipe the phone “{device.name or device.id}” of {owner}?"
        lines = (
            f"{phone} will erase its offline copy the next time it contacts the "
            "App Server.",
            f"It is revoked at once and never syncs again. {again}",
        )
    else:
        title = f"Revoke the phone “{device.name or device.id}” of {owner}?"
        lines = (
            f"{phone} will be unpaired: it cannot sync any more and erases its "
            "offline copy the next time it contacts the App Server.",
            again,
        )
    return Confirmation(
        title=title,
        lines=lines,
        action=f"/admin/users/{user_id}/devices/{device.id}/{action}",
        button="Remote wipe" if action == "wipe" else "Revoke phone",
        cancel=f"/admin/users/{user_id}",
        admin=True,
    )


@router.get("/admin/users/{user_id}/devices/{device_id}/{action}")
def device_confirm(
    request: Request,
    user_id: str,
    device_id: str,
    action: str,
    ctx: WebContext = Depends(admin_context),
) -> Response:
    """Ask before revoking or remotely wiping a device."""
    if action not in ("revoke", "wipe"):
        raise NotFound("there is no such page")
    with ctx.db() as session:
        confirmation = _device_confirmation(session, user_id, device_id, action)
    return confirm_page(request, confirmation)


@router.post("/admin/users/{user_id}/devices/{device_id}/revoke")
def revoke_device(
    request: Request,
    user_id: str,
    device_id: str,
    ctx: WebContext = Depends(admin_context),
    data: FormData = Depends(form_data),
) -> Response:
    """Revoke a device (confirmed): it erases its offline copy on its next contact."""
    if not confirmed(data):
        return device_confirm(request, user_id, device_id, "revoke", ctx)
    with ctx.db() as session:
        device = _device_of(session, user_id, device_id)
        mobile.revoke_device(session, ctx.actor, device.id)
        set_flash(ctx, session, f"Device {device.name or device.id} revoked.")
    return see_other(f"/admin/users/{user_id}")


@router.post("/admin/users/{user_id}/devices/{device_id}/wipe")
def wipe_device(
    request: Request,
    user_id: str,
    device_id: str,
    ctx: WebContext = Depends(admin_context),
    data: FormData = Depends(form_data),
) -> Response:
    """Order a remote wipe of a device (confirmed)."""
    if not confirmed(data):
        return device_confirm(request, user_id, device_id, "wipe", ctx)
    with ctx.db() as session:
        device = _device_of(session, user_id, device_id)
        mobile.request_wipe(session, ctx.actor, device.id)
        set_flash(ctx, session, f"Remote wipe ordered for {device.name or device.id}.")
    return see_other(f"/admin/users/{user_id}")


# --- groups --------------------------------------------------------------------


def _groups_page(
    request: Request,
    *,
    status: int = 200,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
) -> Response:
    with request.app.state.instance.db.session() as session:
        groups = accounts.list_groups(session)
    return render(
        request,
        "admin/groups.html",
        status_code=status,
        groups=groups,
        errors=errors or {},
        values=values or {},
    )


@router.get("/admin/groups")
def groups(request: Request) -> Response:
    """Every security group with its member count, and the form to add one."""
    return _groups_page(request)


@router.post("/admin/groups")
def add_group(
    request: Request,
    ctx: WebContext = Depends(admin_context),
    data: FormData = Depends(form_data),
) -> Response:
    """Create a security group."""
    form = FormReader(data)
    name = form.text("group_name", label="group name", required=True, max_len=200)
    description = form.text("group_description", label="description", max_len=255)
    values = {"group_name": name, "group_description": description}
    if form.ok:
        try:
            with ctx.db() as session:
                group = accounts.create_group(session, ctx.actor, name, description)
                set_flash(
                    ctx, session, f"Group {group.name!r} created; add its members."
                )
                target = f"/admin/groups/{group.id}"
            return see_other(target)
        except ValidationError as exc:
            form.error(*error_for(exc, {"group name": "group_name"}))
        except AlreadyExists as exc:
            form.error("group_name", _sentence(exc.message))
    return _groups_page(request, status=422, errors=form.errors, values=values)


def _get_group(session: Session, group_id: str) -> Group:
    group = session.get(Group, group_id)
    if group is None:
        raise NotFound("that group does not exist")
    return group


@router.get("/admin/groups/{group_id}")
def group_detail(
    request: Request, group_id: str, ctx: WebContext = Depends(admin_context)
) -> Response:
    """A group's members, with a search to add more."""
    q = (request.query_params.get("q") or "").strip()[:100].replace("\x00", "")
    with ctx.db() as session:
        group = _get_group(session, group_id)
        members = accounts.members(session, group)
        found = search_users(session, q) if q else []
        member_ids = {u.id for u in members}
        has_mobile = bool(
            session.scalar(
                select(FeatureAccess.id).where(
                    FeatureAccess.feature == FEATURE_MOBILE,
                    FeatureAccess.group_id == group.id,
                )
            )
        )
    return render(
        request,
        "admin/group.html",
        group=group,
        members=members,
        found=[u for u in found if u.id not in member_ids],
        q=q,
        has_mobile=has_mobile,
    )


@router.post("/admin/groups/{group_id}/members")
def add_member(
    group_id: str,
    ctx: WebContext = Depends(admin_context),
    data: FormData = Depends(form_data),
) -> Response:
    """Add a user to the group."""
    user_id = FormReader(data).text("user_id", max_len=36)
    with ctx.db() as session:
        group = _get_group(session, group_id)
        user = session.get(User, user_id)
        if user is None:
            raise NotFound("that user does not exist")
        accounts.add_member(session, ctx.actor, group, user)
        set_flash(ctx, session, f"{user.qualified_name} added to {group.name}.")
    return see_other(f"/admin/groups/{group_id}")


@router.get("/admin/groups/{group_id}/members/{user_id}/remove")
def remove_member_confirm(
    request: Request,
    group_id: str,
    user_id: str,
    ctx: WebContext = Depends(admin_context),
) -> Response:
    """Ask before removing a user from a group."""
    with ctx.db() as session:
        group = _get_group(session, group_id)
        name = accounts.get_user(session, user_id).qualified_name
        group_name = group.name
    return confirm_page(
        request,
        Confirmation(
            title=f"Remove {name} from the group {group_name}?",
            lines=(
                f"{name} will lose the permissions and features that come only "
                f"through {group_name}.",
                "Their phones drop the records of lists they can no longer see on "
                "their next sync.",
            ),
            action=f"/admin/groups/{group_id}/members/{user_id}/remove",
            button=f"Remove {name}",
            cancel=f"/admin/groups/{group_id}",
            admin=True,
        ),
    )


@router.post("/admin/groups/{group_id}/members/{user_id}/remove")
def remove_member(
    request: Request,
    group_id: str,
    user_id: str,
    ctx: WebContext = Depends(admin_context),
    data: FormData = Depends(form_data),
) -> Response:
    """Remove a user from the group (confirmed)."""
    if not confirmed(data):
        return remove_member_confirm(request, group_id, user_id, ctx)
    with ctx.db() as session:
        group = _get_group(session, group_id)
        user = accounts.get_user(session, user_id)
        accounts.remove_member(session, ctx.actor, group, user)
        set_flash(ctx, session, f"{user.qualified_name} removed from {group.name}.")
    return see_other(f"/admin/groups/{group_id}")


# --- feature access -------------------------------------------------------------


def _feature_grants(session: Session) -> list[tuple[str, str, str]]:
    """(value, kind, name) of every Mobile App grant, users then groups."""
    out: list[tuple[str, str, str]] = []
    for row in accounts.feature_grants(session, FEATURE_MOBILE):
        if row.user_id:
            user = session.get(User, row.user_id)
            if user:
                out.append((f"user:{user.id}", "user", user.qualified_name))
        elif row.group_id:
            group = session.get(Group, row.group_id)
            if group:
                out.append((f"group:{group.id}", "group", group.name))
    return sorted(out, key=lambda g: (g[1] != "user", g[2].lower()))


@router.get("/admin/feature-access")
def feature_access(
    request: Request, ctx: WebContext = Depends(admin_context)
) -> Response:
    """Who holds the Mobile App feature; search users and groups to add."""
    q = (request.query_params.get("q") or "").strip()[:100].replace("\x00", "")
    with ctx.db() as session:
        grants = _feature_grants(session)
        granted = {g[0] for g in grants}
        candidates = [
            (f"user:{u.id}", "user", u.qualified_name) for u in search_users(session, q)
        ] + [(f"group:{g.id}", "group", g.name) for g in search_groups(session, q)]
    return render(
        request,
        "admin/features.html",
        grants=grants,
        candidates=[c for c in candidates if c[0] not in granted] if q else [],
        q=q,
    )


@router.post("/admin/feature-access")
def save_feature_access(
    ctx: WebContext = Depends(admin_context), data: FormData = Depends(form_data)
) -> Response:
    """Save: grant the ticked candidates, remove the ticked grants (one transaction)."""
    form = FormReader(data)
    add = form.values("add")
    remove = form.values("remove")
    added = removed = 0
    with ctx.db() as session:
        for value in add:
            user, group = grantee(session, value)
            if user or group:
                added += accounts.grant_feature(
                    session, ctx.actor, FEATURE_MOBILE, user=user, group=group
                )
        for value in remove:
            user, group = grantee(session, value)
            if user or group:
                removed += accounts.revoke_feature(
                    session, ctx.actor, FEATURE_MOBILE, user=user, group=group
                )
        set_flash(
            ctx, session, f"Mobile App feature: {added} added, {removed} removed."
        )
    return see_other("/admin/feature-access")
