"""Administration of mobile access: System Settings (with the pin and the
pairing secret), bulk Mobile Access processing, and Mobile diagnostics."""

import logging
from typing import Any

from fastapi import APIRouter, Depends, Request
from sqlalchemy.orm import Session
from starlette.datastructures import FormData
from starlette.responses import Response

from strongroom.server.accounts import service as accounts
from strongroom.server.core.errors import NotFound, ValidationError
from strongroom.server.doctor import probe as doctor_probe
from strongroom.server.doctor import service as doctor
from strongroom.server.mobile import service as mobile
from strongroom.server.settings import service as settings
from strongroom.server.vault import service as vault
from strongroom.server.vault.models import PasswordList
from strongroom.server.web import queries
from strongroom.server.web.context import (
    WebContext,
    admin_context,
    form_data,
    set_flash,
)
from strongroom.server.web.forms import FormReader, error_for
from strongroom.server.web.routes.common import ADMIN_PAGES, confirmed, see_other
from strongroom.server.web.templating import render

log = logging.getLogger(__name__)

router = APIRouter(include_in_schema=False, dependencies=ADMIN_PAGES)

BOOLEAN_SETTINGS = frozenset({"mobile_access_default", "biometric_allowed"})
# The order and grouping the settings page shows.
SECTIONS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("App Server", ("app_server_url", "app_server_pin")),
    (
        "Mobile Access",
        (
            "mobile_access_default",
            "offline_ttl_days",
            "failed_unlock_limit",
            "biometric_allowed",
            "master_password_reentry_hours",
        ),
    ),
    (
        "Sign-in",
        (
            "failed_login_limit",
            "lockout_minutes",
            "session_idle_minutes",
            "session_absolute_hours",
        ),
    ),
)
# Seconds each network step of Query may take: long enough for a far App
# Server, short enough that the admin's page does not seem to hang.
PIN_QUERY_TIMEOUT = 5.0

PROBE_KINDS = {
    "invalid_url": "invalid URL",
    "dns": "DNS: the name does not resolve",
    "refused": "connection refused",
    "timeout": "timed out",
    "tls": "TLS handshake failed",
    "name_mismatch": "name mismatch",
    "expired": "certificate expired",
    "http": "HTTP",
}


def _display(key: str, value: Any) -> str:
    if key in BOOLEAN_SETTINGS:
        return "yes" if value else "no"
    return "" if value is None else str(value)


def _settings_page(
    request: Request,
    ctx: WebContext,
    *,
    status: int = 200,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    pin_result: doctor_probe.PinResult | None = None,
) -> Response:
    with ctx.db() as session:
        stored = settings.all_values(session)
        generation = settings.pairing_secret(session, ctx.instance.cipher)[1]
        secret_changed = settings.changed_at(
            session, settings.PAIRING_SECRET_CHANGED_AT
        )
    shown = {key: _display(key, value) for key, value in stored.items()}
    shown.update(values or {})
    # Every key the service defines appears, even one added after this page.
    listed = {key for _title, keys in SECTIONS for key in keys}
    sections = list(SECTIONS)
    extra = tuple(key for key in settings.DEFINITIONS if key not in listed)
    if extra:
        sections.append(("Other", extra))
    return render(
        request,
        "admin/settings.html",
        status_code=status,
        sections=sections,
        definitions=settings.DEFINITIONS,
        booleans=BOOLEAN_SETTINGS,
        ttl_choices=settings.TTL_CHOICES,
        values=shown,
        errors=errors or {},
        generation=generation,
        secret_changed=secret_changed,
        pin_result=pin_result,
    )


@router.get("/admin/settings")
def settings_page(
    request: Request, ctx: WebContext = Depends(admin_context)
) -> Response:
    """Every system setting with its description and current value."""
    return _settings_page(request, ctx)


@router.post("/admin/settings")
def save_settings(
    request: Request,
    ctx: WebContext = Depends(admin_context),
    data: FormData = Depends(form_data),
) -> Response:
    """Validate every field first; store the changed ones only if all are valid."""
    form = FormReader(data)
    submitted: dict[str, str] = {}
    parsed: dict[str, Any] = {}
    for key, spec in settings.DEFINITIONS.items():
        raw = form.raw(key)
        if raw is None:
            continue
        text = form.text(key, label=key.replace("_", " "), max_len=2048)
        submitted[key] = text
        try:
            parsed[key] = spec.parse(text)
        except ValueError as exc:
            message = str(exc)
            form.error(key, message[:1].upper() + message[1:] + ".")
    if not form.ok:
        return _settings_page(
            request, ctx, status=422, errors=form.errors, values=submitted
        )

    changed: list[str] = []
    try:
        with ctx.db() as session:
            current = settings.all_values(session)
            for key, value in parsed.items():
                if value != current.get(key):
                    settings.set_value(session, ctx.actor, key, value)
                    changed.append(key)
            set_flash(
                ctx,
                session,
                f"Saved: {', '.join(changed)}." if changed else "Nothing changed.",
            )
    except ValidationError as exc:
        # A rule that needs the stored value (a URL may not be blanked); the
        # session rolled back, so nothing of this form was saved.
        form.error(*error_for(exc, {key: key for key in settings.DEFINITIONS}))
        return _settings_page(
            request, ctx, status=422, errors=form.errors, values=submitted
        )
    return see_other("/admin/settings")


@router.post("/admin/settings/pin/clear")
def clear_pin(ctx: WebContext = Depends(admin_context)) -> Response:
    """Forget the stored pin (phones cannot pair until a new one is stored)."""
    with ctx.db() as session:
        settings.set_value(session, ctx.actor, "app_server_pin", "")
        set_flash(
            ctx,
            session,
            "The App Server pin is cleared; query it again before pairing.",
        )
    return see_other("/admin/settings")


@router.post("/admin/settings/pin/query")
def query_pin(
    request: Request,
    ctx: WebContext = Depends(admin_context),
    data: FormData = Depends(form_data),
) -> Response:
    """Fetch the live certificate's pin from the App Server URL and store it;
    a failure is named (DNS, refused, timeout, TLS, name mismatch, expired)."""
    form = FormReader(data)
    typed = form.text("app_server_url", max_len=2048)
    with ctx.db() as session:
        url = typed or str(settings.get(session, "app_server_url") or "")
    if not url:
        form.error(
            "app_server_url", "Set the App Server URL first, then query its pin."
        )
        return _settings_page(request, ctx, status=422, errors=form.errors)
    try:
        result = doctor_probe.query_pin(url, timeout=PIN_QUERY_TIMEOUT)
    except doctor_probe.ProbeFailed as exc:
        label = PROBE_KINDS.get(exc.kind, exc.kind)
        form.error(
            "app_server_pin",
            f"Query failed ({label}): {exc.message}."
            + (f" {exc.hint}." if exc.hint else ""),
        )
        log.info("web_pin_query_failed kind=%s", exc.kind)
        return _settings_page(
            request, ctx, status=422, errors=form.errors, values={"app_server_url": url}
        )
    with ctx.db() as session:
        settings.store_pin(session, ctx.actor, result.pin)
        set_flash(
            ctx,
            session,
            f"Pin stored from {url}: certificate for {', '.join(result.cert_names)}, "
            f"valid until {result.not_after:%Y-%m-%d}.",
        )
    return see_other("/admin/settings")


@router.get("/admin/settings/pairing-secret")
def pairing_secret_confirm(
    request: Request, ctx: WebContext = Depends(admin_context)
) -> Response:
    """Ask before regenerating: it invalidates every QR code and revokes every
    paired device, and the page says how many devices that is."""
    with ctx.db() as session:
        active = mobile.active_device_count(session)
    return render(request, "admin/pairing_confirm.html", active=active)


@router.post("/admin/settings/pairing-secret")
def regenerate_pairing_secret(
    request: Request,
    ctx: WebContext = Depends(admin_context),
    data: FormData = Depends(form_data),
) -> Response:
    """Generate New App Pairing Secret (confirmed); revokes every paired device."""
    if not confirmed(data):
        return pairing_secret_confirm(request, ctx)
    with ctx.db() as session:
        result = mobile.regenerate_pairing_secret(
            session, ctx.actor, ctx.instance.cipher
        )
        revoked = result.devices_revoked
        set_flash(
            ctx,
            session,
            f"New App Pairing Secret made (generation {result.generation}); every "
            f"earlier QR code stopped working and {revoked} paired "
            f"device{'' if revoked == 1 else 's'} {'was' if revoked == 1 else 'were'} "
            "revoked. Every phone must be paired again from a new QR code.",
        )
    return see_other("/admin/settings")


# --- bulk Mobile Access ---------------------------------------------------------


def _all_lists(ctx: WebContext) -> list[queries.ListChoice]:
    with ctx.db() as session:
        return queries.all_lists(session)


@router.get("/admin/bulk-mobile-access")
def bulk_form(request: Request, ctx: WebContext = Depends(admin_context)) -> Response:
    """Choose lists (or all) and Yes or No."""
    return render(
        request,
        "admin/bulk.html",
        lists=_all_lists(ctx),
        errors={},
        chosen=[],
        scope="chosen",
        value="",
    )


def _bulk_choice(
    ctx: WebContext, data: FormData
) -> tuple[FormReader, str, list[str], str]:
    form = FormReader(data)
    scope = form.choice("scope", ["all", "chosen"], default="chosen")
    chosen = form.values("lists")
    value = form.choice("value", ["yes", "no"], default="")
    if not value:
        form.error("value", "Choose Yes or No.")
    if scope == "chosen" and not chosen:
        form.error("lists", "Tick at least one list, or choose all lists.")
    return form, scope, chosen, value


def _lists_of(session: Session, chosen: list[str]) -> list[PasswordList]:
    found = [session.get(PasswordList, list_id) for list_id in chosen]
    lists = [plist for plist in found if plist is not None]
    if len(lists) != len(chosen):
        raise NotFound("some of the chosen lists no longer exist", hint="choose again")
    return lists


@router.post("/admin/bulk-mobile-access/confirm")
def bulk_confirm(
    request: Request,
    ctx: WebContext = Depends(admin_context),
    data: FormData = Depends(form_data),
) -> Response:
    """Say how many permissions would change before changing any."""
    form, scope, chosen, value = _bulk_choice(ctx, data)
    if not form.ok:
        return render(
            request,
            "admin/bulk.html",
            status_code=422,
            lists=_all_lists(ctx),
            errors=form.errors,
            chosen=chosen,
            scope=scope,
            value=value,
        )
    with ctx.db() as session:
        lists = None if scope == "all" else _lists_of(session, chosen)
        count = vault.count_mobile_access_changes(session, value == "yes", lists)
        names = [vault.list_path(session, plist) for plist in lists or []]
    return render(
        request,
        "admin/bulk_confirm.html",
        count=count,
        scope=scope,
        chosen=chosen,
        names=names,
        value=value,
    )


@router.post("/admin/bulk-mobile-access/apply")
def bulk_apply(
    request: Request,
    ctx: WebContext = Depends(admin_context),
    data: FormData = Depends(form_data),
) -> Response:
    """Set Mobile Access on every permission of the chosen lists (audited),
    once confirmed on the page that shows the count."""
    if not confirmed(data):
        return bulk_confirm(request, ctx, data)
    form, scope, chosen, value = _bulk_choice(ctx, data)
    if not form.ok:
        return render(
            request,
            "admin/bulk.html",
            status_code=422,
            lists=_all_lists(ctx),
            errors=form.errors,
            chosen=chosen,
            scope=scope,
            value=value,
        )
    with ctx.db() as session:
        lists = None if scope == "all" else _lists_of(session, chosen)
        changed = vault.set_mobile_access(
            session, ctx.actor, value == "yes", lists=lists
        )
        set_flash(
            ctx,
            session,
            f"Mobile Access {'enabled' if value == 'yes' else 'disabled'}: "
            f"{changed} permission{'s' if changed != 1 else ''} changed.",
        )
    return see_other("/admin/bulk-mobile-access")


# --- diagnostics -----------------------------------------------------------------


@router.get("/admin/diagnostics")
def diagnostics(request: Request, ctx: WebContext = Depends(admin_context)) -> Response:
    """Pick a user and see every reason their phone may not connect or sync."""
    name = (request.query_params.get("user") or "").strip()[:300].replace("\x00", "")
    with ctx.db() as session:
        names = [u.qualified_name for u in accounts.list_users(session)]
    report = None
    errors: dict[str, str] = {}
    if name:
        try:
            report = doctor.diagnose_mobile(ctx.instance, name, timeout=3.0)
        except (NotFound, ValidationError) as exc:
            errors["user"] = exc.message[:1].upper() + exc.message[1:] + "."
    return render(
        request,
        "admin/diagnostics.html",
        status_code=422 if errors else 200,
        names=names,
        name=name,
        report=report,
        errors=errors,
    )
