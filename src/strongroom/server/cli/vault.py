"""`strongroom folder|list|record ...`, `grant`, `revoke`, `mobile-access set` and
`permissions`: the vault and who may see it.

Secrets never come from the command line (argv is visible to every user of the
machine in `ps`). A record's secrets arrive one of three ways:

* a no-echo prompt on a terminal: password (typed twice), notes and OTP secret
  (one line each, empty for none), then each `--secret-field NAME`;
* `--password-stdin`: the first line of standard input is the password, the
  record gets no notes, OTP secret or secret fields;
* `--secrets-json-stdin`: standard input holds one JSON object with any of
  ``password``, ``notes``, ``otp_secret`` (strings) and ``fields`` (an object
  of secret generic fields, name to value); use it for multi-line notes.

`record edit` changes only what it is told: plain options as given, secrets
only with `--password-stdin`, `--secrets-json-stdin` (an empty string clears a
secret) or `--prompt-secrets` (an empty answer keeps the current value).

Option values the command line parses itself (a level, yes/no, a date,
NAME=VALUE) are usage errors (exit 2); values the vault refuses (too long,
empty, taken, unknown name) exit 1.
"""

import datetime
import json
import logging
import sys
from dataclasses import dataclass, field
from typing import Any

import typer
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from strongroom.crypto.errors import DecryptionError
from strongroom.server.accounts import service as accounts
from strongroom.server.accounts.models import Group, User
from strongroom.server.cli import common
from strongroom.server.cli.common import (
    JsonOption,
    PasswordStdinOption,
    done,
    emit,
    operation,
    read_secret,
    yes_no,
)
from strongroom.server.core.errors import NotFound, StrongroomError, UsageError
from strongroom.server.vault import service as vault
from strongroom.server.vault.models import Level, PasswordList, Record

log = logging.getLogger(__name__)

folder_app = typer.Typer(help="Folders that hold password lists.", no_args_is_help=True)
list_app = typer.Typer(help="Password lists.", no_args_is_help=True)
record_app = typer.Typer(help="Password records.", no_args_is_help=True)
mobile_access_app = typer.Typer(
    help="The Mobile Access flag of permissions, in bulk.", no_args_is_help=True
)

MASK = "********"
MIN_ID_PREFIX = 8

UserOption = typer.Option(None, "--user", help="A user name (or DOMAIN\\name).")
GroupOption = typer.Option(None, "--group", help="A security group name.")
SecretsJsonOption = typer.Option(
    False,
    "--secrets-json-stdin",
    help="Read secrets as one JSON object from stdin "
    '({"password", "notes", "otp_secret", "fields": {NAME: VALUE}}).',
)
SecretFieldOption = typer.Option(
    [],
    "--secret-field",
    help="Name of a secret generic field to ask for (repeatable).",
)
FieldOption = typer.Option(
    [], "--field", help="A plain generic field as NAME=VALUE (repeatable)."
)


def undecryptable(record_id: str) -> StrongroomError:
    """The error for a sealed value that fails authentication when opened."""
    # AES-GCM refused the value: it was altered, or moved from another record
    # or field. Showing nothing is the only safe answer; say what to do.
    return StrongroomError(
        f"a secret of record {record_id} does not decrypt: it was altered or moved "
        "in the database",
        hint="restore the record from a backup; if every record fails, check that "
        "instance.key belongs to this database",
    )


# --- folders and lists ------------------------------------------------------------


@folder_app.command("add")
def folder_add(
    path: str = typer.Argument(..., help="The folder's path, e.g. Finance/Banking."),
    parents: bool = typer.Option(
        False, "--parents", "-p", help="Create missing parent folders too."
    ),
) -> None:
    """Create a folder (its parent folders must exist unless --parents)."""
    with operation() as (_instance, session, actor):
        parts = vault.split_path(path)
        if parents and len(parts) > 1:
            # Only the parents may exist already: `exist_ok` on the whole path
            # would hide that the folder itself was there.
            vault.create_folder(session, actor, "/".join(parts[:-1]), exist_ok=True)
        folder = vault.create_folder(session, actor, path, exist_ok=False)
        created = "/".join(vault.folder_path(session, folder.id))
    done(f"Folder {created} created.")


@list_app.command("add")
def list_add(
    path: str = typer.Argument(..., help="The list's path, e.g. Finance/Bank."),
    description: str = typer.Option("", "--description", help="What it holds."),
    create_folders: bool = typer.Option(
        False, "--create-folders", help="Create missing folders on the path."
    ),
) -> None:
    """Create a password list."""
    with operation() as (_instance, session, actor):
        plist = vault.create_list(
            session,
            actor,
            path,
            description=description,
            create_folders=create_folders,
        )
        # As stored: spaces trimmed, existing folders in their own spelling.
        created = vault.list_path(session, plist)
    done(f"Password list {created} created.")


@list_app.command("list")
def list_list(as_json: bool = JsonOption) -> None:
    """List every password list with its record count."""
    with operation() as (_instance, session, actor):
        rows = [
            {
                "id": s.id,
                "path": s.path,
                "folder": s.folder_path,
                "name": s.name,
                "description": s.description,
                "records": s.records,
            }
            for s in vault.list_summaries(session, actor)
        ]
    emit(rows, ["path", "records", "description"], as_json=as_json, title="Lists")


@list_app.command("delete")
def list_delete(
    path: str = typer.Argument(..., help="The list to delete."),
    yes: bool = typer.Option(False, "--yes", help="Do not ask for confirmation."),
) -> None:
    """Delete a password list and every record in it."""
    # Ask outside any transaction: on SQLite an open one holds the write lock,
    # and a person thinking over the question would stall every other writer.
    with operation() as (_instance, session, _actor):
        plist = vault.find_list(session, path)
        count = int(
            session.scalar(
                select(func.count())
                .select_from(Record)
                .where(Record.list_id == plist.id)
            )
            or 0
        )
    _confirm(yes, f"Delete {path} and its {count} record(s)?")
    with operation() as (_instance, session, actor):
        deleted = vault.delete_list(session, actor, vault.find_list(session, path))
    done(f"Password list {path} deleted with {deleted} record(s).")


def _confirm(yes: bool, question: str) -> None:
    if yes:
        return
    if not common.stdin_is_terminal():
        raise UsageError("this needs a confirmation", hint="pass --yes")
    if not typer.confirm(question, default=False):
        raise typer.Abort()


# --- records ------------------------------------------------------------------------


@dataclass
class Secrets:
    """Secret values gathered for a record; None means "not given"."""

    password: str | None = None
    notes: str | None = None
    otp_secret: str | None = None
    fields: dict[str, str] = field(default_factory=dict)


def _prompt_optional(label: str) -> str:
    value: str = typer.prompt(label, default="", show_default=False, hide_input=True)
    return value


def _secrets_from_json(raw: str, secret_fields: list[str]) -> Secrets:
    try:
        document = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise UsageError(
            f"standard input is not JSON (line {exc.lineno}, column {exc.colno})",
            hint='send one object such as {"password": "...", "notes": "..."}',
        ) from None
    if not isinstance(document, dict):
        raise UsageError("the secrets JSON must be one object")
    unknown = set(document) - {"password", "notes", "otp_secret", "fields"}
    if unknown:
        raise UsageError(
            f"unknown key(s) in the secrets JSON: {', '.join(sorted(unknown))}",
            hint="use password, notes, otp_secret and fields",
        )
    extra = document.get("fields", {})
    if not isinstance(extra, dict) or not all(
        isinstance(v, str) for v in extra.values()
    ):
        raise UsageError('"fields" must map field names to strings')
    for key in ("password", "notes", "otp_secret"):
        if key in document and not isinstance(document[key], str):
            raise UsageError(f'"{key}" in the secrets JSON must be a string')
    missing = [name for name in secret_fields if name not in extra]
    if missing:
        raise UsageError(
            f"the secrets JSON has no value for {', '.join(missing)}",
            hint='add them under "fields"',
        )
    return Secrets(
        password=document.get("password"),
        notes=document.get("notes"),
        otp_secret=document.get("otp_secret"),
        fields={str(k): str(v) for k, v in extra.items()},
    )


def gather_secrets(
    *,
    password_stdin: bool,
    secrets_json_stdin: bool,
    secret_fields: list[str],
    prompt: bool,
    keep_on_empty: bool = False,
) -> Secrets:
    """Collect a record's secrets from stdin or prompts (never from argv)."""
    if password_stdin and secrets_json_stdin:
        raise UsageError(
            "--password-stdin and --secrets-json-stdin both read standard input",
            hint="give one of them",
        )
    if secrets_json_stdin:
        return _secrets_from_json(sys.stdin.read(), secret_fields)
    if password_stdin:
        if secret_fields:
            raise UsageError(
                "--secret-field cannot be asked for while stdin holds the password",
                hint="send every secret with --secrets-json-stdin",
            )
        return Secrets(password=read_secret(True, "Password"))
    if not prompt and not secret_fields:
        return Secrets()
    return _prompt_secrets(secret_fields, prompt=prompt, keep_on_empty=keep_on_empty)


def _prompt_secrets(
    secret_fields: list[str], *, prompt: bool, keep_on_empty: bool
) -> Secrets:
    if not common.stdin_is_terminal():
        raise UsageError(
            "no terminal to ask for the record's secrets",
            hint="pipe them in with --password-stdin or --secrets-json-stdin",
        )
    secrets = Secrets()
    if prompt:
        suffix = " (empty keeps it)" if keep_on_empty else " (empty for none)"
        password: str = typer.prompt(
            "Password" + suffix,
            default="",
            show_default=False,
            hide_input=True,
            confirmation_prompt=True,
        )
        notes = _prompt_optional("Notes, one line" + suffix)
        otp = _prompt_optional("OTP secret" + suffix)
        # None keeps the stored value (edit); "" stores none (add).
        secrets.password = password or (None if keep_on_empty else "")
        secrets.notes = notes or (None if keep_on_empty else "")
        secrets.otp_secret = otp or (None if keep_on_empty else "")
    for name in secret_fields:
        secrets.fields[name] = _prompt_optional(f"Secret field {name}")
    return secrets


def parse_date(raw: str | None, option: str) -> datetime.date | None:
    """Read YYYY-MM-DD (or `never` / empty for none) as a usage error otherwise."""
    if raw is None or raw.strip().lower() in {"", "never", "none"}:
        return None
    try:
        return datetime.date.fromisoformat(raw.strip())
    except ValueError:
        raise UsageError(
            f"{option} takes a date as YYYY-MM-DD, not {raw!r}",
            hint=f"for example {option} 2030-12-31",
        ) from None


def parse_fields(raw: list[str]) -> list[tuple[str, str]]:
    """Read repeated NAME=VALUE options into (name, value) pairs."""
    pairs = []
    for item in raw:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise UsageError(
                f"--field takes NAME=VALUE, not {item!r}",
                hint="for example --field Port=22",
            )
        pairs.append((name.strip(), value))
    return pairs


def find_record(session: Session, ref: str) -> Record:
    """The record with id `ref`, or the one whose id starts with `ref`."""
    ref = ref.strip()
    found = session.get(Record, ref)
    if found is not None:
        return found
    if len(ref) >= MIN_ID_PREFIX:
        matches = list(
            session.scalars(select(Record).where(Record.id.like(f"{ref}%")).limit(2))
        )
        if len(matches) == 1:
            return matches[0]
        if len(matches) > 1:
            raise UsageError(
                f"{ref!r} matches several records", hint="give more of the id"
            )
    raise NotFound(
        f"there is no record {ref!r}",
        hint="`strongroom record list LIST` shows the record ids",
    )


@record_app.command("add")
def record_add(
    list_path: str = typer.Argument(..., metavar="LIST", help="The list's path."),
    title: str = typer.Option(..., "--title", help="The record's title."),
    username: str = typer.Option("", "--username"),
    url: str = typer.Option("", "--url"),
    description: str = typer.Option("", "--description"),
    domain: str = typer.Option("", "--domain"),
    host_name: str = typer.Option("", "--host-name"),
    expires: str | None = typer.Option(None, "--expires", help="YYYY-MM-DD."),
    fields: list[str] = FieldOption,
    secret_fields: list[str] = SecretFieldOption,
    password_stdin: bool = PasswordStdinOption,
    secrets_json_stdin: bool = SecretsJsonOption,
) -> None:
    """Add a record; its secrets come from a prompt or stdin (see `--help` above)."""
    expires_at = parse_date(expires, "--expires")
    plain = parse_fields(fields)
    secrets = gather_secrets(
        password_stdin=password_stdin,
        secrets_json_stdin=secrets_json_stdin,
        secret_fields=secret_fields,
        prompt=True,
    )
    data = vault.RecordInput(
        title=title,
        username=username,
        password=secrets.password or "",
        url=url,
        description=description,
        notes=secrets.notes or "",
        domain=domain,
        host_name=host_name,
        otp_secret=secrets.otp_secret or "",
        expires_at=expires_at,
        fields=[vault.GenericField(name, value) for name, value in plain]
        + [
            vault.GenericField(name, value, secret=True)
            for name, value in secrets.fields.items()
        ],
    )
    with operation() as (instance, session, actor):
        plist = vault.find_list(session, list_path)
        record = vault.create_record(session, actor, instance.cipher, plist, data)
        record_id = record.id
    done(f"Record {data.title} added to {list_path} (id {record_id}).")


@record_app.command("list")
def record_list(
    list_path: str = typer.Argument(..., metavar="LIST", help="The list's path."),
    as_json: bool = JsonOption,
) -> None:
    """List the records of a password list (secrets are not shown)."""
    with operation() as (_instance, session, actor):
        plist = vault.find_list(session, list_path)
        rows = [
            {
                "id": r.id,
                "title": r.title,
                "username": r.username,
                "url": r.url,
                "expires": r.expires_at.isoformat() if r.expires_at else None,
                "updated_at": r.updated_at.isoformat(),
            }
            for r in vault.records_in(session, actor, plist)
        ]
    emit(
        rows,
        ["id", "title", "username", "url", "expires"],
        as_json=as_json,
        title=list_path,
    )


def _view_document(
    view: vault.RecordView, record: Record, reveal: bool
) -> dict[str, Any]:
    def secret(value: str, stored: bytes | None) -> str | None:
        if reveal:
            return value
        return None if stored is not None else ""

    return {
        "id": view.id,
        "list": view.list_path,
        "title": view.title,
        "username": view.username,
        "password": secret(view.password, record.password_sealed),
        "url": view.url,
        "description": view.description,
        "notes": secret(view.notes, record.notes_sealed),
        "domain": view.domain,
        "host_name": view.host_name,
        "otp_secret": secret(view.otp_secret, record.otp_sealed),
        "expires": view.expires_at.isoformat() if view.expires_at else None,
        "fields": [
            {
                "name": f.name,
                "value": f.value if (reveal or not f.secret) else None,
                "secret": f.secret,
            }
            for f in view.fields
        ],
        "version": view.version,
        "updated_at": view.updated_at.isoformat() if view.updated_at else None,
        "revealed": reveal,
    }


@record_app.command("show")
def record_show(
    record_ref: str = typer.Argument(..., metavar="ID", help="The record's id."),
    reveal: bool = typer.Option(
        False, "--reveal", help="Show the secrets (the reveal is audited)."
    ),
    as_json: bool = JsonOption,
) -> None:
    """Show a record; secrets stay masked unless --reveal."""
    with operation() as (instance, session, actor):
        record = find_record(session, record_ref)
        try:
            view = vault.read_record(
                session, actor, instance.cipher, record, reveal=reveal
            )
        except DecryptionError as exc:
            raise undecryptable(record.id) from exc
        document = _view_document(view, record, reveal)
    if as_json:
        typer.echo(json.dumps(document, indent=2, ensure_ascii=False))
        return
    rows = []
    for key, value in document.items():
        if key in {"fields", "revealed"}:
            continue
        shown = (
            MASK
            if value is None and key in {"password", "notes", "otp_secret"}
            else value
        )
        rows.append({"field": key.replace("_", " "), "value": shown})
    for extra in document["fields"]:
        value = MASK if extra["value"] is None else extra["value"]
        kind = "secret field" if extra["secret"] else "field"
        rows.append({"field": f"{kind}: {extra['name']}", "value": value})
    emit(rows, ["field", "value"], as_json=False, title=document["title"])


@record_app.command("edit")
def record_edit(
    record_ref: str = typer.Argument(..., metavar="ID", help="The record's id."),
    title: str | None = typer.Option(None, "--title"),
    username: str | None = typer.Option(None, "--username"),
    url: str | None = typer.Option(None, "--url"),
    description: str | None = typer.Option(None, "--description"),
    domain: str | None = typer.Option(None, "--domain"),
    host_name: str | None = typer.Option(None, "--host-name"),
    expires: str | None = typer.Option(
        None, "--expires", help="YYYY-MM-DD, or `never` to clear."
    ),
    fields: list[str] = typer.Option(
        [], "--field", help="Set a plain generic field, NAME=VALUE (repeatable)."
    ),
    remove_fields: list[str] = typer.Option(
        [], "--remove-field", help="Remove the generic field(s) NAME (repeatable)."
    ),
    secret_fields: list[str] = SecretFieldOption,
    password_stdin: bool = PasswordStdinOption,
    secrets_json_stdin: bool = SecretsJsonOption,
    prompt_secrets: bool = typer.Option(
        False, "--prompt-secrets", help="Ask for a new password, notes and OTP secret."
    ),
) -> None:
    """Change a record: only the fields given change; it gets a new version."""
    plain = parse_fields(fields)
    expires_at = parse_date(expires, "--expires") if expires is not None else None
    secrets = gather_secrets(
        password_stdin=password_stdin,
        secrets_json_stdin=secrets_json_stdin,
        secret_fields=secret_fields,
        prompt=prompt_secrets,
        keep_on_empty=True,
    )
    with operation() as (instance, session, actor):
        record = find_record(session, record_ref)
        try:
            current = vault.open_record(session, instance.cipher, record)
        except DecryptionError as exc:
            raise undecryptable(record.id) from exc
        edits = _Edits(
            title=title,
            username=username,
            url=url,
            description=description,
            domain=domain,
            host_name=host_name,
            clear_or_set_expiry=expires is not None,
            expires_at=expires_at,
            plain=plain,
            remove=remove_fields,
            secrets=secrets,
        )
        data = _edited(current, edits)
        vault.update_record(session, actor, instance.cipher, record, data)
        record_id = record.id
    done(f"Record {record_id} updated.")


@dataclass
class _Edits:
    """What `record edit` was told to change; None means "keep"."""

    title: str | None
    username: str | None
    url: str | None
    description: str | None
    domain: str | None
    host_name: str | None
    clear_or_set_expiry: bool
    expires_at: datetime.date | None
    plain: list[tuple[str, str]]
    remove: list[str]
    secrets: Secrets


def _edited(current: vault.RecordView, edits: _Edits) -> vault.RecordInput:
    def pick(new: str | None, old: str) -> str:
        return old if new is None else new

    fields = [f for f in current.fields if f.name not in set(edits.remove)]
    for name, value in edits.plain:
        _set_field(fields, name, value, secret=False)
    for name, value in edits.secrets.fields.items():
        _set_field(fields, name, value, secret=True)
    return vault.RecordInput(
        title=pick(edits.title, current.title),
        username=pick(edits.username, current.username),
        password=pick(edits.secrets.password, current.password),
        url=pick(edits.url, current.url),
        description=pick(edits.description, current.description),
        notes=pick(edits.secrets.notes, current.notes),
        domain=pick(edits.domain, current.domain),
        host_name=pick(edits.host_name, current.host_name),
        otp_secret=pick(edits.secrets.otp_secret, current.otp_secret),
        expires_at=edits.expires_at
        if edits.clear_or_set_expiry
        else current.expires_at,
        fields=fields,
    )


def _set_field(
    fields: list[vault.GenericField], name: str, value: str, *, secret: bool
) -> None:
    for extra in fields:
        if extra.name == name:
            extra.value = value
            extra.secret = secret
            return
    fields.append(vault.GenericField(name, value, secret=secret))


@record_app.command("delete")
def record_delete(
    record_ref: str = typer.Argument(..., metavar="ID", help="The record's id."),
) -> None:
    """Delete a record; phones drop it on their next sync."""
    with operation() as (_instance, session, actor):
        record = find_record(session, record_ref)
        title = record.title
        vault.delete_record(session, actor, record)
    done(f"Record {title} deleted.")


# --- permissions ------------------------------------------------------------------


def parse_level(raw: str) -> Level:
    """Read view, modify or admin (a usage error otherwise)."""
    try:
        return Level[raw.strip().upper()]
    except KeyError:
        raise UsageError(
            f"there is no level {raw!r}", hint="give --level view, modify or admin"
        ) from None


def _grantee(
    session: Session, user: str | None, group: str | None
) -> tuple[User | None, Group | None, str]:
    if (user is None) == (group is None):
        raise UsageError("name exactly one grantee", hint="give --user U or --group G")
    if user is not None:
        return accounts.find_user(session, user), None, f"user {user}"
    return None, accounts.find_group(session, group or ""), f"group {group}"


def grant(
    list_path: str = typer.Argument(..., metavar="LIST", help="The list's path."),
    user: str | None = UserOption,
    group: str | None = GroupOption,
    level: str = typer.Option(..., "--level", help="view, modify or admin."),
    mobile_access: str | None = typer.Option(
        None,
        "--mobile-access",
        help="yes or no; default: the setting mobile_access_default.",
    ),
) -> None:
    """Grant (or change) a user's or group's level on a list."""
    wanted = parse_level(level)
    flag = None if mobile_access is None else yes_no(mobile_access, "--mobile-access")
    with operation() as (_instance, session, actor):
        plist = vault.find_list(session, list_path)
        found_user, found_group, label = _grantee(session, user, group)
        perm = vault.grant(
            session,
            actor,
            plist,
            wanted,
            user=found_user,
            group=found_group,
            mobile_access=flag,
        )
        shown = "yes" if perm.mobile_access else "no"
    done(f"Granted {wanted.label} on {list_path} to {label} (Mobile Access: {shown}).")


def revoke(
    list_path: str = typer.Argument(..., metavar="LIST", help="The list's path."),
    user: str | None = UserOption,
    group: str | None = GroupOption,
) -> None:
    """Remove a user's or group's permission on a list."""
    with operation() as (_instance, session, actor):
        plist = vault.find_list(session, list_path)
        found_user, found_group, label = _grantee(session, user, group)
        vault.revoke(session, actor, plist, user=found_user, group=found_group)
    done(f"Revoked the permission of {label} on {list_path}.")


@mobile_access_app.command("set")
def mobile_access_set(
    args: list[str] = typer.Argument(
        None,
        metavar="LIST... yes|no",
        help="List paths (none with --all), then yes or no.",
    ),
    all_lists: bool = typer.Option(
        False, "--all", help="Every permission on every list."
    ),
) -> None:
    """Set the Mobile Access flag on every permission of the lists named (or --all).

    Examples: `mobile-access set Finance/Bank Ops/Servers no`,
    `mobile-access set --all yes`.
    """
    values = list(args or [])
    if not values:
        raise UsageError(
            "say yes or no", hint="e.g. `mobile-access set LIST... no` or `--all yes`"
        )
    flag = yes_no(values[-1], "mobile-access set")
    paths = values[:-1]
    if all_lists == bool(paths):
        raise UsageError(
            "name the lists or pass --all, not both or neither",
            hint="e.g. `mobile-access set Finance/Bank no` or `--all yes`",
        )
    with operation() as (_instance, session, actor):
        lists: list[PasswordList] | None = (
            None if all_lists else [vault.find_list(session, p) for p in paths]
        )
        changed = vault.set_mobile_access(session, actor, flag, lists=lists)
    where = "every list" if lists is None else f"{len(lists)} list(s)"
    done(
        f"Mobile Access {'on' if flag else 'off'}: {changed} permission(s) changed "
        f"on {where}."
    )


def permissions(
    list_path: str = typer.Argument(..., metavar="LIST", help="The list's path."),
    as_json: bool = JsonOption,
) -> None:
    """Show a list's permissions grid: who, which level, Mobile Access."""
    with operation() as (_instance, session, _actor):
        plist = vault.find_list(session, list_path)
        rows = [
            {
                "grantee_kind": g.grantee_kind,
                "grantee": g.grantee_name,
                "level": g.level.label,
                "mobile_access": "yes" if g.mobile_access else "no",
            }
            for g in vault.grants_on(session, plist)
        ]
    if as_json:
        for row in rows:
            row["mobile_access"] = row["mobile_access"] == "yes"  # type: ignore[assignment]
    emit(
        rows,
        ["grantee_kind", "grantee", "level", "mobile_access"],
        as_json=as_json,
        title=f"Permissions on {list_path}",
    )
