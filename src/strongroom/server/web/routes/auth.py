"""Sign-in, the TOTP second factor and sign-out."""

import datetime
import logging
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse
from starlette.datastructures import FormData
from starlette.responses import Response

from strongroom.crypto.tokens import equal, random_token
from strongroom.server.accounts.models import User
from strongroom.server.audit import service as audit
from strongroom.server.core.db import utcnow
from strongroom.server.web import auth, sessions
from strongroom.server.web.context import (
    PRE_AUTH_COOKIE,
    SESSION_COOKIE,
    WebContext,
    check_origin,
    clear_cookie,
    client_ip,
    cookie_name,
    csrf_context,
    form_data,
    instance_of,
    set_cookie,
)
from strongroom.server.web.errors import CsrfRejected
from strongroom.server.web.forms import FormReader
from strongroom.server.web.templating import render

log = logging.getLogger(__name__)

router = APIRouter(include_in_schema=False)

# A half-signed-in browser has this long to type its TOTP code.
SECOND_FACTOR_WINDOW = datetime.timedelta(minutes=5)


def safe_next(value: str | None) -> str:
    """Only local paths: an attacker's link must not bounce a user elsewhere."""
    if (
        value
        and value.startswith("/")
        and not value.startswith("//")
        and "\\" not in value
        and len(value) < 2000
    ):
        return value
    return "/vault"


def _minutes(seconds: int) -> str:
    minutes = max(1, (seconds + 59) // 60)
    return f"{minutes} minute{'s' if minutes != 1 else ''}"


def _login_page(
    request: Request,
    *,
    status: int = 200,
    problem: str | None = None,
    notice: str | None = None,
    username: str = "",
    next_path: str = "",
    errors: dict[str, str] | None = None,
) -> Response:
    # Login CSRF: the form carries a random value that must match a cookie
    # (double submit). Without it another site could sign a victim in to an
    # account of the attacker's choosing.
    pre = request.cookies.get(cookie_name(request, PRE_AUTH_COOKIE))
    if not pre or len(pre) > 100:
        pre = random_token(24)
    response = render(
        request,
        "login.html",
        status_code=status,
        pre_token=pre,
        problem=problem,
        notice=notice,
        username=username,
        next_path=next_path,
        errors=errors or {},
    )
    set_cookie(request, response, PRE_AUTH_COOKIE, pre)
    return response


@router.get("/login")
def login_form(request: Request) -> Response:
    """The sign-in page."""
    notice = None
    if request.query_params.get("expired"):
        notice = "Your session expired; sign in again to continue."
    elif request.query_params.get("locked"):
        notice = (
            "Your account is locked after too many failed attempts, and you "
            "were signed out. Try again later, or ask an administrator to "
            "unlock it."
        )
    elif request.query_params.get("signed_out"):
        notice = "You are signed out."
    return _login_page(
        request, notice=notice, next_path=safe_next(request.query_params.get("next"))
    )


def _check_pre_auth(request: Request, form: FormReader) -> None:
    check_origin(request, None)
    cookie = request.cookies.get(cookie_name(request, PRE_AUTH_COOKIE)) or ""
    sent = form.raw("csrf_token") or ""
    if not cookie or not sent or not equal(cookie, sent):
        raise CsrfRejected(None)


@router.post("/login")
def login(request: Request, data: FormData = Depends(form_data)) -> Response:
    """Check a user name and password; start a session or ask for the code."""
    form = FormReader(data)
    _check_pre_auth(request, form)
    name = form.text("username", label="user name", required=True, max_len=300)
    password = form.text("password", required=True, max_len=4096, strip=False)
    next_path = safe_next(form.raw("next"))
    if not form.ok:
        return _login_page(
            request, status=422, username=name, next_path=next_path, errors=form.errors
        )

    instance = instance_of(request)
    ip = client_ip(request)
    with instance.db.session() as session:
        attempt = auth.begin_attempt(session, name, ip)
    password_ok = auth.verify(attempt, password)
    with instance.db.session() as session:
        outcome = auth.finish_attempt(session, attempt, password_ok, ip)
        if outcome.status in {"ok", "second_factor"} and outcome.user is not None:
            sessions.purge_expired(session)
            token, _row = sessions.start(
                session,
                outcome.user,
                ip=ip,
                user_agent=request.headers.get("user-agent", ""),
                mfa_pending=outcome.status == "second_factor",
            )

    if outcome.status == "ok":
        response: Response = RedirectResponse(next_path, status_code=303)
        set_cookie(request, response, SESSION_COOKIE, token)
        clear_cookie(request, response, PRE_AUTH_COOKIE)
        return response
    if outcome.status == "second_factor":
        response = RedirectResponse(
            "/login/second-factor?next=" + quote(next_path, safe=""), status_code=303
        )
        set_cookie(request, response, SESSION_COOKIE, token)
        return response
    if outcome.status == "locked":
        # Unknown names lock exactly like accounts (auth module), so this
        # message tells nobody whether the name exists.
        return _login_page(
            request,
            status=429,
            problem=(
                "This account is locked after too many failed sign-ins. "
                f"Try again in {_minutes(outcome.retry_after)}, or ask an "
                "administrator to unlock it."
            ),
            username=name,
            next_path=next_path,
        )
    if outcome.status == "throttled":
        return _login_page(
            request,
            status=429,
            problem=(
                "Too many failed sign-ins came from this address. "
                f"Try again in {_minutes(outcome.retry_after)}."
            ),
            username=name,
            next_path=next_path,
        )
    # Deliberately vague: saying which part was wrong tells a guesser which
    # user names exist.
    return _login_page(
        request,
        status=401,
        problem="The user name or password is not right.",
        username=name,
        next_path=next_path,
    )


def _pending(request: Request) -> tuple[str, sessions.Lookup] | None:
    token = request.cookies.get(cookie_name(request, SESSION_COOKIE))
    if not token or len(token) > 200:
        return None
    with instance_of(request).db.session() as session:
        found = sessions.load(session, token)
        if found.row is None or not found.row.mfa_pending:
            return None
        if utcnow() - found.row.created_at > SECOND_FACTOR_WINDOW:
            sessions.end(session, token)
            return None
    return token, found


@router.get("/login/second-factor")
def second_factor_form(request: Request) -> Response:
    """The TOTP code page for a user whose password was right."""
    pending = _pending(request)
    if pending is None:
        return RedirectResponse("/login?expired=1", status_code=303)
    _token, found = pending
    if found.row is None:
        return RedirectResponse("/login?expired=1", status_code=303)
    return render(
        request,
        "second_factor.html",
        pending_csrf=found.row.csrf_token,
        problem=None,
        next_path=safe_next(request.query_params.get("next")),
    )


@router.post("/login/second-factor")
def second_factor(request: Request, data: FormData = Depends(form_data)) -> Response:
    """Check the TOTP code; a right one turns the pending session into a full one."""
    pending = _pending(request)
    if pending is None:
        return RedirectResponse("/login?expired=1", status_code=303)
    old_token, found = pending
    if found.row is None or found.user is None:
        return RedirectResponse("/login?expired=1", status_code=303)
    check_origin(request, None)
    form = FormReader(data)
    sent = form.raw("csrf_token") or ""
    if not sent or not equal(sent, found.row.csrf_token):
        raise CsrfRejected(None)
    code = form.text("code", max_len=20)
    next_path = safe_next(request.query_params.get("next"))

    instance = instance_of(request)
    ip = client_ip(request)
    with instance.db.session() as session:
        user = session.get(User, found.user.id)
        if user is None:
            return RedirectResponse("/login?expired=1", status_code=303)
        outcome = auth.check_second_factor(session, instance.cipher, user, code, ip)
        if outcome.status == "ok":
            # A fresh token for the full session: the half-way one dies here.
            sessions.end(session, old_token)
            token, _row = sessions.start(
                session,
                user,
                ip=ip,
                user_agent=request.headers.get("user-agent", ""),
                mfa_pending=False,
            )
        elif outcome.status == "locked":
            sessions.end(session, old_token)

    if outcome.status == "ok":
        response: Response = RedirectResponse(next_path, status_code=303)
        set_cookie(request, response, SESSION_COOKIE, token)
        clear_cookie(request, response, PRE_AUTH_COOKIE)
        return response
    if outcome.status == "locked":
        # Redirect, so the page says "locked" (not "session expired") and a
        # refresh does not post the code again.
        response = RedirectResponse("/login?locked=1", status_code=303)
        clear_cookie(request, response, SESSION_COOKIE)
        return response
    return render(
        request,
        "second_factor.html",
        status_code=401,
        pending_csrf=found.row.csrf_token,
        problem="That code is not right (or was already used). Try the next one.",
        errors={"code": "Enter the current 6-digit code."},
        next_path=next_path,
    )


@router.post("/login/cancel")
def cancel_second_factor(
    request: Request, data: FormData = Depends(form_data)
) -> Response:
    """Abandon a half-finished sign-in."""
    pending = _pending(request)
    response = RedirectResponse("/login", status_code=303)
    if pending is not None and pending[1].row is not None:
        check_origin(request, None)
        sent = FormReader(data).raw("csrf_token") or ""
        if not sent or not equal(sent, pending[1].row.csrf_token):
            raise CsrfRejected(None)
        with instance_of(request).db.session() as session:
            sessions.end(session, pending[0])
    clear_cookie(request, response, SESSION_COOKIE)
    return response


@router.post("/logout")
def logout(request: Request, ctx: WebContext = Depends(csrf_context)) -> Response:
    """End this browser's session."""
    token = request.cookies.get(cookie_name(request, SESSION_COOKIE)) or ""
    with ctx.db() as session:
        sessions.end(session, token)
        audit.record(
            session,
            ctx.actor,
            "auth.logout",
            target_type="user",
            target_id=ctx.user_id,
            target_name=ctx.name,
        )
    log.info("web_signed_out user_id=%s", ctx.user_id)
    response = RedirectResponse("/login?signed_out=1", status_code=303)
    clear_cookie(request, response, SESSION_COOKIE)
    return response


@router.get("/favicon.ico")
def favicon() -> Response:
    """No icon: an empty answer stops browsers logging a 404 on every visit."""
    return Response(status_code=204)


@router.get("/")
def home() -> Response:
    """The start page is the vault."""
    return RedirectResponse("/vault", status_code=303)
