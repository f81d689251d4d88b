"""Records: listed per list, read (secrets only with `?reveal=true`, audited),
created, replaced, patched and deleted (Modify on the list needed)."""

from typing import Annotated

from fastapi import Query, status
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from strongroom.server.core.keys import FieldCipher
from strongroom.server.vault import service as vault
from strongroom.server.vault.models import Level, Record
from strongroom.server.web.api.common import Limit, Offset, PathId, api_router
from strongroom.server.web.api.context import ApiContext, Context
from strongroom.server.web.api.schemas import (
    Deleted,
    FieldOut,
    Page,
    RecordIn,
    RecordOut,
    RecordPatch,
    RecordSummary,
)

router = api_router(tags=["records"])

Search = Annotated[
    str | None,
    Query(
        max_length=200,
        pattern=r"^[^\x00]*$",
        description="Keep records whose title, username or URL contains this.",
    ),
]
Reveal = Annotated[
    bool,
    Query(description="Return the secret fields too (audited as record.revealed)."),
]


def _summary_fields(record: Record) -> dict[str, object]:
    return {
        "id": record.id,
        "list_id": record.list_id,
        "title": record.title,
        "username": record.username,
        "url": record.url,
        "description": record.description,
        "domain": record.domain,
        "host_name": record.host_name,
        "expires_at": record.expires_at,
        "has_password": record.password_sealed is not None,
        "has_notes": record.notes_sealed is not None,
        "has_otp": record.otp_sealed is not None,
        "version": record.version,
        "updated_at": record.updated_at,
    }


def _out(record: Record, view: vault.RecordView, *, revealed: bool) -> RecordOut:
    def secret(value: str, present: bool) -> str | None:
        # Unrevealed secrets are null, never "", so a caller cannot mistake a
        # hidden password for an empty one.
        return value if revealed and present else None

    return RecordOut(
        **_summary_fields(record),
        list_path=view.list_path,
        revealed=revealed,
        password=secret(view.password, record.password_sealed is not None),
        notes=secret(view.notes, record.notes_sealed is not None),
        otp_secret=secret(view.otp_secret, record.otp_sealed is not None),
        fields=[
            FieldOut(
                name=f.name,
                value=f.value if (revealed or not f.secret) else None,
                secret=f.secret,
            )
            for f in view.fields
        ],
    )


def _input(body: RecordIn) -> vault.RecordInput:
    return vault.RecordInput(
        title=body.title,
        username=body.username,
        password=body.password,
        url=body.url,
        description=body.description,
        notes=body.notes,
        domain=body.domain,
        host_name=body.host_name,
        otp_secret=body.otp_secret,
        expires_at=body.expires_at,
        fields=[vault.GenericField(f.name, f.value, f.secret) for f in body.fields],
    )


def _record(session: Session, ctx: ApiContext, record_id: str) -> Record:
    record = vault.get_record(session, record_id)
    ctx.require_list(record.list_id)
    return record


def _plain_out(session: Session, cipher: FieldCipher, record: Record) -> RecordOut:
    view = vault.open_record(session, cipher, record, with_secrets=False)
    return _out(record, view, revealed=False)


def _merge(current: vault.RecordView, body: RecordPatch) -> vault.RecordInput:
    # A field left out, or sent as null, keeps its value; only `expires_at`
    # can be cleared with null, since "" already empties a text field.
    given = body.model_dump(exclude_unset=True)
    changes = {k: v for k, v in given.items() if v is not None or k == "expires_at"}
    if body.fields is not None:
        changes["fields"] = [
            vault.GenericField(f.name, f.value, f.secret) for f in body.fields
        ]
    return vault.RecordInput(
        **{
            name: changes.get(name, getattr(current, name))
            for name in vault.RecordInput.__dataclass_fields__
        }
    )


@router.get(
    "/lists/{list_id}/records",
    response_model=Page[RecordSummary],
    summary="List a password list's records",
)
def list_records(
    ctx: Context,
    list_id: PathId,
    q: Search = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> Page[RecordSummary]:
    """The list's records without secrets, by title (View needed)."""
    ctx.require_list(list_id)
    with ctx.session() as session:
        plist = vault.get_list(session, list_id)
        vault.require_level(session, ctx.actor, plist.id, Level.VIEW)
        where = [Record.list_id == plist.id]
        if q:
            needle = q.lower()
            where.append(
                or_(
                    func.lower(Record.title).contains(needle, autoescape=True),
                    func.lower(Record.username).contains(needle, autoescape=True),
                    func.lower(Record.url).contains(needle, autoescape=True),
                )
            )
        total = session.scalar(select(func.count()).select_from(Record).where(*where))
        rows = session.scalars(
            select(Record)
            .where(*where)
            .order_by(func.lower(Record.title), Record.id)
            .limit(limit)
            .offset(offset)
        )
        items = [RecordSummary(**_summary_fields(r)) for r in rows]
        return Page[RecordSummary](
            items=items, total=int(total or 0), limit=limit, offset=offset
        )


@router.post(
    "/lists/{list_id}/records",
    response_model=RecordOut,
    status_code=status.HTTP_201_CREATED,
    summary="Add a record to a list",
)
def create_record(ctx: Context, list_id: PathId, body: RecordIn) -> RecordOut:
    """Add a record (Modify needed); the reply carries no secrets."""
    ctx.require_list(list_id)
    cipher = ctx.instance.cipher
    with ctx.session() as session:
        plist = vault.get_list(session, list_id)
        record = vault.create_record(session, ctx.actor, cipher, plist, _input(body))
        return _plain_out(session, cipher, record)


@router.get("/records/{record_id}", response_model=RecordOut, summary="Read a record")
def get_record(ctx: Context, record_id: PathId, reveal: Reveal = False) -> RecordOut:
    """Read a record (View needed); with `reveal=true` its secrets too.

    Every read is audited: `record.revealed` with secrets, `record.viewed`
    without.
    """
    cipher = ctx.instance.cipher
    with ctx.session() as session:
        record = _record(session, ctx, record_id)
        view = vault.read_record(session, ctx.actor, cipher, record, reveal=reveal)
        return _out(record, view, revealed=reveal)


@router.put(
    "/records/{record_id}", response_model=RecordOut, summary="Replace a record"
)
def replace_record(ctx: Context, record_id: PathId, body: RecordIn) -> RecordOut:
    """Replace every field of a record (Modify needed); absent fields are cleared."""
    cipher = ctx.instance.cipher
    with ctx.session() as session:
        record = _record(session, ctx, record_id)
        vault.update_record(session, ctx.actor, cipher, record, _input(body))
        return _plain_out(session, cipher, record)


@router.patch(
    "/records/{record_id}", response_model=RecordOut, summary="Change a record"
)
def patch_record(ctx: Context, record_id: PathId, body: RecordPatch) -> RecordOut:
    """Change only the fields given (Modify needed); the others keep their value."""
    cipher = ctx.instance.cipher
    with ctx.session() as session:
        record = _record(session, ctx, record_id)
        # Check first: the merge below opens the record's secrets, which only
        # someone allowed to rewrite them may cause.
        vault.require_level(session, ctx.actor, record.list_id, Level.MODIFY)
        current = vault.open_record(session, cipher, record, with_secrets=True)
        merged = _merge(current, body)
        vault.update_record(session, ctx.actor, cipher, record, merged)
        return _plain_out(session, cipher, record)


@router.delete(
    "/records/{record_id}", response_model=Deleted, summary="Delete a record"
)
def delete_record(ctx: Context, record_id: PathId) -> Deleted:
    """Delete a record (Modify needed); phones drop it on their next sync."""
    with ctx.session() as session:
        vault.delete_record(session, ctx.actor, _record(session, ctx, record_id))
    return Deleted(id=record_id)
