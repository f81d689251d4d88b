"""Who is asking: the signed-in browser user, the CSRF check and the admin gate.

Routers of the browser UI depend on `csrf_context` (every state-changing
request must carry the session's synchronizer token) and admin pages on
`admin_context`. Handlers open their own transaction with `ctx.db()`.
"""

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from fastapi import Depends, Request
from sqlalchemy.orm import Session
from starlette.datastructures import FormData, UploadFile
from starlette.exceptions import HTTPException

from strongroom.crypto.tokens import equal
from strongroom.server.core.actor import PLATFORM_WEB, Actor
from strongroom.server.core.instance import Instance
from strongroom.server.web import sessions
from strongroom.server.web.errors import AuditedDenial, CsrfRejected, LoginRequired

log = logging.getLogger(__name__)

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
SESSION_COOKIE = "sr_session"
PRE_AUTH_COOKIE = "sr_pre"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
# Sent by the page script's timed refreshes (the one-time code countdown):
# they are not the person at the keyboard, so they must not keep a session
# from idling out.
BACKGROUND_HEADER = "x-strongroom-background"
FORM_URLENCODED = "application/x-www-form-urlencoded"
# Starlette's own limit for a form, kept for the forms parsed here.
MAX_FORM_FIELDS = 1000
NOT_UTF8_FORM = (
    "The form was not sent as UTF-8 text. Send it UTF-8 encoded "
    "(percent-encoded, as browsers do); nothing was changed."
)


def is_https(request: Request) -> bool:
    """Tell whether the browser reached us over HTTPS (directly or via a proxy
    uvicorn trusts for X-Forwarded-Proto)."""
    return request.url.scheme == "https"


def cookie_name(request: Request, base: str) -> str:
    """The cookie name: `__Host-` prefixed on HTTPS.

    Browsers accept a `__Host-` cookie only when Secure, without Domain and for
    Path=/, so no sibling subdomain can plant or overwrite it.
    """
    return f"__Host-{base}" if is_https(request) else base


def set_cookie(request: Request, response: Any, base: str, value: str) -> None:
    """Set a session-scoped cookie with the flags the UI relies on."""
    response.set_cookie(
        cookie_name(request, base),
        value,
        path="/",
        secure=is_https(request),
        httponly=True,
        # Strict: the browser never sends it on a request another site starts,
        # a second wall behind the CSRF token.
        samesite="strict",
    )


def clear_cookie(request: Request, response: Any, base: str) -> None:
    """Remove a cookie set by `set_cookie`."""
    response.delete_cookie(
        cookie_name(request, base),
        path="/",
        secure=is_https(request),
        httponly=True,
        samesite="strict",
    )


def client_ip(request: Request) -> str | None:
    """The peer address (uvicorn resolves trusted proxy headers before us)."""
    return request.client.host if request.client else None


def instance_of(request: Request) -> Instance:
    """The opened installation this app serves."""
    found: Instance = request.app.state.instance
    return found


@dataclass(frozen=True)
class WebContext:
    """The signed-in user of this request and what the page needs of them."""

    instance: Instance
    session_id: str
    user_id: str
    name: str
    display_name: str
    is_admin: bool
    has_totp: bool
    csrf_token: str
    ip: str | None
    flash: str | None = None
    # A generated password shown once by the page after a redirect.
    flash_secret: str | None = None

    @property
    def actor(self) -> Actor:
        """The actor services and the audit log see."""
        return Actor(
            user_id=self.user_id,
            name=self.name,
            platform=PLATFORM_WEB,
            is_admin=self.is_admin,
            ip=self.ip,
        )

    @contextmanager
    def db(self) -> Iterator[Session]:
        """One transaction, committed when the block ends without error."""
        with self.instance.db.session() as session:
            yield session


def web_context(request: Request) -> WebContext:
    """Resolve the session cookie to a signed-in user, or ask to sign in."""
    cached = getattr(request.state, "ctx", None)
    if isinstance(cached, WebContext):
        return cached
    token = request.cookies.get(cookie_name(request, SESSION_COOKIE))
    if not token or len(token) > 200:
        raise LoginRequired(None)

    instance = instance_of(request)
    ctx: WebContext | None = None
    refusal: str | None = None
    with instance.db.session() as session:
        found = sessions.load(
            session, token, touch=not request.headers.get(BACKGROUND_HEADER)
        )
        # Refusals are raised after the transaction commits, so an expired
        # session's deletion is not rolled back with it.
        if found.row is None or found.user is None:
            refusal = found.reason or "missing"
        elif found.row.mfa_pending:
            # Half signed in: only the second-factor page accepts this session.
            refusal = "second_factor"
        else:
            ctx = _context_of(instance, request, found)
    if ctx is None:
        raise LoginRequired(refusal)
    request.state.ctx = ctx
    return ctx


def _context_of(
    instance: Instance, request: Request, found: sessions.Lookup
) -> WebContext | None:
    if found.row is None or found.user is None:
        return None
    user = found.user
    flash, secret = sessions.pop_flash_parts(found.row)
    return WebContext(
        instance=instance,
        session_id=found.row.id,
        user_id=user.id,
        name=user.qualified_name,
        display_name=user.display_name or user.login_name,
        is_admin=user.is_admin,
        has_totp=user.totp_secret is not None,
        csrf_token=found.row.csrf_token,
        ip=client_ip(request),
        flash=flash,
        flash_secret=secret,
    )


def parse_urlencoded(body: bytes) -> FormData:
    """An `application/x-www-form-urlencoded` body, read strictly as UTF-8.

    Starlette reads the raw bytes of such a body as Latin-1, so a script that
    posts UTF-8 without percent-encoding it (`curl -d 'password=päss'`) would
    have `pÃ¤ss` stored without a word. Bytes that are not UTF-8, raw or
    percent-encoded, are refused instead (400) rather than guessed at.
    """
    try:
        pairs: list[tuple[str, str | UploadFile]] = list(
            parse_qsl(
                body.decode("utf-8"),
                keep_blank_values=True,
                encoding="utf-8",
                errors="strict",
                max_num_fields=MAX_FORM_FIELDS,
            )
        )
    except UnicodeDecodeError:
        raise HTTPException(400, NOT_UTF8_FORM) from None
    except ValueError:
        raise HTTPException(
            400, f"Too many fields. Maximum number of fields is {MAX_FORM_FIELDS}."
        ) from None
    return FormData(pairs)


async def form_data(request: Request) -> FormData:
    """The submitted form (parsed once per request)."""
    if request.method in SAFE_METHODS:
        return FormData()
    cached = getattr(request.state, "form", None)
    if isinstance(cached, FormData):
        return cached
    media_type = request.headers.get("content-type", "").split(";")[0]
    if media_type.strip().lower() == FORM_URLENCODED:
        form = parse_urlencoded(await request.body())
    else:
        form = await request.form()
    request.state.form = form
    return form


async def submitted_token(request: Request) -> str | None:
    """The CSRF token a request carries: header (fetch calls) or form field."""
    header = request.headers.get(CSRF_HEADER)
    if header:
        return header
    form = await form_data(request)
    value = form.get(CSRF_FIELD)
    return value if isinstance(value, str) else None


def _origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def same_origin(request: Request) -> bool:
    """Tell whether an unsafe request says it comes from this app's own origin.

    Defence in depth beside the CSRF token (OWASP "verifying origin with
    standard headers"): `Origin`, or `Referer` when a browser leaves Origin
    out. A request with neither is let through to the token check, since some
    privacy tools strip both. "null" counts as absent: our own pages send
    `Referrer-Policy: no-referrer`, under which browsers post `Origin: null`
    even to the same site (Fetch standard, "serializing a request origin").
    """
    own = _origin_of(str(request.base_url))
    origin = (request.headers.get("origin") or "").strip().lower()
    if origin and origin != "null":
        return origin == own
    referer = request.headers.get("referer")
    if referer:
        return _origin_of(referer) == own
    return True


def check_origin(request: Request, actor: Actor | None) -> None:
    """Raise the CSRF refusal (403 page) for a cross-site unsafe request."""
    if request.method in SAFE_METHODS:
        return
    if not same_origin(request):
        log.warning("web_cross_origin_refused path=%s", request.url.path)
        raise CsrfRejected(actor)


async def csrf_context(
    request: Request, ctx: WebContext = Depends(web_context)
) -> WebContext:
    """The signed-in user, after checking the CSRF token of unsafe requests.

    Synchronizer token pattern (OWASP): the token lives in the server-side
    session and must come back with every state-changing request; a page of
    another site cannot read it, so it cannot forge the request.
    """
    if request.method in SAFE_METHODS:
        return ctx
    check_origin(request, ctx.actor)
    token = await submitted_token(request)
    if not token or not equal(token, ctx.csrf_token):
        raise CsrfRejected(ctx.actor)
    return ctx


def admin_context(ctx: WebContext = Depends(csrf_context)) -> WebContext:
    """The signed-in user, who must be an administrator (403 page otherwise)."""
    if not ctx.is_admin:
        raise AuditedDenial(
            ctx.actor,
            "Administration is for administrators only. Your account is not one; "
            "ask an administrator if you need something changed.",
            event="web.admin_denied",
        )
    return ctx


def set_flash(ctx: WebContext, session: Session, message: str) -> None:
    """Show `message` on the next page this browser loads."""
    sessions.set_flash(session, ctx.session_id, message)


def set_flash_secret(
    ctx: WebContext, session: Session, message: str, secret: str
) -> None:
    """Show `message` and a one-time `secret` on the next page only.

    Post/Redirect/Get keeps a refresh from resubmitting the form; the secret
    waits in the server-side session row (never a URL or cookie) and is
    cleared when the next page reads it, so it is shown exactly once.
    """
    sessions.set_flash_secret(session, ctx.session_id, message, secret)
