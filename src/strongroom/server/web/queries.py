"""Read-only queries shaped for pages: the vault tree and a page of records.

Paging, search and sort happen in SQL so a list of 10,000 records costs one
COUNT and one LIMIT/OFFSET query per page, never a Python loop over the list.
"""

import datetime
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, case, func, literal, or_, select
from sqlalchemy.orm import Session

from strongroom.server.accounts.models import GroupMember
from strongroom.server.vault.models import (
    Folder,
    Level,
    PasswordList,
    Permission,
    Record,
)

PAGE_SIZE = 50
SORTS = {
    "title": "Title",
    "username": "User name",
    "url": "URL",
    "updated": "Updated",
}


def _grants_of(user_id: str) -> ColumnElement[bool]:
    return or_(
        Permission.user_id == user_id,
        Permission.group_id.in_(
            select(GroupMember.group_id).where(GroupMember.user_id == user_id)
        ),
    )


def levels_of(session: Session, user_id: str) -> dict[str, Level]:
    """The highest level `user_id` holds on each list, directly or via groups."""
    rows = session.execute(
        select(Permission.list_id, func.max(Permission.level))
        .where(_grants_of(user_id))
        .group_by(Permission.list_id)
    ).all()
    return {str(list_id): Level(int(level)) for list_id, level in rows}


@dataclass
class ListNode:
    """A password list as the tree shows it."""

    id: str
    name: str
    description: str
    records: int
    level: Level | None


@dataclass
class FolderNode:
    """A folder with its sub-folders and lists."""

    id: str | None
    name: str
    folders: list["FolderNode"] = field(default_factory=list)
    lists: list[ListNode] = field(default_factory=list)

    def is_empty(self) -> bool:
        """True when neither it nor any sub-folder holds a list."""
        return not self.lists and all(f.is_empty() for f in self.folders)


def vault_tree(session: Session, user_id: str, *, everything: bool) -> FolderNode:
    """The folders and lists a user may see; with `everything`, all of them.

    Administrators see every list (to manage it) but only lists they hold a
    permission on show records; the tree marks the others with no level.
    """
    levels = levels_of(session, user_id)
    counts = dict(
        session.execute(
            select(Record.list_id, func.count()).group_by(Record.list_id)
        ).all()
    )
    root = FolderNode(id=None, name="")
    nodes: dict[str | None, FolderNode] = {None: root}
    folders = list(session.scalars(select(Folder).order_by(func.lower(Folder.name))))
    for folder in folders:
        nodes[folder.id] = FolderNode(id=folder.id, name=folder.name)
    for folder in folders:
        nodes.get(folder.parent_id, root).folders.append(nodes[folder.id])

    lists = session.scalars(
        select(PasswordList).order_by(func.lower(PasswordList.name))
    )
    for plist in lists:
        level = levels.get(plist.id)
        if level is None and not everything:
            continue
        nodes.get(plist.folder_id, root).lists.append(
            ListNode(
                id=plist.id,
                name=plist.name,
                description=plist.description,
                records=int(counts.get(plist.id, 0)),
                level=level,
            )
        )
    if not everything:
        _prune(root)
    return root


def _prune(node: FolderNode) -> None:
    node.folders = [f for f in node.folders if not f.is_empty()]
    for child in node.folders:
        _prune(child)


@dataclass(frozen=True)
class RecordRow:
    """One line of a list page: no secret, only whether there is one."""

    id: str
    title: str
    username: str
    url: str
    description: str
    updated_at: datetime.datetime
    has_password: bool
    has_otp: bool


@dataclass(frozen=True)
class RecordPage:
    """One page of a list's records with the totals the pager needs."""

    rows: list[RecordRow]
    total: int
    page: int
    pages: int


def _like(text: str) -> str:
    escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _contains(column: Any, pattern: str, sqlite: bool) -> ColumnElement[bool]:
    # SQLite's LIKE already ignores ASCII case (its lower() folds only ASCII
    # too), so no function runs per row there; PostgreSQL has ILIKE.
    if sqlite:
        return column.like(pattern, escape="\\")  # type: ignore[no-any-return]
    return column.ilike(pattern, escape="\\")  # type: ignore[no-any-return]


def _conditions(list_id: str, q: str, sqlite: bool) -> list[ColumnElement[bool]]:
    found: list[ColumnElement[bool]] = [Record.list_id == list_id]
    if q:
        pattern = _like(q)
        found.append(
            or_(
                *(
                    _contains(column, pattern, sqlite)
                    for column in (
                        Record.title,
                        Record.username,
                        Record.url,
                        Record.description,
                    )
                )
            )
        )
    return found


_ORDER_KEYS: dict[str, Any] = {
    "title": func.lower(Record.title),
    "username": func.lower(Record.username),
    "url": func.lower(Record.url),
    "updated": Record.updated_at,
}


def record_page(
    session: Session,
    list_id: str,
    *,
    q: str = "",
    sort: str = "title",
    descending: bool = False,
    page: int = 1,
    page_size: int = PAGE_SIZE,
) -> RecordPage:
    """One page of a list's records, searched and sorted in SQL.

    Without a search the count comes from the list's index and the page from
    walking a (list, sort key, id) index. A search must read every record of
    the list anyway, so it counts in the same pass with a window function.
    """
    sqlite = session.get_bind().dialect.name == "sqlite"
    where = _conditions(list_id, q, sqlite)
    order = _ORDER_KEYS.get(sort, _ORDER_KEYS["title"])
    stmt = select(
        Record.id,
        Record.title,
        Record.username,
        Record.url,
        Record.description,
        Record.updated_at,
        Record.password_sealed.is_not(None),
        Record.otp_sealed.is_not(None),
        func.count().over() if q else literal(0),
    ).where(*where)
    # Both keys in the same direction, matching the (list, key, id) indexes.
    if descending:
        stmt = stmt.order_by(order.desc(), Record.id.desc())
    else:
        stmt = stmt.order_by(order.asc(), Record.id.asc())

    page = max(page, 1)
    total: int | None = None
    if not q:
        total = int(session.scalar(select(func.count(Record.id)).where(*where)) or 0)
        page = min(page, max(1, -(-total // page_size)))
    rows = session.execute(stmt.offset((page - 1) * page_size).limit(page_size)).all()
    if q and rows:
        total = int(rows[0][8])
    elif q and page == 1:
        total = 0
    if total is None:
        # A search past its last page: count, then show the last page there is.
        total = int(session.scalar(select(func.count(Record.id)).where(*where)) or 0)
        last = max(1, -(-total // page_size))
        if page > last:
            page = last
            rows = session.execute(
                stmt.offset((page - 1) * page_size).limit(page_size)
            ).all()
    pages = max(1, -(-total // page_size))
    return RecordPage(
        rows=[
            RecordRow(
                id=r[0],
                title=r[1],
                username=r[2],
                url=r[3],
                description=r[4],
                updated_at=r[5],
                has_password=bool(r[6]),
                has_otp=bool(r[7]),
            )
            for r in rows
        ],
        total=total,
        page=page,
        pages=pages,
    )


@dataclass(frozen=True)
class ListChoice:
    """A list as bulk pages offer it: its path and how many permissions it has."""

    id: str
    path: str
    permissions: int
    mobile_on: int


def all_lists(session: Session) -> list[ListChoice]:
    """Every list with its full path and permission counts, by path.

    For administrators' management pages: names and counts only, no records.
    """
    folders = {f.id: f for f in session.scalars(select(Folder))}
    paths: dict[str, str] = {}

    def path_of(folder_id: str) -> str:
        if folder_id not in paths:
            folder = folders[folder_id]
            parent = path_of(folder.parent_id) if folder.parent_id in folders else ""
            paths[folder_id] = f"{parent}/{folder.name}" if parent else folder.name
        return paths[folder_id]

    counts = {
        str(list_id): (int(total), int(on or 0))
        for list_id, total, on in session.execute(
            select(
                Permission.list_id,
                func.count(),
                func.sum(case((Permission.mobile_access.is_(True), 1), else_=0)),
            ).group_by(Permission.list_id)
        ).all()
    }
    out = []
    for plist in session.scalars(select(PasswordList)):
        prefix = path_of(plist.folder_id) if plist.folder_id in folders else ""
        total, on = counts.get(plist.id, (0, 0))
        out.append(
            ListChoice(
                id=plist.id,
                path=f"{prefix}/{plist.name}" if prefix else plist.name,
                permissions=total,
                mobile_on=on,
            )
        )
    return sorted(out, key=lambda c: c.path.lower())
