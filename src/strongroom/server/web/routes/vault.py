"""The vault tree, list pages and each list's permissions grid."""

import logging

from fastapi import APIRouter, Depends, Request
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.datastructures import FormData
from starlette.responses import Response

from strongroom.server.core.errors import AlreadyExists, NotFound, ValidationError
from strongroom.server.settings import service as settings
from strongroom.server.vault import service as vault
from strongroom.server.vault.models import (
    DESCRIPTION_MAX,
    LIST_NAME_MAX,
    Folder,
    Level,
    PasswordList,
    Permission,
)
from strongroom.server.web import queries
from strongroom.server.web.context import WebContext, form_data, set_flash, web_context
from strongroom.server.web.forms import FormReader, error_for, page_number
from strongroom.server.web.routes.common import (
    USER_PAGES,
    Confirmation,
    confirm_page,
    confirmed,
    ensure_level,
    ensure_list_admin,
    grantee,
    search_groups,
    search_users,
    see_other,
)
from strongroom.server.web.templating import render

log = logging.getLogger(__name__)

router = APIRouter(include_in_schema=False, dependencies=USER_PAGES)

LEVELS = {lvl.label: lvl for lvl in Level}


def _folder_choices(session: Session) -> list[tuple[str, str]]:
    paths = [
        (f.id, "/".join(vault.folder_path(session, f.id)))
        for f in session.scalars(select(Folder))
    ]
    return sorted(paths, key=lambda p: p[1].lower())


def _tree_page(
    request: Request,
    ctx: WebContext,
    *,
    status: int = 200,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
) -> Response:
    with ctx.db() as session:
        tree = queries.vault_tree(session, ctx.user_id, everything=ctx.is_admin)
        folders = _folder_choices(session) if ctx.is_admin else []
    return render(
        request,
        "vault/tree.html",
        status_code=status,
        tree=tree,
        folders=folders,
        errors=errors or {},
        values=values or {},
    )


@router.get("/vault")
def tree(request: Request, ctx: WebContext = Depends(web_context)) -> Response:
    """Folders and password lists the user may see (admins: all of them)."""
    return _tree_page(request, ctx)


UNKNOWN_FOLDER = "That folder does not exist (any more); choose one from the list."


class _BadFolder(Exception):
    """The chosen folder id names no folder; the form shows a field error."""


def _folder_prefix(
    session: Session, form: FormReader, field: str, folder_id: str
) -> str:
    """The path of the chosen folder ('' for the top level).

    An unknown id is an error on the field rather than a quiet fall back to
    the top level, which would put the new item where nobody asked for it.
    """
    if not folder_id:
        return ""
    if session.get(Folder, folder_id) is None:
        form.error(field, UNKNOWN_FOLDER)
        raise _BadFolder
    return "/".join(vault.folder_path(session, folder_id))


@router.post("/vault/folders")
def create_folder(
    request: Request,
    ctx: WebContext = Depends(web_context),
    data: FormData = Depends(form_data),
) -> Response:
    """Create a folder (administrators)."""
    form = FormReader(data)
    parent = form.text("parent_folder", max_len=36)
    name = form.text("folder_name", label="folder name", required=True, max_len=200)
    values = {"parent_folder": parent, "folder_name": name}
    if form.ok:
        try:
            with ctx.db() as session:
                prefix = _folder_prefix(session, form, "parent_folder", parent)
                if "/" in name:
                    raise ValidationError(
                        "folder name", "the folder name must not contain '/'"
                    )
                vault.create_folder(
                    session, ctx.actor, f"{prefix}/{name}" if prefix else name
                )
                set_flash(ctx, session, f"Folder {name!r} created.")
            return see_other("/vault")
        except ValidationError as exc:
            form.error(
                *error_for(exc, {"folder name": "folder_name", "path": "folder_name"})
            )
        except _BadFolder:
            pass
        except (AlreadyExists, NotFound) as exc:
            form.error("folder_name", exc.message[:1].upper() + exc.message[1:] + ".")
    return _tree_page(request, ctx, status=422, errors=form.errors, values=values)


@router.post("/vault/lists")
def create_list(
    request: Request,
    ctx: WebContext = Depends(web_context),
    data: FormData = Depends(form_data),
) -> Response:
    """Create a password list (administrators)."""
    form = FormReader(data)
    folder_id = form.text("list_folder", max_len=36)
    name = form.text(
        "list_name", label="list name", required=True, max_len=LIST_NAME_MAX
    )
    description = form.text(
        "list_description", label="description", max_len=DESCRIPTION_MAX
    )
    values = {
        "list_folder": folder_id,
        "list_name": name,
        "list_description": description,
    }
    if form.ok:
        try:
            with ctx.db() as session:
                prefix = _folder_prefix(session, form, "list_folder", folder_id)
                if "/" in name:
                    raise ValidationError(
                        "list name", "the list name must not contain '/'"
                    )
                plist = vault.create_list(
                    session,
                    ctx.actor,
                    f"{prefix}/{name}" if prefix else name,
                    description=description,
                )
                set_flash(
                    ctx,
                    session,
                    f"Password list {name!r} created; grant permissions next.",
                )
                target = f"/lists/{plist.id}/permissions"
            return see_other(target)
        except ValidationError as exc:
            form.error(
                *error_for(
                    exc,
                    {
                        "list name": "list_name",
                        "list": "list_name",
                        "description": "list_description",
                    },
                )
            )
        except _BadFolder:
            pass
        except (AlreadyExists, NotFound) as exc:
            form.error("list_name", exc.message[:1].upper() + exc.message[1:] + ".")
    return _tree_page(request, ctx, status=422, errors=form.errors, values=values)


def _sort_params(request: Request) -> tuple[str, bool]:
    sort = request.query_params.get("sort") or "title"
    if sort not in queries.SORTS:
        sort = "title"
    return sort, request.query_params.get("dir") == "desc"


@router.get("/lists/{list_id}")
def list_page(
    request: Request, list_id: str, ctx: WebContext = Depends(web_context)
) -> Response:
    """A list's records: search, sort and paging, all done in SQL."""
    q = (request.query_params.get("q") or "").strip()[:200].replace("\x00", "")
    sort, descending = _sort_params(request)
    with ctx.db() as session:
        plist = vault.get_list(session, list_id)
        ensure_level(session, ctx, plist.id, Level.VIEW)
        level = vault.effective_level(session, ctx.user_id, plist.id)
        page = queries.record_page(
            session,
            plist.id,
            q=q,
            sort=sort,
            descending=descending,
            page=page_number(request.query_params),
        )
        path = vault.list_path(session, plist)
    template = (
        "vault/_records.html"
        if request.headers.get("hx-request")
        else "vault/list.html"
    )
    return render(
        request,
        template,
        plist=plist,
        list_path=path,
        level=level,
        page=page,
        q=q,
        sort=sort,
        descending=descending,
        sorts=queries.SORTS,
        can_modify=level is not None and level >= Level.MODIFY,
        can_manage=ctx.is_admin or (level is not None and level >= Level.ADMIN),
    )


# --- permissions -------------------------------------------------------------


def _permissions_page(
    request: Request,
    ctx: WebContext,
    plist_id: str,
    *,
    status: int = 200,
    errors: dict[str, str] | None = None,
    chosen: str = "",
    level: str = "view",
    mobile: str | None = None,
) -> Response:
    q = (request.query_params.get("q") or "").strip()[:100].replace("\x00", "")
    with ctx.db() as session:
        plist = vault.get_list(session, plist_id)
        ensure_list_admin(session, ctx, plist.id)
        grants = vault.grants_on(session, plist)
        default_mobile = bool(settings.get(session, "mobile_access_default"))
        users = search_users(session, q) if q else []
        groups = search_groups(session, q) if q else []
        path = vault.list_path(session, plist)
    return render(
        request,
        "vault/permissions.html",
        status_code=status,
        plist=plist,
        list_path=path,
        grants=grants,
        q=q,
        users=users,
        groups=groups,
        searched=bool(q),
        levels=list(LEVELS),
        errors=errors or {},
        chosen=chosen,
        level=level,
        mobile=mobile if mobile is not None else ("yes" if default_mobile else "no"),
    )


@router.get("/lists/{list_id}/permissions")
def permissions(
    request: Request, list_id: str, ctx: WebContext = Depends(web_context)
) -> Response:
    """The permissions grid with its Mobile Access column, and the grant form."""
    return _permissions_page(request, ctx, list_id)


@router.get("/lists/{list_id}/permissions/grantees")
def grantee_search(
    request: Request, list_id: str, ctx: WebContext = Depends(web_context)
) -> Response:
    """The user/group search results alone (htmx swaps them into the form)."""
    q = (request.query_params.get("q") or "").strip()[:100].replace("\x00", "")
    with ctx.db() as session:
        plist = vault.get_list(session, list_id)
        ensure_list_admin(session, ctx, plist.id)
        users = search_users(session, q) if q else []
        groups = search_groups(session, q) if q else []
    return render(
        request,
        "vault/_grantees.html",
        users=users,
        groups=groups,
        searched=bool(q),
        chosen="",
        q=q,
    )


@router.post("/lists/{list_id}/permissions")
def grant_permission(
    request: Request,
    list_id: str,
    ctx: WebContext = Depends(web_context),
    data: FormData = Depends(form_data),
) -> Response:
    """Grant New Permissions: a user or group, a level and the Mobile Access flag."""
    form = FormReader(data)
    chosen = form.text("grantee", max_len=100)
    level = form.choice("level", list(LEVELS), default="view")
    mobile = form.choice("mobile_access", ["yes", "no"], default="")
    if not chosen:
        form.error("grantee", "Search for a user or group and choose one.")
    if not mobile:
        form.error("mobile_access", "Choose Yes or No for Mobile Access.")
    if form.ok:
        with ctx.db() as session:
            plist = vault.get_list(session, list_id)
            ensure_list_admin(session, ctx, plist.id)
            user, group = grantee(session, chosen)
            if user is None and group is None:
                form.error(
                    "grantee", "That user or group no longer exists; search again."
                )
            else:
                vault.grant(
                    session,
                    ctx.actor,
                    plist,
                    LEVELS[level],
                    user=user,
                    group=group,
                    mobile_access=mobile == "yes",
                )
                who = user.qualified_name if user else group.name  # type: ignore[union-attr]
                set_flash(ctx, session, f"{who} now has {level} permission.")
        if form.ok:
            return see_other(f"/lists/{list_id}/permissions")
    return _permissions_page(
        request,
        ctx,
        list_id,
        status=422,
        errors=form.errors,
        chosen=chosen,
        level=level,
        mobile=mobile or None,
    )


def _permission_of(
    session: Session, list_id: str, perm_id: str
) -> tuple[PasswordList, Permission]:
    plist = vault.get_list(session, list_id)
    perm = session.get(Permission, perm_id)
    if perm is None or perm.list_id != plist.id:
        raise NotFound("that permission does not exist any more")
    return plist, perm


def _grantees_of(session: Session, perm: Permission):  # type: ignore[no-untyped-def]
    from strongroom.server.accounts.models import Group, User

    user = session.get(User, perm.user_id) if perm.user_id else None
    group = session.get(Group, perm.group_id) if perm.group_id else None
    return user, group


@router.post("/lists/{list_id}/permissions/{perm_id}/mobile-access")
def set_row_mobile_access(
    request: Request,
    list_id: str,
    perm_id: str,
    ctx: WebContext = Depends(web_context),
    data: FormData = Depends(form_data),
) -> Response:
    """Turn one permission's Mobile Access flag on or off."""
    form = FormReader(data)
    value = form.choice("value", ["yes", "no"], default="")
    if not value:
        raise ValidationError("value", "give yes or no for Mobile Access")
    with ctx.db() as session:
        plist, perm = _permission_of(session, list_id, perm_id)
        ensure_list_admin(session, ctx, plist.id)
        user, group = _grantees_of(session, perm)
        vault.grant(
            session,
            ctx.actor,
            plist,
            Level(perm.level),
            user=user,
            group=group,
            mobile_access=value == "yes",
        )
        if request.headers.get("hx-request"):
            row = next(g for g in vault.grants_on(session, plist) if g.id == perm.id)
            return render(
                request,
                "vault/_grant_row.html",
                g=row,
                plist=plist,
                levels=list(LEVELS),
            )
        set_flash(
            ctx, session, f"Mobile Access turned {'on' if value == 'yes' else 'off'}."
        )
    return see_other(f"/lists/{list_id}/permissions")


@router.post("/lists/{list_id}/permissions/{perm_id}/level")
def set_row_level(
    list_id: str,
    perm_id: str,
    ctx: WebContext = Depends(web_context),
    data: FormData = Depends(form_data),
) -> Response:
    """Change one permission's level."""
    form = FormReader(data)
    level = form.choice("level", list(LEVELS), default="")
    if not level:
        raise ValidationError("level", "choose view, modify or admin")
    with ctx.db() as session:
        plist, perm = _permission_of(session, list_id, perm_id)
        ensure_list_admin(session, ctx, plist.id)
        # Lowering the last Admin permission strands the list exactly as
        # removing it would, so it is refused for the same reason.
        if LEVELS[level] < Level.ADMIN and _is_last_admin(session, plist, perm):
            raise ValidationError("level", LAST_ADMIN_MESSAGE)
        user, group = _grantees_of(session, perm)
        vault.grant(session, ctx.actor, plist, LEVELS[level], user=user, group=group)
        set_flash(ctx, session, f"Level changed to {level}.")
    return see_other(f"/lists/{list_id}/permissions")


LAST_ADMIN_MESSAGE = (
    "This is the last Admin permission of the list; grant Admin to someone "
    "else first, or nobody but system administrators could manage it."
)


def _revoke_confirmation(
    session: Session, plist: PasswordList, perm: Permission
) -> Confirmation:
    """Remove permission, in plain words; refused for the last Admin one."""
    user, group = _grantees_of(session, perm)
    path = vault.list_path(session, plist)
    level = Level(perm.level).label.capitalize()
    if user is not None:
        who, loses = user.qualified_name, f"{user.qualified_name} will lose"
    else:
        who = f"the group {group.name if group else perm.group_id}"
        loses = f"Members of {who} will lose"
    return Confirmation(
        title=f"Remove the permission of {who} on {path}?",
        lines=(
            f"{loses} {level} access to {path}, unless another permission (for "
            "example through a group) grants it.",
            "Their phones remove the list's records on their next sync.",
        ),
        action=f"/lists/{plist.id}/permissions/{perm.id}/revoke",
        button="Remove permission",
        cancel=f"/lists/{plist.id}/permissions",
        refusal=LAST_ADMIN_MESSAGE if _is_last_admin(session, plist, perm) else None,
    )


@router.get("/lists/{list_id}/permissions/{perm_id}/revoke")
def revoke_confirm(
    request: Request,
    list_id: str,
    perm_id: str,
    ctx: WebContext = Depends(web_context),
) -> Response:
    """Ask before removing a permission (or say why it cannot be removed)."""
    with ctx.db() as session:
        plist, perm = _permission_of(session, list_id, perm_id)
        ensure_list_admin(session, ctx, plist.id)
        confirmation = _revoke_confirmation(session, plist, perm)
    return confirm_page(request, confirmation)


@router.post("/lists/{list_id}/permissions/{perm_id}/revoke")
def revoke_permission(
    request: Request,
    list_id: str,
    perm_id: str,
    ctx: WebContext = Depends(web_context),
    data: FormData = Depends(form_data),
) -> Response:
    """Remove one permission, once confirmed; never the list's last Admin one."""
    if not confirmed(data):
        return revoke_confirm(request, list_id, perm_id, ctx)
    with ctx.db() as session:
        plist, perm = _permission_of(session, list_id, perm_id)
        ensure_list_admin(session, ctx, plist.id)
        confirmation = _revoke_confirmation(session, plist, perm)
        if confirmation.refusal is None:
            user, group = _grantees_of(session, perm)
            vault.revoke(session, ctx.actor, plist, user=user, group=group)
            set_flash(ctx, session, "Permission removed.")
    if confirmation.refusal is not None:
        return confirm_page(request, confirmation, status=422)
    return see_other(f"/lists/{list_id}/permissions")


def _is_last_admin(session: Session, plist: PasswordList, perm: Permission) -> bool:
    """Tell whether `perm` is the only Admin permission on the list."""
    if Level(perm.level) < Level.ADMIN:
        return False
    admins = [g for g in vault.grants_on(session, plist) if g.level >= Level.ADMIN]
    return len(admins) <= 1
