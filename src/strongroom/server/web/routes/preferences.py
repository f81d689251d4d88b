"""Preferences: the user's own web password, TOTP second factor, and Mobile App
Settings (master password, QR code, own devices)."""

import logging

from fastapi import APIRouter, Depends, Request
from sqlalchemy.orm import Session
from starlette.datastructures import FormData
from starlette.responses import Response

from strongroom.crypto.passwords import verify_password
from strongroom.server.accounts import service as accounts
from strongroom.server.accounts.models import FEATURE_MOBILE, User
from strongroom.server.core.errors import ConfigurationError, NotFound, ValidationError
from strongroom.server.mobile import service as mobile
from strongroom.server.mobile.models import DEVICE_ACTIVE, Device
from strongroom.server.web import auth, qr, sessions
from strongroom.server.web.context import WebContext, form_data, set_flash, web_context
from strongroom.server.web.forms import FormReader, error_for
from strongroom.server.web.models import WebSession
from strongroom.server.web.routes.common import (
    USER_PAGES,
    Confirmation,
    clear_lines,
    confirm_page,
    confirmed,
    see_other,
)
from strongroom.server.web.templating import render

log = logging.getLogger(__name__)

router = APIRouter(include_in_schema=False, dependencies=USER_PAGES)

PASSWORD_MAX = 1024


def _me(session: Session, ctx: WebContext) -> User:
    return accounts.get_user(session, ctx.user_id)


# --- account: web password and TOTP --------------------------------------------


def _account_page(
    request: Request,
    ctx: WebContext,
    *,
    status: int = 200,
    errors: dict[str, str] | None = None,
    totp_setup: dict[str, object] | None = None,
) -> Response:
    with ctx.db() as session:
        user = _me(session, ctx)
        info = {
            "name": user.qualified_name,
            "display_name": user.display_name,
            "email": user.email,
            "is_admin": user.is_admin,
            "has_totp": user.totp_secret is not None,
        }
    return render(
        request,
        "prefs/account.html",
        status_code=status,
        me=info,
        errors=errors or {},
        totp_setup=totp_setup,
    )


@router.get("/preferences")
def account(request: Request, ctx: WebContext = Depends(web_context)) -> Response:
    """The user's account: password change and second factor."""
    return _account_page(request, ctx)


def _check_current_password(ctx: WebContext, password: str) -> str:
    """ "ok", "wrong" or "locked"; a wrong one counts toward the lockout."""
    with ctx.db() as session:
        stored = _me(session, ctx).password_hash
    # Argon2id outside the transaction: it takes a tenth of a second.
    if stored and verify_password(stored, password):
        return "ok"
    with ctx.db() as session:
        user = _me(session, ctx)
        outcome = auth.count_wrong_current_password(session, user, ctx.ip)
        if outcome.status != "locked":
            return "wrong"
        # A locked account keeps no session: whoever holds this one was
        # guessing, or is the owner who must wait like at the sign-in page.
        sessions.end_for_user(session, user.id)
    log.warning("web_reauth_locked_out user_id=%s", ctx.user_id)
    return "locked"


def _locked_out() -> Response:
    return see_other("/login?locked=1")


@router.post("/preferences/password")
def change_password(
    request: Request,
    ctx: WebContext = Depends(web_context),
    data: FormData = Depends(form_data),
) -> Response:
    """Change the user's own web password (the current one is required)."""
    form = FormReader(data)
    current = form.text(
        "current_password",
        label="current password",
        required=True,
        max_len=PASSWORD_MAX,
        strip=False,
    )
    new = form.text(
        "new_password",
        label="new password",
        required=True,
        max_len=PASSWORD_MAX,
        strip=False,
    )
    confirm = form.text(
        "confirm_password",
        label="confirmation",
        required=True,
        max_len=PASSWORD_MAX,
        strip=False,
    )
    if form.ok and new != confirm:
        form.error(
            "confirm_password", "The two new passwords differ; type the same one twice."
        )
    if form.ok:
        checked = _check_current_password(ctx, current)
        if checked == "locked":
            return _locked_out()
        if checked == "wrong":
            form.error("current_password", "That is not your current password.")
    if form.ok:
        try:
            with ctx.db() as session:
                user = _me(session, ctx)
                accounts.set_password(session, ctx.actor, user, new)
                # Other browsers signed in with the old password are signed
                # out; this one carries on under the new password's stamp.
                for other in sessions.sessions_of(session, user.id):
                    if other.id != ctx.session_id:
                        session.delete(other)
                row = session.get(WebSession, ctx.session_id)
                if row is not None:
                    row.auth_stamp = sessions.auth_stamp(user)
                set_flash(
                    ctx,
                    session,
                    "Your password is changed; other browsers were signed out.",
                )
            return see_other("/preferences")
        except ValidationError as exc:
            form.error(*error_for(exc, {"password": "new_password"}))
    return _account_page(request, ctx, status=422, errors=form.errors)


@router.post("/preferences/totp/start")
def totp_start(request: Request, ctx: WebContext = Depends(web_context)) -> Response:
    """Begin TOTP enrolment: a new secret, kept sealed in the session until
    the user proves their app has it."""
    secret = auth.new_totp_secret()
    with ctx.db() as session:
        row = session.get(WebSession, ctx.session_id)
        if row is not None:
            row.pending_totp_sealed = ctx.instance.cipher.seal(
                session, secret, aad=f"web_session/{ctx.session_id}/totp"
            )
    return see_other("/preferences/totp")


def _pending_totp(ctx: WebContext) -> tuple[str, User] | None:
    with ctx.db() as session:
        row = session.get(WebSession, ctx.session_id)
        if row is None or row.pending_totp_sealed is None:
            return None
        secret = ctx.instance.cipher.open(
            session, row.pending_totp_sealed, aad=f"web_session/{ctx.session_id}/totp"
        )
        return secret, _me(session, ctx)


@router.get("/preferences/totp")
def totp_setup(request: Request, ctx: WebContext = Depends(web_context)) -> Response:
    """Show the enrolment QR code and ask for the first code."""
    pending = _pending_totp(ctx)
    if pending is None:
        return see_other("/preferences")
    return _totp_page(request, ctx, pending)


def _totp_page(
    request: Request,
    ctx: WebContext,
    pending: tuple[str, User],
    *,
    status: int = 200,
    errors: dict[str, str] | None = None,
) -> Response:
    secret, user = pending
    uri = auth.provisioning_uri(secret, user)
    return _account_page(
        request,
        ctx,
        status=status,
        errors=errors,
        totp_setup={
            "qr": qr.svg(uri, title="Authenticator set-up code", scale=4),
            "secret": " ".join(secret[i : i + 4] for i in range(0, len(secret), 4)),
        },
    )


@router.post("/preferences/totp/confirm")
def totp_confirm(
    request: Request,
    ctx: WebContext = Depends(web_context),
    data: FormData = Depends(form_data),
) -> Response:
    """Turn TOTP on once the user types a correct code from their app."""
    pending = _pending_totp(ctx)
    if pending is None:
        return see_other("/preferences")
    form = FormReader(data)
    code = form.text("code", required=True, max_len=20)
    secret, _user = pending
    if form.ok and auth.matching_step(secret, code) is None:
        form.error(
            "code",
            "That code does not match; check the app's clock and try the next code.",
        )
    if not form.ok:
        return _totp_page(request, ctx, pending, status=422, errors=form.errors)
    with ctx.db() as session:
        user = _me(session, ctx)
        auth.enable_totp(session, ctx.instance.cipher, user, secret, ctx.actor)
        row = session.get(WebSession, ctx.session_id)
        if row is not None:
            row.pending_totp_sealed = None
        set_flash(ctx, session, "Two-step sign-in is on: you will be asked for a code.")
    return see_other("/preferences")


@router.post("/preferences/totp/disable")
def totp_disable(
    request: Request,
    ctx: WebContext = Depends(web_context),
    data: FormData = Depends(form_data),
) -> Response:
    """Turn TOTP off (the current password is required)."""
    form = FormReader(data)
    current = form.text(
        "totp_password",
        label="current password",
        required=True,
        max_len=PASSWORD_MAX,
        strip=False,
    )
    if form.ok:
        checked = _check_current_password(ctx, current)
        if checked == "locked":
            return _locked_out()
        if checked == "wrong":
            form.error("totp_password", "That is not your current password.")
    if not form.ok:
        return _account_page(request, ctx, status=422, errors=form.errors)
    with ctx.db() as session:
        auth.disable_totp(session, _me(session, ctx), ctx.actor)
        set_flash(ctx, session, "Two-step sign-in is off.")
    return see_other("/preferences")


# --- Mobile App Settings -------------------------------------------------------


def _mobile_page(
    request: Request,
    ctx: WebContext,
    *,
    status: int = 200,
    errors: dict[str, str] | None = None,
    show_qr: bool = False,
) -> Response:
    qr_markup = None
    qr_problem = None
    with ctx.db() as session:
        user = _me(session, ctx)
        credential = mobile.credential_of(session, user)
        has_password = bool(credential and credential.master_password_hash)
        devices = mobile.list_devices(session, ctx.actor, user)
        has_feature = accounts.has_feature(session, user, FEATURE_MOBILE)
        if show_qr and has_password:
            try:
                payload = mobile.pairing_payload(
                    session, ctx.actor, ctx.instance.cipher, user
                )
                qr_markup = qr.svg(payload.to_uri(), title="Strongroom pairing code")
            except (ConfigurationError, ValidationError) as exc:
                qr_problem = exc.message[:1].upper() + exc.message[1:] + "."
        mobile_name = user.qualified_name
        set_at = credential.set_at if credential else None
    return render(
        request,
        "prefs/mobile.html",
        status_code=status,
        mobile_name=mobile_name,
        has_password=has_password,
        set_at=set_at,
        devices=devices,
        has_feature=has_feature,
        errors=errors or {},
        qr=qr_markup,
        qr_problem=qr_problem,
    )


@router.get("/preferences/mobile")
def mobile_settings(
    request: Request, ctx: WebContext = Depends(web_context)
) -> Response:
    """Mobile App Settings: username, master password, QR code and devices."""
    return _mobile_page(request, ctx, show_qr=request.query_params.get("show") == "qr")


@router.post("/preferences/mobile/password")
def set_master_password(
    request: Request,
    ctx: WebContext = Depends(web_context),
    data: FormData = Depends(form_data),
) -> Response:
    """Save a new master password; the QR code follows on the next page."""
    form = FormReader(data)
    new = form.text(
        "master_password",
        label="master password",
        required=True,
        max_len=PASSWORD_MAX,
        strip=False,
    )
    confirm = form.text(
        "confirm_master_password",
        label="confirmation",
        required=True,
        max_len=PASSWORD_MAX,
        strip=False,
    )
    if form.ok and new != confirm:
        form.error(
            "confirm_master_password",
            "The two passwords differ; type the same one twice.",
        )
    if form.ok:
        try:
            with ctx.db() as session:
                mobile.set_master_password(session, ctx.actor, _me(session, ctx), new)
                set_flash(
                    ctx,
                    session,
                    "Master password saved. Scan the new QR code: your phone must "
                    "be paired again.",
                )
            return see_other("/preferences/mobile?show=qr")
        except ValidationError as exc:
            form.error(
                *error_for(exc, {mobile.MASTER_PASSWORD_FIELD: "master_password"})
            )
    return _mobile_page(request, ctx, status=422, errors=form.errors)


def _own_active_devices(session: Session, ctx: WebContext) -> int:
    devices = mobile.list_devices(session, ctx.actor, _me(session, ctx))
    return sum(1 for d in devices if d.status == DEVICE_ACTIVE)


@router.get("/preferences/mobile/clear")
def clear_confirm(request: Request, ctx: WebContext = Depends(web_context)) -> Response:
    """Ask before clearing the user's own master password."""
    with ctx.db() as session:
        active = _own_active_devices(session, ctx)
    return confirm_page(
        request,
        Confirmation(
            title="Clear your master password?",
            lines=clear_lines("Your", "you", active),
            action="/preferences/mobile/clear",
            button="Clear master password",
            cancel="/preferences/mobile",
        ),
    )


@router.post("/preferences/mobile/clear")
def clear_master_password(
    request: Request,
    ctx: WebContext = Depends(web_context),
    data: FormData = Depends(form_data),
) -> Response:
    """Clear the master password (confirmed); every paired device is revoked."""
    if not confirmed(data):
        return clear_confirm(request, ctx)
    with ctx.db() as session:
        revoked = mobile.clear_master_password(session, ctx.actor, _me(session, ctx))
        set_flash(
            ctx, session, f"Mobile credentials cleared; {revoked} device(s) revoked."
        )
    return see_other("/preferences/mobile")


def _own_device(session: Session, ctx: WebContext, device_id: str) -> Device:
    device = mobile.get_device(session, device_id)
    if device.user_id != ctx.user_id:
        # Here only one's own devices; admins revoke others' under Users.
        raise NotFound("that device is not one of yours")
    return device


@router.get("/preferences/mobile/devices/{device_id}/revoke")
def revoke_own_confirm(
    request: Request, device_id: str, ctx: WebContext = Depends(web_context)
) -> Response:
    """Ask before revoking one of the user's own devices."""
    with ctx.db() as session:
        device = _own_device(session, ctx, device_id)
        name = device.name or device.id
    return confirm_page(
        request,
        Confirmation(
            title=f"Revoke your phone “{name}”?",
            lines=(
                f"Your phone “{name}” will be unpaired: it cannot sync any more and "
                "erases its offline copy the next time it contacts the App Server.",
                "To use it again, pair it with a new QR code from this page.",
            ),
            action=f"/preferences/mobile/devices/{device_id}/revoke",
            button="Revoke phone",
            cancel="/preferences/mobile",
        ),
    )


@router.post("/preferences/mobile/devices/{device_id}/revoke")
def revoke_own_device(
    request: Request,
    device_id: str,
    ctx: WebContext = Depends(web_context),
    data: FormData = Depends(form_data),
) -> Response:
    """Revoke one of the user's own devices (confirmed)."""
    if not confirmed(data):
        return revoke_own_confirm(request, device_id, ctx)
    with ctx.db() as session:
        device = _own_device(session, ctx, device_id)
        mobile.revoke_device(session, ctx.actor, device.id)
        set_flash(ctx, session, f"Device {device.name or device.id} revoked.")
    return see_other("/preferences/mobile")
