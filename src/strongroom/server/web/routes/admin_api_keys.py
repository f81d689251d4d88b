"""Administration > API keys: list, create (the key shown once) and revoke.

Every rule lives in `strongroom.server.accounts.api_keys` (who may create what,
the audit events); this module only reads the form and shows the outcome.
"""

import datetime
import logging

from fastapi import APIRouter, Depends, Request
from sqlalchemy.orm import Session
from starlette.datastructures import FormData
from starlette.responses import Response

from strongroom.server.accounts import api_keys
from strongroom.server.accounts import service as accounts
from strongroom.server.accounts.api_key_models import KEY_NAME_MAX, ApiKey
from strongroom.server.core.errors import NotFound, ValidationError
from strongroom.server.vault.models import PasswordList
from strongroom.server.web import queries
from strongroom.server.web.context import (
    WebContext,
    admin_context,
    form_data,
    set_flash,
)
from strongroom.server.web.forms import FormReader, error_for
from strongroom.server.web.routes.common import (
    ADMIN_PAGES,
    Confirmation,
    confirm_page,
    confirmed,
    see_other,
)
from strongroom.server.web.templating import render

log = logging.getLogger(__name__)

router = APIRouter(include_in_schema=False, dependencies=ADMIN_PAGES)

SCOPES = {"system": "System-wide", "lists": "Only the lists ticked below"}
# Service field names to this form's input names.
KEY_FIELDS = {"name": "key_name", "scope": "scope"}
UNKNOWN_LIST = "A ticked list does not exist (any more); choose again."


def _keys_page(
    request: Request,
    ctx: WebContext,
    *,
    status: int = 200,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    chosen: list[str] | None = None,
) -> Response:
    with ctx.db() as session:
        keys = api_keys.list_keys(session)
        lists = queries.all_lists(session)
    return render(
        request,
        "admin/api_keys.html",
        status_code=status,
        keys=keys,
        lists=lists,
        scopes=SCOPES,
        errors=errors or {},
        values=values or {},
        chosen=chosen or [],
    )


@router.get("/admin/api-keys")
def keys_page(request: Request, ctx: WebContext = Depends(admin_context)) -> Response:
    """Every API key with its scope and use, and the form to create one."""
    return _keys_page(request, ctx)


def _read_key_form(data: FormData) -> tuple[FormReader, str, str, list[str]]:
    form = FormReader(data)
    name = form.text("key_name", label="key name", required=True, max_len=KEY_NAME_MAX)
    scope = form.choice("scope", SCOPES, default="")
    chosen = form.values("lists")
    if not scope:
        form.error("scope", "Choose system-wide or chosen lists.")
    elif scope == "lists" and not chosen:
        form.error("lists", "Tick at least one password list for a list-scoped key.")
    return form, name, scope, chosen if scope == "lists" else []


def _chosen_lists(
    session: Session, form: FormReader, chosen: list[str]
) -> list[PasswordList]:
    """The ticked lists; an unknown one is an error on the field, not a 500."""
    found = [session.get(PasswordList, list_id[:36]) for list_id in chosen]
    lists = [plist for plist in found if plist is not None]
    if len(lists) != len(found):
        form.error("lists", UNKNOWN_LIST)
    return lists


@router.post("/admin/api-keys")
def create_key(
    request: Request,
    ctx: WebContext = Depends(admin_context),
    data: FormData = Depends(form_data),
) -> Response:
    """Create a key acting as the signed-in administrator; show it once."""
    form, name, scope, chosen = _read_key_form(data)
    issued: tuple[str, str, str] | None = None
    if form.ok:
        try:
            with ctx.db() as session:
                lists = _chosen_lists(session, form, chosen)
                if form.ok:
                    me = accounts.get_user(session, ctx.user_id)
                    made = api_keys.create_key(
                        session,
                        ctx.actor,
                        name,
                        user=me,
                        lists=lists,
                        system_wide=scope == "system",
                    )
                    issued = (made.key.id, made.key.name, made.token)
        except ValidationError as exc:
            form.error(*error_for(exc, KEY_FIELDS))
    if issued is None:
        values = {"key_name": name, "scope": scope}
        return _keys_page(
            request, ctx, status=422, errors=form.errors, values=values, chosen=chosen
        )
    # Rendered here rather than after a redirect: the only place the secret
    # could wait for the next page is the session row in the database, and a
    # dump of the database must never yield a usable key. The page carries
    # Cache-Control: no-store like every page, so Back does not show it again.
    key_id, key_name, token = issued
    return render(
        request,
        "admin/api_key_created.html",
        key_id=key_id,
        key_name=key_name,
        token=token,
    )


def _key(session: Session, key_id: str) -> ApiKey:
    key = session.get(ApiKey, key_id[:36])
    if key is None:
        raise NotFound("that API key does not exist")
    return key


@router.get("/admin/api-keys/{key_id}/revoke")
def revoke_confirm(
    request: Request, key_id: str, ctx: WebContext = Depends(admin_context)
) -> Response:
    """Ask before revoking a key (or say it already is)."""
    with ctx.db() as session:
        key = _key(session, key_id)
        name, revoked_at = key.name, key.revoked_at
    refusal = (
        f"This key was already revoked on "
        f"{revoked_at.astimezone(datetime.UTC):%Y-%m-%d %H:%M} UTC."
        if revoked_at
        else None
    )
    return confirm_page(
        request,
        Confirmation(
            title=f"Revoke the API key “{name}”?",
            lines=(
                "Calls made with this key fail from now on; scripts using it need "
                "a new key.",
                "A revoked key cannot be brought back.",
            ),
            action=f"/admin/api-keys/{key_id}/revoke",
            button="Revoke key",
            cancel="/admin/api-keys",
            refusal=refusal,
            admin=True,
        ),
    )


@router.post("/admin/api-keys/{key_id}/revoke")
def revoke_key(
    request: Request,
    key_id: str,
    ctx: WebContext = Depends(admin_context),
    data: FormData = Depends(form_data),
) -> Response:
    """Revoke a key (confirmed); the service audits it."""
    if not confirmed(data):
        return revoke_confirm(request, key_id, ctx)
    with ctx.db() as session:
        key = _key(session, key_id)
        changed = api_keys.revoke_key(session, ctx.actor, key)
        state = "revoked" if changed else "was already revoked"
        set_flash(ctx, session, f"API key “{key.name}” {state}.")
    return see_other("/admin/api-keys")
