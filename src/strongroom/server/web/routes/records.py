"""Record pages: view with masked secrets, reveal and copy (both audited), the
current TOTP code, add, edit and delete; and the password generator."""

import logging
import re
from dataclasses import dataclass

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session
from starlette.datastructures import FormData
from starlette.responses import Response

from strongroom.server.audit import service as audit
from strongroom.server.core.errors import ValidationError
from strongroom.server.vault import service as vault
from strongroom.server.vault.models import (
    DESCRIPTION_MAX,
    TITLE_MAX,
    URL_MAX,
    USERNAME_MAX,
    Level,
    Record,
)
from strongroom.server.vault.service import GenericField, RecordInput, RecordView
from strongroom.server.web import generator, otp
from strongroom.server.web.context import WebContext, form_data, set_flash, web_context
from strongroom.server.web.forms import FormReader, error_for
from strongroom.server.web.routes.common import (
    USER_PAGES,
    confirmed,
    ensure_level,
    see_other,
)
from strongroom.server.web.templating import render

log = logging.getLogger(__name__)

router = APIRouter(include_in_schema=False, dependencies=USER_PAGES)

EXTRA_FIELD_ROWS = 3
# A generic-field input's name and its row number; a record imported from a
# file may carry any number of fields, so the form is read row by row as sent.
FIELD_ROW = re.compile(r"field_(?:name|value)_(\d{1,5})")
# Service field names (as people say them) to this form's input names.
FIELD_NAMES = {
    "title": "title",
    "username": "username",
    "password": "password",
    "url": "url",
    "description": "description",
    "notes": "notes",
    "domain": "domain",
    "host name": "host_name",
    "OTP secret": "otp_secret",
    "expiry date": "expires_at",
}


# --- viewing -------------------------------------------------------------------


def _record(session: Session, ctx: WebContext, record_id: str, level: Level) -> Record:
    record = vault.get_record(session, record_id)
    ensure_level(session, ctx, record.list_id, level, record_id=record.id)
    return record


def _otp_of(session: Session, ctx: WebContext, record: Record) -> str:
    if record.otp_sealed is None:
        return ""
    opened = vault.open_record(session, ctx.instance.cipher, record, with_secrets=True)
    return opened.otp_secret


@router.get("/records/{record_id}")
def record_page(
    request: Request, record_id: str, ctx: WebContext = Depends(web_context)
) -> Response:
    """A record with its secrets masked (viewing is audited as record.viewed)."""
    return _show(request, ctx, record_id, reveal=False)


def _show(
    request: Request,
    ctx: WebContext,
    record_id: str,
    *,
    reveal: bool,
    copied: str | None = None,
) -> Response:
    with ctx.db() as session:
        record = _record(session, ctx, record_id, Level.VIEW)
        view = vault.read_record(
            session, ctx.actor, ctx.instance.cipher, record, reveal=reveal
        )
        code = otp.current(_otp_of(session, ctx, record))
        level = vault.effective_level(session, ctx.user_id, record.list_id)
        secret_flags = {
            "password": record.password_sealed is not None,
            "notes": record.notes_sealed is not None,
            "otp": record.otp_sealed is not None,
        }
    return render(
        request,
        "vault/record.html",
        r=view,
        revealed=reveal,
        code=code,
        has=secret_flags,
        copied=copied,
        can_modify=level is not None and level >= Level.MODIFY,
    )


@router.post("/records/{record_id}/reveal")
def reveal(
    request: Request, record_id: str, ctx: WebContext = Depends(web_context)
) -> Response:
    """Show the secrets (audited as record.revealed); JSON for the page's script."""
    wants_json = "application/json" in request.headers.get("accept", "")
    if not wants_json:
        return _show(request, ctx, record_id, reveal=True)
    with ctx.db() as session:
        record = _record(session, ctx, record_id, Level.VIEW)
        view = vault.read_record(
            session, ctx.actor, ctx.instance.cipher, record, reveal=True
        )
    return JSONResponse(
        {
            "password": view.password,
            "notes": view.notes,
            "otp_secret": view.otp_secret,
            "fields": [f.value for f in view.fields],
        }
    )


COPYABLE = ("password", "notes", "otp_secret")
FIELD_PREFIX = "field-"


def _copy_value(view: RecordView, what: str) -> str | None:
    """The value of copyable field `what`, or None when there is no such field.

    `what` is a secret's name, "otp_code" (the current one-time code) or
    "field-N" (the record's N-th generic field, counted from 0).
    """
    if what in COPYABLE:
        return str(getattr(view, what))
    if what == "otp_code":
        code = otp.current(view.otp_secret) if view.otp_secret else None
        return code[0] if code else None
    if what.startswith(FIELD_PREFIX) and what[len(FIELD_PREFIX) :].isdigit():
        index = int(what[len(FIELD_PREFIX) :])
        if index < len(view.fields):
            return view.fields[index].value
    return None


@router.post("/records/{record_id}/copy")
def copy(
    request: Request,
    record_id: str,
    ctx: WebContext = Depends(web_context),
    data: FormData = Depends(form_data),
) -> Response:
    """Hand one secret to the page's script for the clipboard (audited as
    record.copied); without script, show it selected for Ctrl+C."""
    what = (FormReader(data).raw("field") or "").strip()
    with ctx.db() as session:
        record = _record(session, ctx, record_id, Level.VIEW)
        view = vault.open_record(
            session, ctx.instance.cipher, record, with_secrets=True
        )
        value = _copy_value(view, what)
        if value is None:
            # Anything but a named secret is refused: the old fallback to the
            # password handed it out for a typo or a forged field name.
            raise ValidationError(
                "field",
                "that is not a field of this record that can be copied",
                hint="copy the password, notes, OTP secret, one-time code or a "
                "field of the record",
            )
        # The copy is the disclosure: audit it in the same transaction.
        audit.record(
            session,
            ctx.actor,
            "record.copied",
            target_type="record",
            target_id=record.id,
            target_name=record.title,
            list_id=record.list_id,
            record_id=record.id,
            details={"field": what},
        )
    if "application/json" in request.headers.get("accept", ""):
        return JSONResponse({"value": value})
    return _show(request, ctx, record_id, reveal=False, copied=value)


@router.get("/records/{record_id}/otp")
def otp_code(record_id: str, ctx: WebContext = Depends(web_context)) -> Response:
    """The record's current TOTP code and seconds left (the countdown refreshes it)."""
    with ctx.db() as session:
        record = _record(session, ctx, record_id, Level.VIEW)
        code = otp.current(_otp_of(session, ctx, record))
    if code is None:
        return JSONResponse({"code": None, "remaining": 0}, status_code=404)
    return JSONResponse({"code": code[0], "remaining": code[1], "period": code[2]})


# --- add and edit --------------------------------------------------------------


@dataclass
class RecordForm:
    """What the add/edit form holds, for re-showing it with messages."""

    data: RecordInput
    errors: dict[str, str]


def read_record_form(raw: FormData) -> RecordForm:
    """Read and check every field, collecting one message per field."""
    form = FormReader(raw)
    data = RecordInput(
        title=form.text("title", required=True, max_len=TITLE_MAX),
        username=form.text("username", label="user name", max_len=USERNAME_MAX),
        password=form.text("password", max_len=4096, strip=False),
        url=form.text("url", label="URL", max_len=URL_MAX),
        description=form.text("description", max_len=DESCRIPTION_MAX),
        notes=form.text("notes", max_len=65_536, strip=False),
        domain=form.text("domain", max_len=255),
        host_name=form.text("host_name", label="host name", max_len=255),
        otp_secret=form.text("otp_secret", label="OTP secret", max_len=1024),
        expires_at=form.date("expires_at", label="expiry date"),
    )
    if data.otp_secret:
        try:
            otp.check(data.otp_secret)
        except ValueError:
            form.error(
                "otp_secret",
                "The OTP secret must be base32 (letters A-Z and digits 2-7) or an "
                "otpauth:// link.",
            )
    if (
        data.url
        and not data.url.lower().startswith(("http://", "https://", "ftp://", "ssh://"))
        and "://" in data.url
    ):
        form.error(
            "url", "The URL must start with http://, https://, ftp:// or ssh://."
        )
    for i in _field_rows(raw):
        name = form.text(f"field_name_{i}", label="field name", max_len=200)
        value = form.text(
            f"field_value_{i}", label="field value", max_len=65_536, strip=False
        )
        if not name and not value:
            continue
        if not name:
            form.error(f"field_name_{i}", "Give this field a name, or clear its value.")
        data.fields.append(
            GenericField(name=name, value=value, secret=form.flag(f"field_secret_{i}"))
        )
    return RecordForm(data=data, errors=form.errors)


def _field_rows(raw: FormData) -> list[int]:
    """The generic-field rows the form sent, in their order on the page.

    Every row the page showed comes back, however many the record has, so
    saving never drops a field the form did not happen to count up to.
    """
    rows = {int(m.group(1)) for key in raw if (m := FIELD_ROW.fullmatch(key))}
    return sorted(rows)


def _form_page(
    request: Request,
    *,
    action: str,
    heading: str,
    data: RecordInput,
    errors: dict[str, str],
    list_path: str,
    list_id: str,
    status: int = 200,
) -> Response:
    rows = list(data.fields) + [GenericField("", "") for _ in range(EXTRA_FIELD_ROWS)]
    return render(
        request,
        "vault/record_form.html",
        status_code=status,
        action=action,
        heading=heading,
        r=data,
        extra_rows=rows,
        errors=errors,
        list_path=list_path,
        list_id=list_id,
        classes=generator.CLASSES,
    )


@router.get("/lists/{list_id}/records/new")
def new_record_form(
    request: Request, list_id: str, ctx: WebContext = Depends(web_context)
) -> Response:
    """The empty record form."""
    with ctx.db() as session:
        plist = vault.get_list(session, list_id)
        ensure_level(session, ctx, plist.id, Level.MODIFY)
        path = vault.list_path(session, plist)
    return _form_page(
        request,
        action=f"/lists/{list_id}/records/new",
        heading=f"Add a record to {path}",
        data=RecordInput(title=""),
        errors={},
        list_path=path,
        list_id=list_id,
    )


@router.post("/lists/{list_id}/records/new")
def create_record(
    request: Request,
    list_id: str,
    ctx: WebContext = Depends(web_context),
    data: FormData = Depends(form_data),
) -> Response:
    """Add a record; every field's problem is shown next to it."""
    submitted = read_record_form(data)
    with ctx.db() as session:
        plist = vault.get_list(session, list_id)
        ensure_level(session, ctx, plist.id, Level.MODIFY)
        path = vault.list_path(session, plist)
        if not submitted.errors:
            try:
                record = vault.create_record(
                    session, ctx.actor, ctx.instance.cipher, plist, submitted.data
                )
                set_flash(ctx, session, f"Record {record.title!r} added.")
                return see_other(f"/records/{record.id}")
            except ValidationError as exc:
                session.rollback()
                submitted.errors.setdefault(*error_for(exc, FIELD_NAMES))
    return _form_page(
        request,
        action=f"/lists/{list_id}/records/new",
        heading=f"Add a record to {path}",
        data=submitted.data,
        errors=submitted.errors,
        list_path=path,
        list_id=list_id,
        status=422,
    )


def _as_input(view: RecordView) -> RecordInput:
    return RecordInput(
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
        fields=list(view.fields),
    )


@router.get("/records/{record_id}/edit")
def edit_record_form(
    request: Request, record_id: str, ctx: WebContext = Depends(web_context)
) -> Response:
    """The filled-in record form; it holds the secrets, so opening it is
    audited as a reveal."""
    with ctx.db() as session:
        record = _record(session, ctx, record_id, Level.MODIFY)
        view = vault.read_record(
            session, ctx.actor, ctx.instance.cipher, record, reveal=True
        )
    return _form_page(
        request,
        action=f"/records/{record_id}/edit",
        heading=f"Edit {view.title}",
        data=_as_input(view),
        errors={},
        list_path=view.list_path,
        list_id=view.list_id,
    )


@router.post("/records/{record_id}/edit")
def update_record(
    request: Request,
    record_id: str,
    ctx: WebContext = Depends(web_context),
    data: FormData = Depends(form_data),
) -> Response:
    """Save a record's new values (a new version phones pick up)."""
    submitted = read_record_form(data)
    with ctx.db() as session:
        record = _record(session, ctx, record_id, Level.MODIFY)
        path = vault.list_path(session, vault.get_list(session, record.list_id))
        list_id = record.list_id
        if not submitted.errors:
            try:
                vault.update_record(
                    session, ctx.actor, ctx.instance.cipher, record, submitted.data
                )
                set_flash(ctx, session, "Record saved.")
                return see_other(f"/records/{record_id}")
            except ValidationError as exc:
                session.rollback()
                submitted.errors.setdefault(*error_for(exc, FIELD_NAMES))
    return _form_page(
        request,
        action=f"/records/{record_id}/edit",
        heading="Edit record",
        data=submitted.data,
        errors=submitted.errors,
        list_path=path,
        list_id=list_id,
        status=422,
    )


@router.get("/records/{record_id}/delete")
def delete_confirm(
    request: Request, record_id: str, ctx: WebContext = Depends(web_context)
) -> Response:
    """Ask before deleting."""
    with ctx.db() as session:
        record = _record(session, ctx, record_id, Level.MODIFY)
        title, list_id = record.title, record.list_id
    return render(
        request,
        "vault/record_delete.html",
        title=title,
        record_id=record_id,
        list_id=list_id,
    )


@router.post("/records/{record_id}/delete")
def delete_record(
    request: Request,
    record_id: str,
    ctx: WebContext = Depends(web_context),
    data: FormData = Depends(form_data),
) -> Response:
    """Delete a record (confirmed); phones drop it on their next sync."""
    if not confirmed(data):
        return delete_confirm(request, record_id, ctx)
    with ctx.db() as session:
        record = _record(session, ctx, record_id, Level.MODIFY)
        list_id, title = record.list_id, record.title
        vault.delete_record(session, ctx.actor, record)
        set_flash(ctx, session, f"Record {title!r} deleted.")
    return see_other(f"/lists/{list_id}")


# --- generator -----------------------------------------------------------------


def _recipe(request: Request) -> tuple[generator.Recipe, dict[str, str]]:
    form = FormReader(request.query_params)
    length = form.integer(
        "length",
        low=generator.MIN_LENGTH,
        high=generator.MAX_LENGTH,
        default=generator.DEFAULT_LENGTH,
    )
    chosen = tuple(c for c in generator.CLASSES if c in form.values("classes"))
    if not request.query_params.get("length") and not chosen:
        chosen = tuple(generator.CLASSES)
    if not chosen:
        form.error("classes", "Choose at least one kind of character.")
        chosen = tuple(generator.CLASSES)
    return (
        generator.Recipe(
            length=length, classes=chosen, avoid_ambiguous=form.flag("avoid_ambiguous")
        ),
        form.errors,
    )


@router.get("/generator")
def generator_page(
    request: Request, ctx: WebContext = Depends(web_context)
) -> Response:
    """Generate a password with the chosen length and character classes."""
    recipe, errors = _recipe(request)
    return render(
        request,
        "vault/generator.html",
        password=generator.generate(recipe),
        recipe=recipe,
        classes=generator.CLASSES,
        errors=errors,
        min_length=generator.MIN_LENGTH,
        max_length=generator.MAX_LENGTH,
        status_code=422 if errors else 200,
    )


@router.get("/generator.json")
def generator_json(
    request: Request, ctx: WebContext = Depends(web_context)
) -> Response:
    """A generated password for the record form's Generate button."""
    recipe, errors = _recipe(request)
    if errors:
        return JSONResponse(
            {"code": "invalid_field", "errors": errors}, status_code=422
        )
    return JSONResponse({"password": generator.generate(recipe)})
