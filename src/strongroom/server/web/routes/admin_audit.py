"""Auditing: filter the log, page through it, export CSV, verify the chain."""

import csv
import datetime
import io
import json
import logging
from collections.abc import Iterator
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import PlainTextResponse, StreamingResponse
from sqlalchemy import func, select
from starlette.responses import Response

from strongroom.server.accounts import service as accounts
from strongroom.server.audit import service as audit
from strongroom.server.audit.models import AuditEvent
from strongroom.server.core.actor import PLATFORMS
from strongroom.server.core.instance import Instance
from strongroom.server.web import queries
from strongroom.server.web.context import WebContext, admin_context
from strongroom.server.web.forms import FormReader, page_number
from strongroom.server.web.routes.common import ADMIN_PAGES
from strongroom.server.web.templating import render

log = logging.getLogger(__name__)

router = APIRouter(include_in_schema=False, dependencies=ADMIN_PAGES)

PAGE_SIZE = 50
FILTER_LABELS = {
    "user": "User",
    "event_type": "Event type",
    "list": "Password list",
    "platform": "Platform",
    "since": "From date",
    "until": "To date",
}
CSV_BATCH = 1000
CSV_COLUMNS = (
    "seq",
    "id",
    "occurred_at",
    "received_at",
    "event_type",
    "outcome",
    "actor_name",
    "actor_user_id",
    "platform",
    "device_id",
    "source_ip",
    "target_type",
    "target_id",
    "target_name",
    "list_id",
    "record_id",
    "details",
    "hash",
)


def _filters(
    request: Request,
) -> tuple[audit.AuditFilter, dict[str, str], dict[str, str]]:
    """Read the filter form (GET); invalid values are reported, not fatal."""
    form = FormReader(request.query_params)
    values = {
        "user": form.text("user", max_len=36),
        "event_type": form.text("event_type", label="event type", max_len=64),
        "list": form.text("list", label="password list", max_len=36),
        "platform": form.choice(
            "platform", list(PLATFORMS), default="", label="platform"
        ),
        "since": form.raw("since") or "",
        "until": form.raw("until") or "",
    }
    since = form.date("since", label="from date")
    until = form.date("until", label="to date")
    if since and until and until < since:
        form.error("until", "The to date is before the from date.")
    filters = audit.AuditFilter(
        user_id=values["user"] or None,
        event_type=values["event_type"] or None,
        list_id=values["list"] or None,
        platform=values["platform"] or None,
        since=_start_of(since),
        # The to date is inclusive: everything before the next midnight.
        until=_start_of(until + datetime.timedelta(days=1)) if until else None,
    )
    return filters, values, form.errors


def _start_of(day: datetime.date | None) -> datetime.datetime | None:
    if day is None:
        return None
    return datetime.datetime.combine(day, datetime.time(), tzinfo=datetime.UTC)


@router.get("/admin/audit")
def audit_page(request: Request, ctx: WebContext = Depends(admin_context)) -> Response:
    """The audit log, newest first, filtered and paged."""
    filters, values, errors = _filters(request)
    page = page_number(request.query_params)
    total, pages, events = 0, 1, []
    with ctx.db() as session:
        # A bad filter shows no table: the unfiltered log under a filter bar
        # the administrator believes applied would be misread.
        if not errors:
            stmt = audit.query(filters)
            total = int(
                session.scalar(
                    select(func.count()).select_from(stmt.order_by(None).subquery())
                )
                or 0
            )
            pages = max(1, -(-total // PAGE_SIZE))
            page = min(page, pages)
            events = list(
                session.scalars(stmt.offset((page - 1) * PAGE_SIZE).limit(PAGE_SIZE))
            )
        users = accounts.list_users(session)
        lists = queries.all_lists(session)
        types = [
            str(t)
            for t in session.scalars(
                select(AuditEvent.event_type).distinct().order_by(AuditEvent.event_type)
            )
        ]
    query = urlencode({k: v for k, v in values.items() if v})
    return render(
        request,
        "admin/audit.html",
        status_code=422 if errors else 200,
        events=events,
        total=total,
        page=page,
        pages=pages,
        values=values,
        errors=errors,
        users=users,
        lists=lists,
        types=types,
        platforms=PLATFORMS,
        query=query,
        labels=FILTER_LABELS,
        chain=None,
    )


@router.get("/admin/audit/verify")
def verify_chain(
    request: Request, ctx: WebContext = Depends(admin_context)
) -> Response:
    """Walk the hash chain and say whether every link holds."""
    with ctx.db() as session:
        report = audit.verify(session)
        audit.record(
            session,
            ctx.actor,
            "audit.verified",
            outcome="success" if report.ok else "failure",
            details={"checked": report.checked, "broken_seq": report.broken_seq},
        )
    return render(request, "admin/audit_verify.html", chain=report)


def _cell(value: object) -> str:
    text = "" if value is None else str(value)
    # Spreadsheets run cells that start with these as formulas (CSV
    # injection, OWASP); a leading quote makes them plain text.
    if text[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + text
    return text


def _csv_rows(instance: Instance, filters: audit.AuditFilter) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    yield buffer.getvalue()
    before: int | None = None
    while True:
        buffer.seek(0)
        buffer.truncate()
        # Keyset paging on seq: steady cost per batch however long the log.
        with instance.db.session() as session:
            stmt = audit.query(filters)
            if before is not None:
                stmt = stmt.where(AuditEvent.seq < before)
            batch = list(session.scalars(stmt.limit(CSV_BATCH)))
            for event in batch:
                writer.writerow(
                    [
                        _cell(event.seq),
                        _cell(event.id),
                        _cell(event.occurred_at.isoformat()),
                        _cell(event.received_at.isoformat()),
                        _cell(event.event_type),
                        _cell(event.outcome),
                        _cell(event.actor_name),
                        _cell(event.actor_user_id),
                        _cell(event.platform),
                        _cell(event.device_id),
                        _cell(event.source_ip),
                        _cell(event.target_type),
                        _cell(event.target_id),
                        _cell(event.target_name),
                        _cell(event.list_id),
                        _cell(event.record_id),
                        # JSON, so a script reading the export can parse it.
                        _cell(
                            json.dumps(event.details, sort_keys=True, default=str)
                            if event.details
                            else ""
                        ),
                        _cell(event.hash),
                    ]
                )
        if not batch:
            return
        yield buffer.getvalue()
        before = batch[-1].seq


@router.get("/admin/audit.csv")
def export_csv(request: Request, ctx: WebContext = Depends(admin_context)) -> Response:
    """The filtered log as CSV (the export itself is audited)."""
    filters, _values, errors = _filters(request)
    if errors:
        # A download link gets words, not a page: say which filter is wrong.
        problems = " ".join(
            f"{FILTER_LABELS.get(field, field)}: {message}"
            for field, message in errors.items()
        )
        return PlainTextResponse(f"Bad audit filter. {problems}\n", status_code=422)
    with ctx.db() as session:
        audit.record(
            session,
            ctx.actor,
            "audit.exported",
            details={k: str(v) for k, v in vars(filters).items() if v is not None},
        )
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y%m%d-%H%M%S")
    return StreamingResponse(
        _csv_rows(ctx.instance, filters),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": (
                f'attachment; filename="strongroom-audit-{stamp}.csv"'
            )
        },
    )
