"""`strongroom settings get|set` and `strongroom audit show|verify`."""

import datetime
import json
import logging
from typing import Any

import typer
from sqlalchemy import select
from sqlalchemy.orm import Session

from strongroom.server.accounts import service as accounts
from strongroom.server.audit import service as audit
from strongroom.server.audit.models import AuditEvent
from strongroom.server.cli.common import JsonOption, done, emit, operation
from strongroom.server.core.actor import PLATFORMS
from strongroom.server.core.errors import NotFound, StrongroomError, UsageError
from strongroom.server.settings import service as system_settings
from strongroom.server.vault import service as vault

log = logging.getLogger(__name__)

settings_app = typer.Typer(help="System settings.", no_args_is_help=True)
audit_app = typer.Typer(help="The hash-chained audit log.", no_args_is_help=True)

# Kept by Strongroom itself: each has its own command (the pairing secret is
# regenerated, never typed in), so `settings` neither shows nor sets them.
INTERNAL_KEYS = frozenset(
    {
        system_settings.INSTANCE_ID,
        system_settings.PAIRING_SECRET,
        system_settings.PAIRING_SECRET_GENERATION,
        system_settings.PAIRING_SECRET_CHANGED_AT,
        system_settings.APP_SERVER_URL_CHANGED_AT,
    }
)


class AuditChainBroken(StrongroomError):
    """`audit verify` found a link that does not hold."""

    code = "audit_chain_broken"


def _refuse_internal(key: str) -> None:
    if key in INTERNAL_KEYS:
        raise UsageError(
            f"{key} is kept by Strongroom itself and cannot be read or set here",
            hint="`strongroom settings get` lists the settings you can change",
        )


# --- settings -----------------------------------------------------------------


@settings_app.command("get")
def settings_get(
    key: str | None = typer.Argument(None, help="One setting; all when left out."),
    as_json: bool = JsonOption,
) -> None:
    """Show one setting or all of them, with their descriptions."""
    if key is not None:
        _refuse_internal(key)
    with operation() as (_instance, session, _actor):
        if key is None:
            values = system_settings.all_values(session)
        else:
            values = {key: system_settings.get(session, key)}
    rows = [
        {
            "key": name,
            "value": value,
            "default": system_settings.DEFINITIONS[name].default,
            "description": system_settings.DEFINITIONS[name].description,
        }
        for name, value in sorted(values.items())
    ]
    if as_json:
        if key is not None:
            typer.echo(json.dumps(rows[0], indent=2))
            return
        typer.echo(json.dumps(rows, indent=2))
        return
    emit(rows, ["key", "value", "description"], as_json=False, title="Settings")


# A negative number such as `-3` is a value, not an option: it reaches the
# setting's own check, which names the range it takes.
@settings_app.command("set", context_settings={"ignore_unknown_options": True})
def settings_set(
    key: str = typer.Argument(..., help="The setting's key (see `settings get`)."),
    value: str = typer.Argument(..., help="The new value."),
) -> None:
    """Change a setting; the value is checked against the setting's type."""
    _refuse_internal(key)
    with operation() as (_instance, session, actor):
        stored = system_settings.set_value(session, actor, key, value)
    done(f"{key} = {json.dumps(stored)}")


# --- audit ----------------------------------------------------------------------


def parse_time(raw: str | None, option: str) -> datetime.datetime | None:
    """Read an ISO date or date-time; one without a zone is taken as UTC."""
    if raw is None:
        return None
    try:
        parsed = datetime.datetime.fromisoformat(raw.strip())
    except ValueError:
        raise UsageError(
            f"{option} takes an ISO date or time, not {raw!r}",
            hint=f"for example {option} 2025-01-31 or {option} 2025-01-31T08:00",
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=datetime.UTC)
    return parsed


def _list_id(session: Session, ref: str) -> str:
    # Events outlive their lists: a deleted list's id still filters the log.
    try:
        return vault.find_list(session, ref).id
    except NotFound:
        if len(ref) == 36 and ref.count("-") == 4:
            return ref
        raise


def _check_event_type(session: Session, event_type: str) -> None:
    # A mistyped type would match nothing and print an empty log, which reads
    # as "it never happened"; name the types the log holds instead.
    known = list(
        session.scalars(
            select(AuditEvent.event_type).distinct().order_by(AuditEvent.event_type)
        )
    )
    if event_type not in known:
        raise UsageError(
            f"no event of type {event_type!r} is in the audit log",
            hint=f"the types in it: {', '.join(known) or 'none yet'}",
        )


def _event_row(event: AuditEvent) -> dict[str, Any]:
    return {
        "seq": event.seq,
        "id": event.id,
        "occurred_at": event.occurred_at.isoformat(),
        "received_at": event.received_at.isoformat(),
        "event_type": event.event_type,
        "outcome": event.outcome,
        "actor": event.actor_name,
        "actor_user_id": event.actor_user_id,
        "platform": event.platform,
        "device_id": event.device_id,
        "source_ip": event.source_ip,
        "target_type": event.target_type,
        "target_id": event.target_id,
        "target": event.target_name,
        "list_id": event.list_id,
        "record_id": event.record_id,
        "details": event.details,
    }


@audit_app.command("show")
def audit_show(
    user: str | None = typer.Option(None, "--user", help="Events by this user."),
    event_type: str | None = typer.Option(
        None, "--type", help="One event type, e.g. record.revealed."
    ),
    list_ref: str | None = typer.Option(
        None, "--list", help="Events on this list (path, or id of a deleted one)."
    ),
    platform: str | None = typer.Option(
        None, "--platform", help=f"One of {', '.join(PLATFORMS)}."
    ),
    since: str | None = typer.Option(None, "--since", help="From this ISO time on."),
    until: str | None = typer.Option(None, "--until", help="Before this ISO time."),
    limit: int = typer.Option(50, "--limit", min=1, help="At most this many events."),
    as_json: bool = JsonOption,
) -> None:
    """Show the newest audit events, optionally filtered."""
    if platform is not None and platform not in PLATFORMS:
        raise UsageError(
            f"there is no platform {platform!r}", hint=f"give {', '.join(PLATFORMS)}"
        )
    filters_since = parse_time(since, "--since")
    filters_until = parse_time(until, "--until")
    with operation() as (_instance, session, _actor):
        if event_type is not None:
            _check_event_type(session, event_type)
        filters = audit.AuditFilter(
            user_id=accounts.find_user(session, user).id if user else None,
            event_type=event_type,
            list_id=_list_id(session, list_ref) if list_ref else None,
            platform=platform,
            since=filters_since,
            until=filters_until,
        )
        events = session.scalars(audit.query(filters).limit(limit)).all()
        rows = [_event_row(event) for event in events]
    if as_json:
        typer.echo(json.dumps(rows, indent=2, default=str, ensure_ascii=False))
        return
    for row in rows:
        row["occurred_at"] = str(row["occurred_at"])[:19].replace("T", " ")
    emit(
        rows,
        ["seq", "occurred_at", "event_type", "actor", "platform", "target", "outcome"],
        as_json=False,
        title="Audit log (newest first)",
    )


@audit_app.command("verify")
def audit_verify() -> None:
    """Check the whole hash chain; exit 1 naming the first broken link."""
    with operation() as (_instance, session, _actor):
        report = audit.verify(session)
    if not report.ok:
        # The log is evidence: say exactly where it stops holding so the
        # rows from there on can be compared with a backup.
        raise AuditChainBroken(
            f"the audit chain is broken at seq {report.broken_seq}: {report.reason} "
            f"({report.checked} event(s) before it verified)",
            hint="compare the audit_events table with a backup from that seq on "
            "and find out who changed the database",
        )
    done(f"Audit chain intact: {report.checked} event(s) verified.")
