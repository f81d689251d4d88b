"""Folders, password lists, records and permissions, with the rules of who may
see what, and the query of what may travel to a user's phone.

Every write bumps the `records` change counter into the row's `version` so
that phones can ask for "everything above N"; every change of who may see what
bumps the `access` counter.
"""

import datetime
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import ColumnElement, Select, and_, delete, func, or_, select, update
from sqlalchemy.orm import Session

from strongroom.server.accounts.models import (
    FEATURE_MOBILE,
    Group,
    GroupMember,
    User,
)
from strongroom.server.accounts.service import (
    has_control_characters,
    has_feature_clause,
)
from strongroom.server.audit import service as audit
from strongroom.server.core import counters
from strongroom.server.core.actor import Actor
from strongroom.server.core.db import folded, utcnow
from strongroom.server.core.errors import (
    AlreadyExists,
    NotFound,
    PermissionDenied,
    ValidationError,
)
from strongroom.server.core.keys import FieldCipher
from strongroom.server.settings import service as settings
from strongroom.server.vault.models import (
    DESCRIPTION_MAX,
    FOLDER_NAME_MAX,
    LIST_NAME_MAX,
    TITLE_MAX,
    URL_MAX,
    USERNAME_MAX,
    Folder,
    Level,
    PasswordList,
    Permission,
    Record,
    RecordField,
    Tombstone,
)

log = logging.getLogger(__name__)

PATH_SEPARATOR = "/"


# --- names and paths -------------------------------------------------------


def _check_text(
    field_name: str,
    value: str,
    limit: int,
    *,
    required: bool,
    single_line: bool = True,
) -> str:
    if required and not value.strip():
        raise ValidationError(field_name, f"the {field_name} must not be empty")
    if len(value) > limit:
        raise ValidationError(
            field_name,
            f"the {field_name} has {len(value)} characters; the limit is {limit}",
            hint=f"shorten the {field_name}",
        )
    if single_line and has_control_characters(value):
        # Escapes and bidi overrides in a title or name can spoof what people
        # read in the web UI or a terminal; multi-line fields keep newlines.
        raise ValidationError(
            field_name,
            f"the {field_name} contains control or invisible formatting characters",
            hint="remove line breaks, tabs and other invisible characters",
        )
    return value


def _check_segment(field_name: str, name: str, limit: int) -> str:
    name = name.strip()
    _check_text(field_name, name, limit, required=True)
    if PATH_SEPARATOR in name:
        raise ValidationError(field_name, f"the {field_name} must not contain '/'")
    return name


# Folder and list names, like user and group names, are unique in their folder
# regardless of case: "Bank" beside "bank" reads as one list in the web UI and
# a grant meant for one would land on the other. Lookups ignore case too (an
# exact match wins where older data holds both spellings).
# TODO: the rule is checked here only; no unique index backs it, so two
# PostgreSQL transactions creating the same name at the same moment can both
# succeed (SQLite's single writer cannot). It needs a migration adding unique
# indexes on (parent, lower(name)) that treat the top level as one parent.


def _as_spelled(stored: str, asked: str) -> str:
    """The clause that explains a clash only in letter case."""
    if stored == asked:
        return ""
    return f" as {stored!r} (names are compared ignoring case)"


def split_path(path: str) -> list[str]:
    """Split `A/B/C` into its parts, ignoring empty ones."""
    return [part.strip() for part in path.split(PATH_SEPARATOR) if part.strip()]


def _child_folder(session: Session, parent_id: str | None, name: str) -> Folder | None:
    parent = (
        Folder.parent_id.is_(None)
        if parent_id is None
        else Folder.parent_id == parent_id
    )
    return session.scalar(
        select(Folder)
        .where(parent, folded(Folder.name) == folded(name))
        .order_by((Folder.name == name).desc())
        .limit(1)
    )


def find_folder(session: Session, path: str) -> Folder | None:
    """The folder at `path`, or None for the top level (empty path)."""
    folder: Folder | None = None
    for part in split_path(path):
        found = _child_folder(session, folder.id if folder else None, part)
        if found is None:
            raise NotFound(
                f"there is no folder {path!r}",
                hint="create it with `strongroom folder add`",
            )
        folder = found
    return folder


def folder_path(session: Session, folder_id: str | None) -> list[str]:
    """The names from the top level down to `folder_id`."""
    names: list[str] = []
    while folder_id is not None:
        folder = session.get(Folder, folder_id)
        if folder is None:
            break
        names.append(folder.name)
        folder_id = folder.parent_id
    return list(reversed(names))


def create_folder(
    session: Session, actor: Actor, path: str, *, exist_ok: bool = False
) -> Folder:
    """Create the folder at `path` (its parents must exist unless `exist_ok`)."""
    _require_admin(actor)
    parts = split_path(path)
    if not parts:
        raise ValidationError("path", "give the folder's path, e.g. Finance/Banking")
    parent: Folder | None = None
    for depth, raw in enumerate(parts):
        name = _check_segment("folder name", raw, FOLDER_NAME_MAX)
        existing = _child_folder(session, parent.id if parent else None, name)
        last = depth == len(parts) - 1
        if existing is not None and last and not exist_ok:
            raise AlreadyExists(
                f"a folder {path!r} already exists{_as_spelled(existing.name, name)}",
                hint="choose another name",
            )
        if existing is None:
            if not last and not exist_ok:
                raise NotFound(
                    f"the parent folder {PATH_SEPARATOR.join(parts[: depth + 1])!r} "
                    "does not exist",
                    hint="create the parent folders first",
                )
            existing = Folder(
                name=name,
                parent_id=parent.id if parent else None,
                version=counters.bump(session, counters.RECORDS),
            )
            session.add(existing)
            session.flush()
            audit.record(
                session,
                actor,
                "folder.created",
                target_type="folder",
                target_id=existing.id,
                target_name=name,
            )
        parent = existing
    if parent is None:  # unreachable: parts is non-empty
        raise ValidationError("path", "give the folder's path")
    return parent


def rename_folder(session: Session, actor: Actor, folder: Folder, name: str) -> None:
    """Rename a folder; phones see the new path on their next sync."""
    _require_admin(actor)
    name = _check_segment("folder name", name, FOLDER_NAME_MAX)
    clash = _child_folder(session, folder.parent_id, name)
    if clash is not None and clash.id != folder.id:
        raise AlreadyExists(
            f"a folder called {name!r} is already there{_as_spelled(clash.name, name)}",
            hint="choose another name",
        )
    old = folder.name
    folder.name = name
    folder.version = counters.bump(session, counters.RECORDS)
    audit.record(
        session,
        actor,
        "folder.renamed",
        target_type="folder",
        target_id=folder.id,
        target_name=name,
        details={"old": old},
    )


def delete_folder(session: Session, actor: Actor, folder: Folder) -> None:
    """Delete an empty folder; one holding lists or folders is refused."""
    _require_admin(actor)
    # Refusing instead of cascading: deleting a folder must never take lists
    # and their records with it by surprise.
    holds_folder = session.scalar(
        select(Folder.id).where(Folder.parent_id == folder.id).limit(1)
    )
    holds_list = session.scalar(
        select(PasswordList.id).where(PasswordList.folder_id == folder.id).limit(1)
    )
    if holds_folder or holds_list:
        raise ValidationError(
            "folder",
            f"the folder {folder.name!r} is not empty",
            hint="move or delete its lists and sub-folders first",
        )
    audit.record(
        session,
        actor,
        "folder.deleted",
        target_type="folder",
        target_id=folder.id,
        target_name=folder.name,
    )
    session.delete(folder)
    session.flush()


# --- lists -------------------------------------------------------------------


def _list_in(session: Session, folder_id: str | None, name: str) -> PasswordList | None:
    where = (
        PasswordList.folder_id.is_(None)
        if folder_id is None
        else PasswordList.folder_id == folder_id
    )
    return session.scalar(
        select(PasswordList)
        .where(where, folded(PasswordList.name) == folded(name))
        .order_by((PasswordList.name == name).desc())
        .limit(1)
    )


def find_list(session: Session, path: str) -> PasswordList:
    """The password list at `path` (`Folder/Sub/List`), or NotFound."""
    parts = split_path(path)
    if not parts:
        raise ValidationError("list", "give the list's path, e.g. Finance/Bank")
    missing = NotFound(
        f"there is no password list {path!r}",
        hint="`strongroom list list` shows the lists",
    )
    try:
        folder = (
            find_folder(session, PATH_SEPARATOR.join(parts[:-1]))
            if parts[:-1]
            else None
        )
    except NotFound:
        # The caller asked for a list: name the list, not a folder on its way.
        raise missing from None
    found = _list_in(session, folder.id if folder else None, parts[-1])
    if found is None:
        raise NotFound(
            f"there is no password list {path!r}",
            hint="`strongroom list list` shows the lists",
        )
    return found


def list_at(session: Session, folders: Sequence[str], name: str) -> PasswordList | None:
    """The list `name` inside the folder path `folders`, or None when either
    is missing (names compared ignoring case, as everywhere)."""
    parent: Folder | None = None
    for part in folders:
        parent = _child_folder(session, parent.id if parent else None, part)
        if parent is None:
            return None
    return _list_in(session, parent.id if parent else None, name)


def get_list(session: Session, list_id: str) -> PasswordList:
    """The list with this id, or NotFound."""
    found = session.get(PasswordList, list_id)
    if found is None:
        raise NotFound("that password list does not exist")
    return found


def list_path(session: Session, plist: PasswordList) -> str:
    """The full path of a list, `Folder/Sub/List`."""
    return PATH_SEPARATOR.join([*folder_path(session, plist.folder_id), plist.name])


def create_list(
    session: Session,
    actor: Actor,
    path: str,
    *,
    description: str = "",
    create_folders: bool = False,
) -> PasswordList:
    """Create a password list at `path`; its folder must exist unless asked."""
    _require_admin(actor)
    parts = split_path(path)
    if not parts:
        raise ValidationError("list", "give the list's path, e.g. Finance/Bank")
    name = _check_segment("list name", parts[-1], LIST_NAME_MAX)
    _check_text("description", description, DESCRIPTION_MAX, required=False)
    folder_part = PATH_SEPARATOR.join(parts[:-1])
    folder: Folder | None = None
    if folder_part:
        folder = (
            create_folder(session, actor, folder_part, exist_ok=True)
            if create_folders
            else find_folder(session, folder_part)
        )
    existing = _list_in(session, folder.id if folder else None, name)
    if existing is not None:
        raise AlreadyExists(
            f"a password list {path!r} already exists"
            f"{_as_spelled(existing.name, name)}",
            hint="choose another name or folder",
        )
    plist = PasswordList(
        name=name,
        folder_id=folder.id if folder else None,
        description=description,
        version=counters.bump(session, counters.RECORDS),
    )
    session.add(plist)
    session.flush()
    audit.record(
        session,
        actor,
        "list.created",
        target_type="list",
        target_id=plist.id,
        target_name=path,
        list_id=plist.id,
    )
    log.info("list_created list_id=%s", plist.id)
    _grant_creator(session, actor, plist)
    return plist


def _grant_creator(session: Session, actor: Actor, plist: PasswordList) -> None:
    # Administrators signed in as users do not bypass list permissions (only
    # the operator at the CLI does), so a list they create would stay closed
    # to them. As in the product our users come from, the creator gets Admin
    # on it; the Mobile Access flag follows the system default like any grant.
    if actor.operator or actor.user_id is None:
        return
    creator = session.get(User, actor.user_id)
    if creator is not None:
        grant(session, actor, plist, Level.ADMIN, user=creator)


def delete_list(session: Session, actor: Actor, plist: PasswordList) -> int:
    """Delete a list with its records; phones drop them on the next sync.

    Returns how many records went with it.
    """
    require_level(session, actor, plist.id, Level.ADMIN)
    version = counters.bump(session, counters.RECORDS)
    record_ids = list(
        session.scalars(select(Record.id).where(Record.list_id == plist.id))
    )
    session.add_all(
        Tombstone(kind="record", object_id=rid, list_id=plist.id, version=version)
        for rid in record_ids
    )
    session.add(
        Tombstone(kind="list", object_id=plist.id, list_id=plist.id, version=version)
    )
    path = list_path(session, plist)
    session.delete(plist)
    counters.bump(session, counters.ACCESS)
    audit.record(
        session,
        actor,
        "list.deleted",
        target_type="list",
        target_id=plist.id,
        target_name=path,
        list_id=plist.id,
        details={"records": len(record_ids)},
    )
    return len(record_ids)


@dataclass(frozen=True)
class ListSummary:
    """A list with its path and record count, for listings."""

    id: str
    path: str
    folder_path: str
    name: str
    description: str
    records: int


def list_summaries(session: Session, actor: Actor) -> list[ListSummary]:
    """The lists `actor` may see (all of them for the operator), by path."""
    stmt = select(PasswordList)
    if not actor.operator:
        stmt = stmt.where(PasswordList.id.in_(_visible_list_ids(actor.user_id or "")))
    lists = list(session.scalars(stmt))
    counts = dict(
        session.execute(
            select(Record.list_id, func.count()).group_by(Record.list_id)
        ).all()
    )
    paths = _all_folder_paths(session)
    out = []
    for plist in lists:
        folder = paths.get(plist.folder_id, "") if plist.folder_id else ""
        out.append(
            ListSummary(
                id=plist.id,
                path=f"{folder}/{plist.name}" if folder else plist.name,
                folder_path=folder,
                name=plist.name,
                description=plist.description,
                records=int(counts.get(plist.id, 0)),
            )
        )
    return sorted(out, key=lambda s: s.path.lower())


def _all_folder_paths(session: Session) -> dict[str | None, str]:
    rows = {f.id: f for f in session.scalars(select(Folder))}
    cache: dict[str | None, str] = {}

    def path_of(fid: str) -> str:
        if fid not in cache:
            folder = rows[fid]
            parent = path_of(folder.parent_id) if folder.parent_id else ""
            cache[fid] = f"{parent}/{folder.name}" if parent else folder.name
        return cache[fid]

    for fid in rows:
        path_of(fid)
    return cache


# --- permissions -------------------------------------------------------------


def _require_admin(actor: Actor) -> None:
    if not (actor.is_admin or actor.operator):
        raise PermissionDenied("only administrators may do this")


def _grants_of_user(user_id: str) -> ColumnElement[bool]:
    return or_(
        Permission.user_id == user_id,
        Permission.group_id.in_(
            select(GroupMember.group_id).where(GroupMember.user_id == user_id)
        ),
    )


def _visible_list_ids(user_id: str) -> Select[str]:
    return select(Permission.list_id).where(_grants_of_user(user_id))


def effective_level(session: Session, user_id: str, list_id: str) -> Level | None:
    """The highest level `user_id` holds on the list, directly or via groups."""
    best = session.scalar(
        select(func.max(Permission.level)).where(
            Permission.list_id == list_id, _grants_of_user(user_id)
        )
    )
    return Level(best) if best else None


def require_level(session: Session, actor: Actor, list_id: str, level: Level) -> None:
    """Raise PermissionDenied unless `actor` holds at least `level` on the list."""
    if actor.operator:
        return
    held = effective_level(session, actor.user_id or "", list_id)
    if held is None or held < level:
        raise PermissionDenied(
            f"you need {level.label} permission on this password list",
            hint="ask an administrator of the list to grant it",
        )


def require_list_admin(session: Session, actor: Actor, list_id: str) -> None:
    """Raise PermissionDenied unless `actor` may manage the list's permissions.

    System administrators manage every list's permissions (that is their job)
    without holding a permission on it; reading secrets still needs one.
    """
    if actor.is_admin:
        return
    require_level(session, actor, list_id, Level.ADMIN)


def parse_level(raw: str) -> Level:
    """Read `view`, `modify` or `admin`."""
    try:
        return Level[raw.strip().upper()]
    except KeyError:
        raise ValidationError(
            "level", f"unknown level {raw!r}; give view, modify or admin"
        ) from None


@dataclass(frozen=True)
class Grant:
    """A permission as shown in a list's permissions grid."""

    id: str
    list_id: str
    grantee_kind: str
    grantee_id: str
    grantee_name: str
    level: Level
    mobile_access: bool


def grant(
    session: Session,
    actor: Actor,
    plist: PasswordList,
    level: Level,
    *,
    user: User | None = None,
    group: Group | None = None,
    mobile_access: bool | None = None,
) -> Permission:
    """Grant (or change) a level on a list to one user or group.

    Without an explicit `mobile_access`, a new permission takes the system
    setting "enable Mobile Access by default on new permissions"; an existing
    one keeps its flag.
    """
    require_list_admin(session, actor, plist.id)
    if (user is None) == (group is None):
        raise ValidationError("grantee", "name exactly one of a user or a group")
    column = Permission.user_id if user else Permission.group_id
    grantee_id = user.id if user else group.id  # type: ignore[union-attr]
    perm = session.scalar(
        select(Permission).where(Permission.list_id == plist.id, column == grantee_id)
    )
    if perm is None:
        flag = (
            bool(settings.get(session, "mobile_access_default"))
            if mobile_access is None
            else mobile_access
        )
        perm = Permission(
            list_id=plist.id,
            user_id=user.id if user else None,
            group_id=group.id if group else None,
            level=int(level),
            mobile_access=flag,
        )
        session.add(perm)
        event = "permission.granted"
    else:
        perm.level = int(level)
        if mobile_access is not None:
            perm.mobile_access = mobile_access
        event = "permission.changed"
    session.flush()
    counters.bump(session, counters.ACCESS)
    audit.record(
        session,
        actor,
        event,
        target_type="user" if user else "group",
        target_id=grantee_id,
        target_name=user.qualified_name if user else group.name,  # type: ignore[union-attr]
        list_id=plist.id,
        details={"level": level.label, "mobile_access": perm.mobile_access},
    )
    return perm


def revoke(
    session: Session,
    actor: Actor,
    plist: PasswordList,
    *,
    user: User | None = None,
    group: Group | None = None,
) -> None:
    """Remove a user's or group's permission on a list."""
    require_list_admin(session, actor, plist.id)
    if (user is None) == (group is None):
        raise ValidationError("grantee", "name exactly one of a user or a group")
    column = Permission.user_id if user else Permission.group_id
    grantee_id = user.id if user else group.id  # type: ignore[union-attr]
    name = user.qualified_name if user else group.name  # type: ignore[union-attr]
    result = session.execute(
        delete(Permission).where(Permission.list_id == plist.id, column == grantee_id)
    )
    if not result.rowcount:  # type: ignore[attr-defined]
        raise NotFound(f"{name} holds no permission on this list")
    counters.bump(session, counters.ACCESS)
    audit.record(
        session,
        actor,
        "permission.revoked",
        target_type="user" if user else "group",
        target_id=grantee_id,
        target_name=name,
        list_id=plist.id,
    )


def grants_on(session: Session, plist: PasswordList) -> list[Grant]:
    """The permissions grid of a list: grantee, level and Mobile Access flag."""
    rows = session.execute(
        select(Permission, User, Group)
        .outerjoin(User, User.id == Permission.user_id)
        .outerjoin(Group, Group.id == Permission.group_id)
        .where(Permission.list_id == plist.id)
    ).all()
    grants = [
        Grant(
            id=perm.id,
            list_id=perm.list_id,
            grantee_kind="user" if user else "group",
            grantee_id=user.id if user else group.id,
            grantee_name=user.qualified_name if user else group.name,
            level=Level(perm.level),
            mobile_access=perm.mobile_access,
        )
        for perm, user, group in rows
    ]
    return sorted(grants, key=lambda g: (g.grantee_kind, g.grantee_name.lower()))


def set_mobile_access(
    session: Session,
    actor: Actor,
    value: bool,
    *,
    lists: Sequence[PasswordList] | None = None,
) -> int:
    """Set the Mobile Access flag on every permission of `lists` (None: all lists).

    Returns how many permissions changed; the ones already right are untouched.
    """
    _require_admin(actor)
    stmt = update(Permission).where(Permission.mobile_access.is_not(value))
    if lists is not None:
        stmt = stmt.where(Permission.list_id.in_([p.id for p in lists]))
    changed = int(session.execute(stmt.values(mobile_access=value)).rowcount)  # type: ignore[attr-defined]
    if changed:
        counters.bump(session, counters.ACCESS)
    audit.record(
        session,
        actor,
        "permission.mobile_access_bulk",
        target_type="list",
        target_name="all lists" if lists is None else f"{len(lists)} lists",
        details={
            "value": value,
            "changed": changed,
            "lists": None if lists is None else [p.id for p in lists],
        },
    )
    return changed


def count_mobile_access_changes(
    session: Session, value: bool, lists: Sequence[PasswordList] | None = None
) -> int:
    """How many permissions `set_mobile_access` would change (for confirmations)."""
    stmt = (
        select(func.count())
        .select_from(Permission)
        .where(Permission.mobile_access.is_not(value))
    )
    if lists is not None:
        stmt = stmt.where(Permission.list_id.in_([p.id for p in lists]))
    return int(session.scalar(stmt) or 0)


# --- what may reach a phone --------------------------------------------------


def phone_list_ids(user_id: str) -> Select[str]:
    """SELECT of the lists whose records may reach `user_id`'s phone.

    A list qualifies when the user, directly or through a group, holds a
    permission on it whose Mobile Access flag is on, the user is active, and
    the user holds the Mobile App feature directly or through a group.
    """
    return (
        select(Permission.list_id)
        .where(
            Permission.mobile_access.is_(True),
            _grants_of_user(user_id),
            select(User.id).where(User.id == user_id, User.active.is_(True)).exists(),
            has_feature_clause(user_id, FEATURE_MOBILE),
        )
        .distinct()
    )


def phone_records_query(user_id: str) -> Select[Record]:
    """SELECT of the records that may reach `user_id`'s phone (one query)."""
    return select(Record).where(Record.list_id.in_(phone_list_ids(user_id)))


def records_for_phone(session: Session, user: User) -> list[Record]:
    """The records that may reach `user`'s phone, per DESIGN.md."""
    return list(session.scalars(phone_records_query(user.id)))


# --- records -----------------------------------------------------------------


@dataclass
class GenericField:
    """A named extra field of a record."""

    name: str
    value: str
    secret: bool = False


@dataclass
class RecordInput:
    """Everything a caller may set on a record; secrets in the clear."""

    title: str
    username: str = ""
    password: str = ""
    url: str = ""
    description: str = ""
    notes: str = ""
    domain: str = ""
    host_name: str = ""
    otp_secret: str = ""
    expires_at: datetime.date | None = None
    fields: list[GenericField] = field(default_factory=list)


@dataclass
class RecordView(RecordInput):
    """A record read back, secrets opened, with where it lives."""

    id: str = ""
    list_id: str = ""
    list_path: str = ""
    version: int = 0
    updated_at: datetime.datetime | None = None


def validate_record(data: RecordInput) -> RecordInput:
    """Check every field against its limit; raise ValidationError naming it."""
    _check_text("title", data.title.strip(), TITLE_MAX, required=True)
    _check_text("username", data.username, USERNAME_MAX, required=False)
    _check_text("description", data.description, DESCRIPTION_MAX, required=False)
    _check_text("url", data.url, URL_MAX, required=False)
    _check_text("domain", data.domain, 255, required=False)
    _check_text("host name", data.host_name, 255, required=False)
    _check_text("notes", data.notes, 65_536, required=False, single_line=False)
    _check_text("password", data.password, 4096, required=False, single_line=False)
    _check_text("OTP secret", data.otp_secret, 1024, required=False)
    seen: set[str] = set()
    for extra in data.fields:
        _check_text("field name", extra.name.strip(), 200, required=True)
        _check_text(
            f"field {extra.name!r}",
            extra.value,
            65_536,
            required=False,
            single_line=False,
        )
        # A phone keys a record's secret fields by name, so two fields of one
        # name would show one value twice and lose the other.
        folded = extra.name.strip().casefold()
        if folded in seen:
            raise ValidationError(
                "field name",
                f"the field name {extra.name.strip()!r} is used twice",
                hint="give each field of a record its own name",
            )
        seen.add(folded)
    data.title = data.title.strip()
    return data


def distinct_field_names(fields: list[GenericField]) -> list[GenericField]:
    """The same fields, a repeated name numbered: `pin`, `pin (2)`, `pin (3)`.

    For imports: other managers allow two fields of one name, Strongroom
    does not (see validate_record), and an import must keep both values.
    """
    taken = {extra.name.strip().casefold() for extra in fields}
    seen: set[str] = set()
    result: list[GenericField] = []
    for extra in fields:
        name = extra.name.strip()
        if name.casefold() in seen:
            number = 2
            while f"{name} ({number})".casefold() in taken:
                number += 1
            name = f"{name} ({number})"
            taken.add(name.casefold())
        seen.add(name.casefold())
        result.append(GenericField(name, extra.value, extra.secret))
    return result


def _aad(record_id: str, part: str) -> str:
    return f"record/{record_id}/{part}"


def secret_aad(record_id: str, part: str) -> str:
    """The associated data of a record's sealed `part` (`password`, `notes`,
    `otp` or `field/<field id>`), for readers that open secrets in bulk."""
    return _aad(record_id, part)


def _seal_optional(
    session: Session, cipher: FieldCipher, record_id: str, part: str, value: str
) -> bytes | None:
    return cipher.seal(session, value, aad=_aad(record_id, part)) if value else None


def _write_secrets(
    session: Session, cipher: FieldCipher, record: Record, data: RecordInput
) -> None:
    record.password_sealed = _seal_optional(
        session, cipher, record.id, "password", data.password
    )
    record.notes_sealed = _seal_optional(
        session, cipher, record.id, "notes", data.notes
    )
    record.otp_sealed = _seal_optional(
        session, cipher, record.id, "otp", data.otp_secret
    )


def _write_fields(
    session: Session, cipher: FieldCipher, record: Record, fields: list[GenericField]
) -> None:
    session.execute(delete(RecordField).where(RecordField.record_id == record.id))
    for position, extra in enumerate(fields):
        row = RecordField(
            record_id=record.id,
            position=position,
            name=extra.name.strip(),
            secret=extra.secret,
        )
        session.add(row)
        session.flush()
        if extra.secret:
            row.value_sealed = cipher.seal(
                session, extra.value, aad=_aad(record.id, f"field/{row.id}")
            )
        else:
            row.value = extra.value


def _apply_plain(record: Record, data: RecordInput) -> None:
    record.title = data.title
    record.username = data.username
    record.url = data.url
    record.description = data.description
    record.domain = data.domain
    record.host_name = data.host_name
    record.expires_at = data.expires_at


def create_record(
    session: Session,
    actor: Actor,
    cipher: FieldCipher,
    plist: PasswordList,
    data: RecordInput,
    *,
    audit_event: bool = True,
) -> Record:
    """Add a record to a list (Modify needed); secret fields are sealed."""
    require_level(session, actor, plist.id, Level.MODIFY)
    data = validate_record(data)
    record = Record(list_id=plist.id, title=data.title)
    _apply_plain(record, data)
    record.version = counters.bump(session, counters.RECORDS)
    session.add(record)
    session.flush()
    _write_secrets(session, cipher, record, data)
    _write_fields(session, cipher, record, data.fields)
    session.flush()
    if audit_event:
        audit.record(
            session,
            actor,
            "record.created",
            target_type="record",
            target_id=record.id,
            target_name=record.title,
            list_id=plist.id,
            record_id=record.id,
        )
    return record


def get_record(session: Session, record_id: str) -> Record:
    """The record with this id, or NotFound."""
    record = session.get(Record, record_id)
    if record is None:
        raise NotFound(f"there is no record {record_id!r}")
    return record


def update_record(
    session: Session,
    actor: Actor,
    cipher: FieldCipher,
    record: Record,
    data: RecordInput,
) -> Record:
    """Replace a record's fields (Modify needed); it gets a new version."""
    require_level(session, actor, record.list_id, Level.MODIFY)
    data = validate_record(data)
    _apply_plain(record, data)
    _write_secrets(session, cipher, record, data)
    _write_fields(session, cipher, record, data.fields)
    record.version = counters.bump(session, counters.RECORDS)
    record.updated_at = utcnow()
    session.flush()
    audit.record(
        session,
        actor,
        "record.updated",
        target_type="record",
        target_id=record.id,
        target_name=record.title,
        list_id=record.list_id,
        record_id=record.id,
    )
    return record


def delete_record(session: Session, actor: Actor, record: Record) -> None:
    """Delete a record (Modify needed), leaving a tombstone for phones."""
    require_level(session, actor, record.list_id, Level.MODIFY)
    session.add(
        Tombstone(
            kind="record",
            object_id=record.id,
            list_id=record.list_id,
            version=counters.bump(session, counters.RECORDS),
        )
    )
    audit.record(
        session,
        actor,
        "record.deleted",
        target_type="record",
        target_id=record.id,
        target_name=record.title,
        list_id=record.list_id,
        record_id=record.id,
    )
    session.delete(record)
    session.flush()


def read_record(
    session: Session,
    actor: Actor,
    cipher: FieldCipher,
    record: Record,
    *,
    reveal: bool,
) -> RecordView:
    """Read a record (View needed). With `reveal`, secrets are opened and the
    view is audited as `record.revealed`; otherwise secrets come back empty.
    """
    require_level(session, actor, record.list_id, Level.VIEW)
    view = open_record(session, cipher, record, with_secrets=reveal)
    audit.record(
        session,
        actor,
        "record.revealed" if reveal else "record.viewed",
        target_type="record",
        target_id=record.id,
        target_name=record.title,
        list_id=record.list_id,
        record_id=record.id,
    )
    return view


def open_record(
    session: Session, cipher: FieldCipher, record: Record, *, with_secrets: bool = True
) -> RecordView:
    """Build a RecordView without audit or permission checks (for sync, export)."""

    def opened(blob: bytes | None, part: str) -> str:
        if blob is None or not with_secrets:
            return ""
        return cipher.open(session, blob, aad=_aad(record.id, part))

    fields = [
        GenericField(
            name=row.name,
            value=(
                opened(row.value_sealed, f"field/{row.id}")
                if row.secret
                else row.value or ""
            ),
            secret=row.secret,
        )
        for row in session.scalars(
            select(RecordField)
            .where(RecordField.record_id == record.id)
            .order_by(RecordField.position)
        )
    ]
    plist = session.get(PasswordList, record.list_id)
    return RecordView(
        id=record.id,
        list_id=record.list_id,
        list_path=list_path(session, plist) if plist else "",
        version=record.version,
        updated_at=record.updated_at,
        title=record.title,
        username=record.username,
        password=opened(record.password_sealed, "password"),
        url=record.url,
        description=record.description,
        notes=opened(record.notes_sealed, "notes"),
        domain=record.domain,
        host_name=record.host_name,
        otp_secret=opened(record.otp_sealed, "otp"),
        expires_at=record.expires_at,
        fields=fields,
    )


def records_in(session: Session, actor: Actor, plist: PasswordList) -> list[Record]:
    """The records of a list (View needed), by title."""
    require_level(session, actor, plist.id, Level.VIEW)
    return list(
        session.scalars(
            select(Record)
            .where(Record.list_id == plist.id)
            .order_by(func.lower(Record.title))
        )
    )


def title_taken(session: Session, list_id: str, title: str) -> bool:
    """Tell whether the list already holds a record with this title."""
    return bool(
        session.scalar(
            select(Record.id).where(
                and_(Record.list_id == list_id, Record.title == title)
            )
        )
    )
