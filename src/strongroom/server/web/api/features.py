"""`/api/v1/features/{feature}/grants`: Feature Access (administrators only)."""

from typing import Annotated

from fastapi import Path, Response, status
from sqlalchemy.orm import Session

from strongroom.server.accounts import service as accounts
from strongroom.server.accounts.models import FeatureAccess, Group, User
from strongroom.server.core.errors import NotFound
from strongroom.server.web.api.common import Limit, Offset, PathId, api_router, page_of
from strongroom.server.web.api.context import Context
from strongroom.server.web.api.permissions import grantee
from strongroom.server.web.api.schemas import (
    Deleted,
    Feature,
    FeatureGrantCreate,
    FeatureGrantOut,
    Page,
)

router = api_router(prefix="/features", tags=["feature access"])

FeatureName = Annotated[
    Feature, Path(description="The feature; `mobile` is the Mobile App.")
]


def _out(session: Session, row: FeatureAccess) -> FeatureGrantOut:
    if row.user_id is not None:
        user = session.get(User, row.user_id)
        kind, gid, name = "user", row.user_id, user.qualified_name if user else ""
    else:
        group = session.get(Group, row.group_id)
        kind, gid, name = "group", row.group_id or "", group.name if group else ""
    return FeatureGrantOut(
        id=row.id,
        feature="mobile",
        grantee_kind="user" if kind == "user" else "group",
        grantee_id=gid,
        grantee_name=name,
    )


def _find(
    session: Session, feature: str, user: User | None, group: Group | None
) -> FeatureAccess | None:
    for row in accounts.feature_grants(session, feature):
        if (user and row.user_id == user.id) or (group and row.group_id == group.id):
            return row
    return None


@router.get(
    "/{feature}/grants",
    response_model=Page[FeatureGrantOut],
    summary="Who holds a feature",
)
def list_grants(
    ctx: Context, feature: FeatureName, limit: Limit = 100, offset: Offset = 0
) -> Page[FeatureGrantOut]:
    """The users and groups holding the feature, by kind and name."""
    ctx.require_admin()
    with ctx.session() as session:
        rows = [_out(session, r) for r in accounts.feature_grants(session, feature)]
        rows.sort(key=lambda r: (r.grantee_kind, r.grantee_name.lower()))
        return page_of(rows, limit, offset)


@router.post(
    "/{feature}/grants",
    response_model=FeatureGrantOut,
    status_code=status.HTTP_201_CREATED,
    responses={200: {"model": FeatureGrantOut, "description": "Already granted"}},
    summary="Grant a feature",
)
def grant_feature(
    ctx: Context, feature: FeatureName, body: FeatureGrantCreate, response: Response
) -> FeatureGrantOut:
    """Grant the feature to a user or a group (200 when already granted)."""
    ctx.require_admin()
    with ctx.session() as session:
        user, group = grantee(session, body.user_id, body.group_id)
        if not accounts.grant_feature(
            session, ctx.actor, feature, user=user, group=group
        ):
            response.status_code = status.HTTP_200_OK
        row = _find(session, feature, user, group)
        if row is None:  # just granted or found above; absent only on a race
            raise NotFound("the grant vanished while it was being made")
        return _out(session, row)


@router.delete(
    "/{feature}/grants/{grant_id}",
    response_model=Deleted,
    summary="Take a feature back",
)
def revoke_grant(ctx: Context, feature: FeatureName, grant_id: PathId) -> Deleted:
    """Take the feature back from the grant's user or group."""
    ctx.require_admin()
    with ctx.session() as session:
        row = session.get(FeatureAccess, grant_id)
        if row is None or row.feature != feature:
            raise NotFound("that feature grant does not exist")
        user, group = grantee(session, row.user_id, row.group_id)
        accounts.revoke_feature(session, ctx.actor, feature, user=user, group=group)
    return Deleted(id=grant_id)
