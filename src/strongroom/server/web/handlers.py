"""The browser UI's one error edge: every known error becomes a page that says
what happened and what to do, with the right status code.

Requests under /api/ (and fetch calls asking for JSON) get the same errors as
JSON in the REST API's shape, `{"error": {"code", "message", ...}}` with
`field`, `hint` and `retry_after` when known.
"""

import logging
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse
from sqlalchemy.exc import DataError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from strongroom.server.audit import service as audit
from strongroom.server.core.errors import (
    LockedOut,
    PermissionDenied,
    StrongroomError,
    ValidationError,
)
from strongroom.server.web.context import WebContext, instance_of, web_context
from strongroom.server.web.errors import AuditedDenial, LoginRequired
from strongroom.server.web.forms import sentence
from strongroom.server.web.templating import render

log = logging.getLogger(__name__)

_TITLES = {
    400: "That request could not be handled",
    401: "Sign-in needed",
    403: "Not allowed",
    404: "Not found",
    405: "Not allowed here",
    409: "Already exists",
    413: "Too large",
    422: "Check the form",
    429: "Too many attempts",
    500: "Something went wrong",
    503: "Temporarily unavailable",
}


def _wants_json(request: Request) -> bool:
    if request.url.path.startswith("/api/"):
        return True
    accept = request.headers.get("accept", "")
    return "application/json" in accept and "text/html" not in accept


def _json(
    status: int, body: dict[str, Any], headers: Mapping[str, str] | None
) -> Response:
    return JSONResponse(body, status_code=status, headers=headers)


def error_page(
    request: Request,
    status: int,
    message: str,
    *,
    hint: str | None = None,
    code: str = "error",
    extra: dict[str, Any] | None = None,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """A page (or JSON body) that says what went wrong and how to go on."""
    if _wants_json(request):
        # The REST API's error shape, so /api/ clients see one format even
        # for what reaches this edge (an oversized body, say).
        detail: dict[str, Any] = {"code": code, "message": message}
        if hint:
            detail["hint"] = hint
        detail.update(extra or {})
        return _json(status, {"error": detail}, headers)
    return render(
        request,
        "error.html",
        status_code=status,
        headers=headers,
        title=_TITLES.get(status, "Something went wrong"),
        message=sentence(message),
        hint=sentence(hint) if hint else None,
        status=status,
    )


def _audit_denial(request: Request, exc: PermissionDenied) -> None:
    """Write the refusal to the audit log in its own transaction.

    The handler's transaction has already rolled back by the time we get
    here, which is why the refusal is recorded separately: it must survive.
    """
    ctx = getattr(request.state, "ctx", None)
    if isinstance(exc, AuditedDenial):
        actor, event = exc.actor, exc.event
        list_id, record_id = exc.list_id, exc.record_id
    elif isinstance(ctx, WebContext):
        actor, event, list_id, record_id = ctx.actor, "web.access_denied", None, None
    else:
        return
    with instance_of(request).db.session() as session:
        audit.record(
            session,
            actor,
            event,
            outcome="denied",
            target_type="page",
            target_name=f"{request.method} {request.url.path}"[:300],
            list_id=list_id,
            record_id=record_id,
            details={"reason": exc.message},
        )


def _on_login_required(request: Request, exc: Exception) -> Response:
    if not isinstance(exc, LoginRequired):
        raise exc
    if _wants_json(request):
        return error_page(
            request,
            401,
            "Your session has ended; sign in again.",
            code="login_required",
        )
    target = "/login"
    query = []
    if exc.reason == "expired":
        query.append("expired=1")
    if exc.reason == "second_factor":
        target = "/login/second-factor"
    elif request.method == "GET" and request.url.path not in {"/", "/login"}:
        next_path = request.url.path
        if request.url.query:
            next_path += "?" + request.url.query
        query.append("next=" + quote(next_path, safe=""))
    if query:
        target += "?" + "&".join(query)
    response = RedirectResponse(target, status_code=303)
    # htmx follows redirects inside the swapped fragment; tell it to load the
    # sign-in page as a whole page instead.
    if request.headers.get("hx-request"):
        response.headers["HX-Redirect"] = target
    return response


def _on_permission_denied(request: Request, exc: Exception) -> Response:
    if not isinstance(exc, PermissionDenied):
        raise exc
    _audit_denial(request, exc)
    return error_page(request, 403, exc.message, hint=exc.hint, code=exc.code)


def _on_strongroom_error(request: Request, exc: Exception) -> Response:
    if not isinstance(exc, StrongroomError):
        raise exc
    extra: dict[str, Any] = {}
    headers: Mapping[str, str] | None = None
    if isinstance(exc, ValidationError):
        extra["field"] = exc.field
    if isinstance(exc, LockedOut):
        extra["retry_after"] = exc.retry_after
        headers = {"Retry-After": str(exc.retry_after)}
    status = exc.http_status
    if status >= 500:
        log.error("web_error code=%s path=%s", exc.code, request.url.path)
    message = exc.message[:1].upper() + exc.message[1:]
    return error_page(
        request,
        status,
        message,
        hint=exc.hint,
        code=exc.code,
        extra=extra,
        headers=headers,
    )


def _on_http_exception(request: Request, exc: Exception) -> Response:
    if not isinstance(exc, StarletteHTTPException):
        raise exc
    messages = {
        404: "There is no page at this address.",
        405: "This address does not accept that kind of request.",
        413: "The request is larger than this server accepts.",
    }
    codes = {404: "not_found", 405: "method_not_allowed", 413: "too_large"}
    message = messages.get(exc.status_code, str(exc.detail))
    if not _wants_json(request):
        _signed_in_user(request)
    return error_page(
        request,
        exc.status_code,
        message,
        code=codes.get(exc.status_code, "http_error"),
        headers=exc.headers,
    )


def _signed_in_user(request: Request) -> None:
    """Resolve the session on pages no route served (a 404), so the menu shows
    the signed-in user rather than offering to sign in."""
    try:
        web_context(request)
    except LoginRequired:
        return


def _on_request_validation(request: Request, exc: Exception) -> Response:
    if not isinstance(exc, RequestValidationError):
        raise exc
    fields = [".".join(str(p) for p in err.get("loc", ())) for err in exc.errors()]
    return error_page(
        request,
        422,
        "Some of the request's values are missing or malformed.",
        code="invalid_request",
        extra={"fields": fields},
    )


def _on_data_error(request: Request, exc: Exception) -> Response:
    if not isinstance(exc, DataError):
        raise exc
    # The database refused a value the forms let through (a character or a
    # number it cannot store); the transaction rolled back whole, so this is
    # the sender's mistake to correct, not a server failure.
    log.warning(
        "web_data_error path=%s error=%s", request.url.path, type(exc.orig).__name__
    )
    return error_page(
        request,
        422,
        "A value in the request is one this server cannot store, so nothing "
        "was changed.",
        hint="Check the form for unusual characters or very large numbers.",
        code="invalid_value",
    )


def _on_unexpected(request: Request, exc: Exception) -> Response:
    # Logged with the type only: a traceback's locals could hold a secret.
    log.error(
        "web_unexpected_error path=%s error=%s", request.url.path, type(exc).__name__
    )
    return error_page(
        request,
        500,
        "Something unexpected went wrong; nothing you sent was stored partially.",
        code="internal",
    )


def install(app: FastAPI) -> None:
    """Register every handler on `app`."""
    app.add_exception_handler(LoginRequired, _on_login_required)
    app.add_exception_handler(PermissionDenied, _on_permission_denied)
    app.add_exception_handler(StrongroomError, _on_strongroom_error)
    app.add_exception_handler(StarletteHTTPException, _on_http_exception)
    app.add_exception_handler(RequestValidationError, _on_request_validation)
    app.add_exception_handler(DataError, _on_data_error)
    app.add_exception_handler(Exception, _on_unexpected)
