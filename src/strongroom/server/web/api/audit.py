"""`/api/v1/audit`: query the audit log and verify its chain (administrators)."""

from typing import Annotated, Literal

from fastapi import Query
from sqlalchemy import func, select

from strongroom.server.audit import service as audit
from strongroom.server.web.api.common import Limit, Offset, api_router
from strongroom.server.web.api.context import Context
from strongroom.server.web.api.schemas import (
    ID_PATTERN,
    AuditChainOut,
    AuditEventOut,
    Instant,
    Page,
)

router = api_router(prefix="/audit", tags=["audit"])

# The platforms of core.actor.PLATFORMS, spelled out so OpenAPI lists them
# (a test keeps the two in step).
Platform = Literal["web", "api", "device", "cli", "system"]

IdFilter = Annotated[str | None, Query(pattern=ID_PATTERN)]
EventType = Annotated[
    str | None,
    Query(
        max_length=64, pattern=r"^[A-Za-z0-9_.-]+$", description="e.g. record.revealed"
    ),
]
Since = Annotated[Instant | None, Query(description="From this time (inclusive).")]
Until = Annotated[Instant | None, Query(description="Before this time.")]


@router.get("", response_model=Page[AuditEventOut], summary="Query the audit log")
def query_audit(
    ctx: Context,
    user_id: IdFilter = None,
    event_type: EventType = None,
    list_id: IdFilter = None,
    platform: Platform | None = None,
    device_id: IdFilter = None,
    since: Since = None,
    until: Until = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> Page[AuditEventOut]:
    """Events matching every filter given, newest first."""
    ctx.require_admin()
    filters = audit.AuditFilter(
        user_id=user_id,
        event_type=event_type,
        list_id=list_id,
        platform=platform,
        device_id=device_id,
        since=since,
        until=until,
    )
    stmt = audit.query(filters)
    with ctx.session() as session:
        total = session.scalar(
            select(func.count()).select_from(stmt.order_by(None).subquery())
        )
        rows = session.scalars(stmt.limit(limit).offset(offset))
        items = [
            AuditEventOut(
                seq=e.seq,
                id=e.id,
                occurred_at=e.occurred_at,
                received_at=e.received_at,
                event_type=e.event_type,
                outcome=e.outcome,
                actor_user_id=e.actor_user_id,
                actor_name=e.actor_name,
                platform=e.platform,
                device_id=e.device_id,
                source_ip=e.source_ip,
                target_type=e.target_type,
                target_id=e.target_id,
                target_name=e.target_name,
                list_id=e.list_id,
                record_id=e.record_id,
                details=e.details or {},
            )
            for e in rows
        ]
        return Page[AuditEventOut](
            items=items, total=int(total or 0), limit=limit, offset=offset
        )


@router.get("/verify", response_model=AuditChainOut, summary="Verify the audit chain")
def verify_chain(ctx: Context) -> AuditChainOut:
    """Walk the hash chain and report the first broken link, if any."""
    ctx.require_admin()
    with ctx.session() as session:
        report = audit.verify(session)
    return AuditChainOut(
        ok=report.ok,
        checked=report.checked,
        broken_seq=report.broken_seq,
        reason=report.reason,
    )
