"""`/api/v1/folders`: the folder tree (administrators' system-wide keys).

Other keys learn the folders of the lists they may see from each list's path;
the whole tree would show them the names of folders they have no business in.
"""

from fastapi import status
from sqlalchemy import select
from sqlalchemy.orm import Session

from strongroom.server.core.errors import NotFound
from strongroom.server.vault import service as vault
from strongroom.server.vault.models import Folder
from strongroom.server.web.api.common import Limit, Offset, PathId, api_router, page_of
from strongroom.server.web.api.context import Context
from strongroom.server.web.api.schemas import (
    Deleted,
    FolderCreate,
    FolderOut,
    FolderRename,
    Page,
)

router = api_router(prefix="/folders", tags=["folders"])


def _all_folders(session: Session) -> list[FolderOut]:
    rows = {f.id: f for f in session.scalars(select(Folder))}
    paths: dict[str, str] = {}

    def path_of(folder_id: str) -> str:
        # Walk up once per folder and remember, so the tree costs one query.
        if folder_id not in paths:
            folder = rows[folder_id]
            parent = path_of(folder.parent_id) if folder.parent_id in rows else ""
            paths[folder_id] = f"{parent}/{folder.name}" if parent else folder.name
        return paths[folder_id]

    out = [
        FolderOut(id=f.id, name=f.name, parent_id=f.parent_id, path=path_of(f.id))
        for f in rows.values()
    ]
    return sorted(out, key=lambda f: f.path.lower())


def _folder(session: Session, folder_id: str) -> Folder:
    folder = session.get(Folder, folder_id)
    if folder is None:
        raise NotFound("that folder does not exist")
    return folder


def _out(session: Session, folder: Folder) -> FolderOut:
    path = "/".join(vault.folder_path(session, folder.id))
    return FolderOut(
        id=folder.id, name=folder.name, parent_id=folder.parent_id, path=path
    )


@router.get("", response_model=Page[FolderOut], summary="List folders")
def list_folders(
    ctx: Context, limit: Limit = 100, offset: Offset = 0
) -> Page[FolderOut]:
    """Every folder with its path, ordered by path."""
    ctx.require_admin()
    with ctx.session() as session:
        return page_of(_all_folders(session), limit, offset)


@router.post(
    "",
    response_model=FolderOut,
    status_code=status.HTTP_201_CREATED,
    summary="Create a folder",
)
def create_folder(ctx: Context, body: FolderCreate) -> FolderOut:
    """Create the folder at `path`; its parents must exist unless `create_parents`."""
    ctx.require_admin()
    with ctx.session() as session:
        folder = vault.create_folder(
            session, ctx.actor, body.path, exist_ok=body.create_parents
        )
        return _out(session, folder)


@router.get("/{folder_id}", response_model=FolderOut, summary="Read a folder")
def get_folder(ctx: Context, folder_id: PathId) -> FolderOut:
    """One folder and its path."""
    ctx.require_admin()
    with ctx.session() as session:
        return _out(session, _folder(session, folder_id))


@router.patch("/{folder_id}", response_model=FolderOut, summary="Rename a folder")
def rename_folder(ctx: Context, folder_id: PathId, body: FolderRename) -> FolderOut:
    """Give a folder a new name (phones see the new path on their next sync)."""
    ctx.require_admin()
    with ctx.session() as session:
        folder = _folder(session, folder_id)
        vault.rename_folder(session, ctx.actor, folder, body.name)
        return _out(session, folder)


@router.delete("/{folder_id}", response_model=Deleted, summary="Delete a folder")
def delete_folder(ctx: Context, folder_id: PathId) -> Deleted:
    """Delete an empty folder (one holding lists or folders is refused)."""
    ctx.require_admin()
    with ctx.session() as session:
        vault.delete_folder(session, ctx.actor, _folder(session, folder_id))
    return Deleted(id=folder_id)
