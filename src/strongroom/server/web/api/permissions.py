"""A list's permissions grid with the Mobile Access flag, and the bulk switch."""

from typing import cast

from fastapi import Response, status
from sqlalchemy import select
from sqlalchemy.orm import Session

from strongroom.server.accounts import service as accounts
from strongroom.server.accounts.models import Group, User
from strongroom.server.core.errors import NotFound, ValidationError
from strongroom.server.vault import service as vault
from strongroom.server.vault.models import Level, PasswordList, Permission
from strongroom.server.web.api.common import Limit, Offset, PathId, api_router, page_of
from strongroom.server.web.api.context import Context
from strongroom.server.web.api.schemas import (
    Deleted,
    LevelName,
    MobileAccessBulk,
    MobileAccessBulkOut,
    Page,
    PermissionCreate,
    PermissionOut,
    PermissionUpdate,
)

router = api_router(tags=["permissions"])


def _out(grant: vault.Grant) -> PermissionOut:
    return PermissionOut(
        id=grant.id,
        list_id=grant.list_id,
        grantee_kind="user" if grant.grantee_kind == "user" else "group",
        grantee_id=grant.grantee_id,
        grantee_name=grant.grantee_name,
        level=cast(LevelName, grant.level.label),
        mobile_access=grant.mobile_access,
    )


def _grant_out(session: Session, plist: PasswordList, perm_id: str) -> PermissionOut:
    for grant in vault.grants_on(session, plist):
        if grant.id == perm_id:
            return _out(grant)
    raise NotFound("that permission does not exist")


def _unchanged(grant: vault.Grant, level: Level, mobile_access: bool | None) -> bool:
    return grant.level == level and mobile_access in (None, grant.mobile_access)


LAST_ADMIN_MESSAGE = "this is the last Admin permission of the list"
LAST_ADMIN_HINT = (
    "grant Admin to someone else first, or nobody but system administrators "
    "could manage the list"
)


def _refuse_last_admin(
    session: Session,
    plist: PasswordList,
    grantee_id: str,
    level: Level | None,
    field: str,
) -> None:
    """Refuse to lower (or, with `level` None, remove) the list's only Admin
    permission, as the web UI does: it would strand the list."""
    if level is not None and level >= Level.ADMIN:
        return
    admins = [g for g in vault.grants_on(session, plist) if g.level >= Level.ADMIN]
    if [g.grantee_id for g in admins] == [grantee_id]:
        raise ValidationError(field, LAST_ADMIN_MESSAGE, hint=LAST_ADMIN_HINT)


def grantee(
    session: Session, user_id: str | None, group_id: str | None
) -> tuple[User | None, Group | None]:
    """Look up exactly one of a user or a group by id; errors name the field."""
    if (user_id is None) == (group_id is None):
        raise ValidationError(
            "user_id", "give exactly one of user_id or group_id", hint="not both"
        )
    if user_id is not None:
        return accounts.get_user(session, user_id), None
    group = session.get(Group, group_id)
    if group is None:
        raise NotFound("that group does not exist")
    return None, group


def _permission(session: Session, plist: PasswordList, perm_id: str) -> Permission:
    perm = session.scalar(
        select(Permission).where(
            Permission.id == perm_id, Permission.list_id == plist.id
        )
    )
    if perm is None:
        raise NotFound("that permission does not exist on this list")
    return perm


def _grantee_id(perm: Permission) -> str:
    return str(perm.user_id or perm.group_id)


@router.get(
    "/lists/{list_id}/permissions",
    response_model=Page[PermissionOut],
    summary="A list's permissions",
)
def list_permissions(
    ctx: Context, list_id: PathId, limit: Limit = 100, offset: Offset = 0
) -> Page[PermissionOut]:
    """Who holds which level on the list, with the Mobile Access flag (Admin on
    the list needed)."""
    ctx.require_list(list_id)
    with ctx.session() as session:
        plist = vault.get_list(session, list_id)
        vault.require_level(session, ctx.actor, plist.id, Level.ADMIN)
        grants = [_out(g) for g in vault.grants_on(session, plist)]
        return page_of(grants, limit, offset)


@router.post(
    "/lists/{list_id}/permissions",
    response_model=PermissionOut,
    status_code=status.HTTP_201_CREATED,
    responses={
        200: {"model": PermissionOut, "description": "An existing grant changed"}
    },
    summary="Grant a permission",
)
def grant_permission(
    ctx: Context, list_id: PathId, body: PermissionCreate, response: Response
) -> PermissionOut:
    """Grant a level to a user or group (Admin on the list needed).

    A new permission takes its Mobile Access flag from `mobile_access`, or from
    the system setting when that is left out. Granting to someone who already
    holds a permission changes it and answers 200.
    """
    ctx.require_permission_admin(list_id)
    with ctx.session() as session:
        plist = vault.get_list(session, list_id)
        vault.require_list_admin(session, ctx.actor, plist.id)
        user, group = grantee(session, body.user_id, body.group_id)
        wanted = user.id if user else group.id  # type: ignore[union-attr]
        level = vault.parse_level(body.level)
        existing = next(
            (g for g in vault.grants_on(session, plist) if g.grantee_id == wanted),
            None,
        )
        if existing is not None:
            response.status_code = status.HTTP_200_OK
            if _unchanged(existing, level, body.mobile_access):
                # Nothing to change: no version bump, no audit event.
                return _out(existing)
            _refuse_last_admin(session, plist, wanted, level, "level")
        perm = vault.grant(
            session,
            ctx.actor,
            plist,
            level,
            user=user,
            group=group,
            mobile_access=body.mobile_access,
        )
        return _grant_out(session, plist, perm.id)


@router.patch(
    "/lists/{list_id}/permissions/{permission_id}",
    response_model=PermissionOut,
    summary="Change a permission or its Mobile Access flag",
)
def update_permission(
    ctx: Context, list_id: PathId, permission_id: PathId, body: PermissionUpdate
) -> PermissionOut:
    """Change the level and/or the Mobile Access flag of one row of the grid."""
    ctx.require_permission_admin(list_id)
    with ctx.session() as session:
        plist = vault.get_list(session, list_id)
        vault.require_list_admin(session, ctx.actor, plist.id)
        perm = _permission(session, plist, permission_id)
        level = vault.parse_level(body.level) if body.level else Level(perm.level)
        if level == Level(perm.level) and body.mobile_access in (
            None,
            perm.mobile_access,
        ):
            # A no-op PATCH changes nothing: no version bump, no audit event.
            return _grant_out(session, plist, perm.id)
        user, group = grantee(session, perm.user_id, perm.group_id)
        _refuse_last_admin(session, plist, _grantee_id(perm), level, "level")
        vault.grant(
            session,
            ctx.actor,
            plist,
            level,
            user=user,
            group=group,
            mobile_access=body.mobile_access,
        )
        return _grant_out(session, plist, perm.id)


@router.delete(
    "/lists/{list_id}/permissions/{permission_id}",
    response_model=Deleted,
    summary="Revoke a permission",
)
def revoke_permission(ctx: Context, list_id: PathId, permission_id: PathId) -> Deleted:
    """Remove one row of the grid (Admin on the list needed)."""
    ctx.require_permission_admin(list_id)
    with ctx.session() as session:
        plist = vault.get_list(session, list_id)
        vault.require_list_admin(session, ctx.actor, plist.id)
        perm = _permission(session, plist, permission_id)
        user, group = grantee(session, perm.user_id, perm.group_id)
        _refuse_last_admin(session, plist, _grantee_id(perm), None, "permission_id")
        vault.revoke(session, ctx.actor, plist, user=user, group=group)
    return Deleted(id=permission_id)


@router.post(
    "/permissions/mobile-access",
    response_model=MobileAccessBulkOut,
    summary="Set Mobile Access on many lists at once",
)
def bulk_mobile_access(ctx: Context, body: MobileAccessBulk) -> MobileAccessBulkOut:
    """Set the Mobile Access flag on every permission of the chosen lists (or of
    all lists when `list_ids` is null). With `dry_run`, only count the
    permissions that would change, for a confirmation (administrators only)."""
    ctx.require_admin()
    with ctx.session() as session:
        lists = (
            None
            if body.list_ids is None
            else [vault.get_list(session, lid) for lid in dict.fromkeys(body.list_ids)]
        )
        if body.dry_run:
            changed = vault.count_mobile_access_changes(session, body.value, lists)
        else:
            changed = vault.set_mobile_access(
                session, ctx.actor, body.value, lists=lists
            )
        return MobileAccessBulkOut(changed=changed, dry_run=body.dry_run)
