"""Writing an import bundle into the vault, and reading lists out as a bundle.

Imports are all or nothing. `import_bundle` first plans the whole import
(every folder and list name, every record checked against the vault's limits,
every permission), raising before anything is written; only then does it
write, in the caller's transaction, so a failure while writing is rolled back
with it.

Where the bundle's lists land: each list goes to ``INTO/<its folder path>/
<its name>``; missing folders are created. A list that already exists at that
path (names compared ignoring case) is merged into: the imported records are
added to it and it keeps its permissions (this is how a file is imported into
a list an admin prepared, Passwordstate-style). Nothing is deduplicated, so
importing the same file twice doubles its records; the summary says how many
lists were merged and a warning names each record whose title the list already
held.

A '/' inside a KeePass group or Bitwarden folder name would split it into two
levels here, so it is replaced by '-' (with a warning).
"""

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from strongroom.crypto.errors import DecryptionError
from strongroom.server.audit import service as audit
from strongroom.server.core.actor import Actor
from strongroom.server.core.errors import (
    NotFound,
    PermissionDenied,
    ValidationError,
)
from strongroom.server.core.keys import FieldCipher
from strongroom.server.interchange.bundle import (
    ImportBundle,
    ImportedField,
    ImportedList,
    ImportedRecord,
)
from strongroom.server.interchange.errors import InterchangeError, MalformedFile
from strongroom.server.vault import service as vault
from strongroom.server.vault.models import (
    FOLDER_NAME_MAX,
    LIST_NAME_MAX,
    Folder,
    Level,
    PasswordList,
    Record,
)

log = logging.getLogger(__name__)

EXPORT_FORMAT = "strongroom"
# The audit event names the exported lists; past this many it gives the count
# only, so one export of a huge vault does not make a huge audit row.
AUDIT_LIST_IDS_MAX = 200
# Titles already present are reported one by one up to this many.
DUPLICATE_WARNINGS_SHOWN = 20


@dataclass(frozen=True)
class ImportSummary:
    """What an import wrote: where, how many lists and records, and warnings."""

    into: str
    source_format: str
    lists_created: tuple[str, ...]
    lists_merged: tuple[str, ...]
    records: int
    warnings: tuple[str, ...] = ()

    @property
    def lists(self) -> int:
        """How many lists received records (created plus merged)."""
        return len(self.lists_created) + len(self.lists_merged)


@dataclass
class _Target:
    """One destination list of the plan, with the records going there."""

    folder_parts: list[str]
    name: str
    existing: PasswordList | None
    records: list[vault.RecordInput] = field(default_factory=list)

    @property
    def path(self) -> str:
        return vault.PATH_SEPARATOR.join([*self.folder_parts, self.name])


# --- import -------------------------------------------------------------------------


def import_bundle(
    session: Session,
    actor: Actor,
    cipher: FieldCipher,
    bundle: ImportBundle,
    into_path: str,
) -> ImportSummary:
    """Write `bundle` under the folder `into_path` (all or nothing).

    Raises MalformedFile naming the row or entry of the first record the vault
    refuses, PermissionDenied when `actor` may not create or fill a list, and
    writes nothing in either case. Returns the counts and every warning.
    """
    warnings = list(bundle.warnings)
    into_parts = [
        _clean_segment("folder name", part, FOLDER_NAME_MAX, f"--into {into_path}", [])
        for part in vault.split_path(into_path)
    ]

    # Plan: resolve and check everything before the first write.
    targets = _plan(session, actor, bundle, into_parts, warnings)
    _warn_duplicate_titles(session, targets, warnings)

    # Write: folders and lists, then records; one audit event for the batch.
    created: list[str] = []
    merged: list[str] = []
    count = 0
    for target in targets:
        plist = target.existing or _create_list(session, actor, target)
        # Named as stored: "team" in the file may have merged into "Team".
        (merged if target.existing else created).append(vault.list_path(session, plist))
        for data in target.records:
            # One `interchange.imported` event stands for every record below.
            vault.create_record(session, actor, cipher, plist, data, audit_event=False)
            count += 1

    into = vault.PATH_SEPARATOR.join(into_parts)
    # The folder imported into, by id as well as by name (none for the top,
    # nor when an empty file made no folder).
    try:
        into_folder = vault.find_folder(session, into)
    except NotFound:
        into_folder = None
    audit.record(
        session,
        actor,
        "interchange.imported",
        target_type="folder",
        target_id=into_folder.id if into_folder else None,
        target_name=into or "/",
        details={
            "format": bundle.source_format,
            "lists_created": len(created),
            "lists_merged": len(merged),
            "records": count,
        },
    )
    log.info(
        "interchange_imported format=%s lists=%d records=%d",
        bundle.source_format,
        len(created) + len(merged),
        count,
    )
    return ImportSummary(
        into=into,
        source_format=bundle.source_format,
        lists_created=tuple(created),
        lists_merged=tuple(merged),
        records=count,
        warnings=tuple(warnings),
    )


def _plan(
    session: Session,
    actor: Actor,
    bundle: ImportBundle,
    into_parts: list[str],
    warnings: list[str],
) -> list[_Target]:
    targets: dict[tuple[tuple[str, ...], str], _Target] = {}
    for imported in bundle.lists:
        where = _where(imported)
        folders = into_parts + [
            _clean_segment("folder name", part, FOLDER_NAME_MAX, where, warnings)
            for part in imported.folder_path
        ]
        name = _clean_segment(
            "list name", imported.name, LIST_NAME_MAX, where, warnings
        )
        # Names ignore case in the vault, so "Email" and "email" are one list.
        key = (tuple(part.lower() for part in folders), name.lower())
        if key not in targets:
            targets[key] = _Target(folders, name, vault.list_at(session, folders, name))
        target = targets[key]
        _check_access(session, actor, target)
        target.records.extend(_record_input(record) for record in imported.records)
    return list(targets.values())


def _where(imported: ImportedList) -> str:
    if imported.records and imported.records[0].source_ref:
        return imported.records[0].source_ref
    return "list " + "/".join((*imported.folder_path, imported.name))


def _clean_segment(
    what: str, raw: str, limit: int, where: str, warnings: list[str]
) -> str:
    name = raw.strip()
    if vault.PATH_SEPARATOR in name:
        fixed = name.replace(vault.PATH_SEPARATOR, "-")
        warnings.append(
            f"{where}: the {what} {name!r} contains '/', which separates folders, "
            f"so it was imported as {fixed!r}"
        )
        name = fixed
    if not name:
        raise MalformedFile(f"{where}: the {what} is empty", hint="name it in the file")
    if len(name) > limit:
        raise MalformedFile(
            f"{where}: the {what} is {len(name)} characters; the limit is {limit}",
            hint="shorten it in the file (or the --into path) and import again",
        )
    return name


def _check_access(session: Session, actor: Actor, target: _Target) -> None:
    if target.existing is not None:
        vault.require_level(session, actor, target.existing.id, Level.MODIFY)
        return
    if not (actor.operator or actor.is_admin):
        raise PermissionDenied(
            f"importing would create the list {target.path!r}, and only "
            "administrators may create lists",
            hint="ask an administrator, or import into a list where you hold modify",
        )


def _record_input(record: ImportedRecord) -> vault.RecordInput:
    data = vault.RecordInput(
        title=record.title,
        username=record.username,
        password=record.password,
        url=record.url,
        description=record.description,
        notes=record.notes,
        domain=record.domain,
        host_name=record.host_name,
        otp_secret=record.otp_secret,
        expires_at=record.expires_at,
        fields=vault.distinct_field_names(
            [vault.GenericField(f.name, f.value, f.secret) for f in record.fields]
        ),
    )
    try:
        return vault.validate_record(data)
    except ValidationError as exc:
        # Name the row or entry, so the person can find it in the file.
        raise MalformedFile(
            f"{record.source_ref or 'a record'}: {exc.message}",
            hint=exc.hint or "correct it in the file and import again",
        ) from None


def _warn_duplicate_titles(
    session: Session, targets: list[_Target], warnings: list[str]
) -> None:
    shown = 0
    for target in targets:
        if target.existing is None:
            continue
        titles = set(
            session.scalars(
                select(Record.title).where(Record.list_id == target.existing.id)
            )
        )
        for data in target.records:
            if data.title in titles:
                shown += 1
                if shown <= DUPLICATE_WARNINGS_SHOWN:
                    warnings.append(
                        f"{target.path} already held a record titled {data.title!r}; "
                        "both are kept"
                    )
    if shown > DUPLICATE_WARNINGS_SHOWN:
        warnings.append(
            f"{shown - DUPLICATE_WARNINGS_SHOWN} more imported titles were already "
            "in their lists"
        )


def _create_list(session: Session, actor: Actor, target: _Target) -> PasswordList:
    # The vault grants a signed-in creator Admin on the new list.
    return vault.create_list(session, actor, target.path, create_folders=True)


# --- export ---------------------------------------------------------------------------


def lists_at(session: Session, path: str | None) -> list[PasswordList]:
    """The lists an export of `path` covers: every list for None; the list at
    `path` when there is one; otherwise every list in the folder at `path` and
    below it. NotFound when the path names neither.
    """
    if path is None or not vault.split_path(path):
        return _ordered(session, select(PasswordList))
    try:
        return [vault.find_list(session, path)]
    except NotFound:
        pass
    try:
        folder = vault.find_folder(session, path)
    except NotFound:
        # Either was asked for, so the refusal names both.
        raise NotFound(
            f"there is no password list or folder {path!r}",
            hint="`strongroom list list` shows the lists and their folders",
        ) from None
    if folder is None:  # an empty path was handled above
        return _ordered(session, select(PasswordList))
    subtree = _subtree(session, folder.id)
    return _ordered(
        session, select(PasswordList).where(PasswordList.folder_id.in_(subtree))
    )


def _ordered(session: Session, stmt: Select[PasswordList]) -> list[PasswordList]:
    lists = list(session.scalars(stmt))
    return sorted(lists, key=lambda p: vault.list_path(session, p).lower())


def _subtree(session: Session, root_id: str) -> set[str]:
    children: dict[str | None, list[str]] = {}
    for folder_id, parent_id in session.execute(select(Folder.id, Folder.parent_id)):
        children.setdefault(parent_id, []).append(folder_id)
    found, pending = {root_id}, [root_id]
    while pending:
        for child in children.get(pending.pop(), []):
            if child not in found:
                found.add(child)
                pending.append(child)
    return found


def export_bundle(
    session: Session,
    actor: Actor,
    cipher: FieldCipher,
    lists: Sequence[PasswordList],
) -> ImportBundle:
    """Read `lists` (View needed on each) with their secrets, as a bundle the
    writers turn into a file. Audited once as `interchange.exported`.
    """
    for plist in lists:
        vault.require_level(session, actor, plist.id, Level.VIEW)
    exported = [_export_list(session, cipher, plist) for plist in lists]
    bundle = ImportBundle(source_format=EXPORT_FORMAT, lists=exported)

    ids = [plist.id for plist in lists]
    audit.record(
        session,
        actor,
        "interchange.exported",
        target_type="list",
        target_name=f"{len(ids)} list(s)",
        details={
            "lists": len(ids),
            "records": bundle.record_count(),
            "list_ids": ids[:AUDIT_LIST_IDS_MAX],
            "list_ids_complete": len(ids) <= AUDIT_LIST_IDS_MAX,
        },
    )
    log.info(
        "interchange_exported lists=%d records=%d", len(ids), bundle.record_count()
    )
    return bundle


def _export_list(
    session: Session, cipher: FieldCipher, plist: PasswordList
) -> ImportedList:
    folders = tuple(vault.folder_path(session, plist.folder_id))
    records = session.scalars(
        select(Record)
        .where(Record.list_id == plist.id)
        .order_by(func.lower(Record.title), Record.id)
    )
    out = ImportedList(folder_path=folders, name=plist.name)
    for record in records:
        try:
            view = vault.open_record(session, cipher, record, with_secrets=True)
        except DecryptionError as exc:
            raise InterchangeError(
                f"record {record.id} in {vault.list_path(session, plist)} holds a "
                "secret that does not decrypt: it was altered or moved in the database",
                hint="restore that record from a backup, or delete it, then export",
            ) from exc
        out.records.append(_imported_record(view))
    return out


def _imported_record(view: vault.RecordView) -> ImportedRecord:
    return ImportedRecord(
        title=view.title,
        username=view.username,
        password=view.password,
        url=view.url,
        description=view.description,
        notes=view.notes,
        domain=view.domain,
        host_name=view.host_name,
        otp_secret=view.otp_secret,
        expires_at=view.expires_at,
        fields=[ImportedField(f.name, f.value, f.secret) for f in view.fields],
        source_ref=f"record {view.id}",
    )
