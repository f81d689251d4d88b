"""`/api/v1/groups`: security groups and members (administrators only)."""

from fastapi import status
from sqlalchemy.orm import Session

from strongroom.server.accounts import service as accounts
from strongroom.server.accounts.models import Group
from strongroom.server.core.errors import NotFound
from strongroom.server.web.api.common import Limit, Offset, PathId, api_router, page_of
from strongroom.server.web.api.context import Context
from strongroom.server.web.api.schemas import (
    GroupCreate,
    GroupDetail,
    GroupOut,
    Page,
    UserRef,
)

router = api_router(prefix="/groups", tags=["groups"])


def _group(session: Session, group_id: str) -> Group:
    group = session.get(Group, group_id)
    if group is None:
        raise NotFound("that group does not exist")
    return group


def _detail(session: Session, group: Group) -> GroupDetail:
    members = [
        UserRef(id=u.id, name=u.qualified_name)
        for u in accounts.members(session, group)
    ]
    return GroupDetail(
        id=group.id,
        name=group.name,
        description=group.description,
        member_count=len(members),
        members=members,
    )


@router.get("", response_model=Page[GroupOut], summary="List groups")
def list_groups(ctx: Context, limit: Limit = 100, offset: Offset = 0) -> Page[GroupOut]:
    """Every group with its member count, by name."""
    ctx.require_admin()
    with ctx.session() as session:
        groups = [
            GroupOut(
                id=g.id, name=g.name, description=g.description, member_count=count
            )
            for g, count in accounts.list_groups(session)
        ]
        return page_of(groups, limit, offset)


@router.post(
    "",
    response_model=GroupDetail,
    status_code=status.HTTP_201_CREATED,
    summary="Create a group",
)
def create_group(ctx: Context, body: GroupCreate) -> GroupDetail:
    """Create an empty security group with a unique name."""
    ctx.require_admin()
    with ctx.session() as session:
        group = accounts.create_group(session, ctx.actor, body.name, body.description)
        return _detail(session, group)


@router.get("/{group_id}", response_model=GroupDetail, summary="Read a group")
def get_group(ctx: Context, group_id: PathId) -> GroupDetail:
    """One group with its members."""
    ctx.require_admin()
    with ctx.session() as session:
        return _detail(session, _group(session, group_id))


@router.put(
    "/{group_id}/members/{user_id}",
    response_model=GroupDetail,
    summary="Add a member",
)
def add_member(ctx: Context, group_id: PathId, user_id: PathId) -> GroupDetail:
    """Add a user to the group (nothing changes if already a member)."""
    ctx.require_admin()
    with ctx.session() as session:
        group = _group(session, group_id)
        accounts.add_member(
            session, ctx.actor, group, accounts.get_user(session, user_id)
        )
        return _detail(session, group)


@router.delete(
    "/{group_id}/members/{user_id}",
    response_model=GroupDetail,
    summary="Remove a member",
)
def remove_member(ctx: Context, group_id: PathId, user_id: PathId) -> GroupDetail:
    """Remove a user from the group; 404 when they were not a member."""
    ctx.require_admin()
    with ctx.session() as session:
        group = _group(session, group_id)
        user = accounts.get_user(session, user_id)
        if not accounts.remove_member(session, ctx.actor, group, user):
            raise NotFound(f"{user.qualified_name} is not a member of {group.name}")
        return _detail(session, group)
