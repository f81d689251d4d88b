"""`/api/v1/lists`: password lists (reads need a permission on the list)."""

from fastapi import status
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from strongroom.server.vault import service as vault
from strongroom.server.vault.models import Level, PasswordList, Record
from strongroom.server.web.api.common import Limit, Offset, PathId, api_router, page_of
from strongroom.server.web.api.context import Context
from strongroom.server.web.api.schemas import Deleted, ListCreate, ListOut, Page

router = api_router(prefix="/lists", tags=["lists"])


def _out(session: Session, plist: PasswordList) -> ListOut:
    records = session.scalar(
        select(func.count()).select_from(Record).where(Record.list_id == plist.id)
    )
    folder = "/".join(vault.folder_path(session, plist.folder_id))
    return ListOut(
        id=plist.id,
        name=plist.name,
        path=f"{folder}/{plist.name}" if folder else plist.name,
        folder_path=folder,
        description=plist.description,
        records=int(records or 0),
    )


@router.get("", response_model=Page[ListOut], summary="List password lists")
def list_lists(ctx: Context, limit: Limit = 100, offset: Offset = 0) -> Page[ListOut]:
    """The lists the key's user holds a permission on (and the key may touch)."""
    with ctx.session() as session:
        summaries = [
            ListOut(
                id=s.id,
                name=s.name,
                path=s.path,
                folder_path=s.folder_path,
                description=s.description,
                records=s.records,
            )
            for s in vault.list_summaries(session, ctx.actor)
            if ctx.principal.allows_list(s.id)
        ]
        return page_of(summaries, limit, offset)


@router.post(
    "",
    response_model=ListOut,
    status_code=status.HTTP_201_CREATED,
    summary="Create a password list",
)
def create_list(ctx: Context, body: ListCreate) -> ListOut:
    """Create a list at `path`; the key's user gets Admin on it (vault rule)."""
    ctx.require_admin()
    with ctx.session() as session:
        plist = vault.create_list(
            session,
            ctx.actor,
            body.path,
            description=body.description,
            create_folders=body.create_folders,
        )
        return _out(session, plist)


@router.get("/{list_id}", response_model=ListOut, summary="Read a password list")
def get_list(ctx: Context, list_id: PathId) -> ListOut:
    """One list (View needed)."""
    ctx.require_list(list_id)
    with ctx.session() as session:
        plist = vault.get_list(session, list_id)
        vault.require_level(session, ctx.actor, plist.id, Level.VIEW)
        return _out(session, plist)


@router.delete("/{list_id}", response_model=Deleted, summary="Delete a password list")
def delete_list(ctx: Context, list_id: PathId) -> Deleted:
    """Delete a list with its records (a system-wide key; Admin on the list)."""
    ctx.require_permission_admin(list_id)
    with ctx.session() as session:
        removed = vault.delete_list(
            session, ctx.actor, vault.get_list(session, list_id)
        )
    return Deleted(id=list_id, records=removed)
