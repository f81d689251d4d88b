"""`/api/v1/users`: accounts (system-wide keys of administrators only)."""

from fastapi import status

from strongroom.server.accounts import service as accounts
from strongroom.server.accounts.models import User
from strongroom.server.web.api.common import Limit, Offset, PathId, api_router, page_of
from strongroom.server.web.api.context import Context
from strongroom.server.web.api.schemas import Page, UserCreate, UserOut, UserUpdate

router = api_router(prefix="/users", tags=["users"])


def user_out(user: User) -> UserOut:
    """The API view of a user (never a hash or secret)."""
    return UserOut(
        id=user.id,
        name=user.qualified_name,
        login_name=user.login_name,
        domain=user.domain,
        display_name=user.display_name,
        email=user.email,
        is_admin=user.is_admin,
        active=user.active,
        offline_ttl_days=user.offline_ttl_days,
        created_at=user.created_at,
    )


@router.get("", response_model=Page[UserOut], summary="List users")
def list_users(ctx: Context, limit: Limit = 100, offset: Offset = 0) -> Page[UserOut]:
    """Every user, by domain and login name."""
    ctx.require_admin()
    with ctx.session() as session:
        users = [user_out(u) for u in accounts.list_users(session)]
        return page_of(users, limit, offset)


@router.post(
    "",
    response_model=UserOut,
    status_code=status.HTTP_201_CREATED,
    summary="Create a user",
)
def create_user(ctx: Context, body: UserCreate) -> UserOut:
    """Create an active local user (or `DOMAIN\\name` for a directory account)."""
    ctx.require_admin()
    with ctx.session() as session:
        user = accounts.create_user(
            session,
            ctx.actor,
            body.name,
            password=body.password,
            display_name=body.display_name,
            email=body.email,
            is_admin=body.is_admin,
        )
        return user_out(user)


@router.get("/{user_id}", response_model=UserOut, summary="Read a user")
def get_user(ctx: Context, user_id: PathId) -> UserOut:
    """One user."""
    ctx.require_admin()
    with ctx.session() as session:
        return user_out(accounts.get_user(session, user_id))


@router.patch("/{user_id}", response_model=UserOut, summary="Change a user")
def update_user(ctx: Context, user_id: PathId, body: UserUpdate) -> UserOut:
    """Enable or disable a user, and/or set a new web password."""
    ctx.require_admin()
    with ctx.session() as session:
        user = accounts.get_user(session, user_id)
        if body.password is not None:
            accounts.set_password(session, ctx.actor, user, body.password)
        if body.active is not None:
            accounts.set_active(session, ctx.actor, user, body.active)
        return user_out(user)
