"""Every API failure as JSON: `{"error": {"code", "message", "field", "hint"}}`.

The API does not rely on the application's exception handlers (the browser UI
renders pages there): `ApiRoute` wraps each API route's handler, so request
validation, Strongroom's error family, HTTP errors and database surprises all
become this one JSON shape with the right status, and never a stack trace.
"""

import email.message
import logging
from collections.abc import Callable, Coroutine, Sequence
from typing import Any

from fastapi import Request, Response
from fastapi.dependencies.models import Dependant
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict
from sqlalchemy.exc import DataError, IntegrityError
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException

from strongroom.server.audit import service as audit
from strongroom.server.core.errors import (
    AuthenticationFailed,
    LockedOut,
    PermissionDenied,
    ServiceUnavailable,
    StrongroomError,
    ValidationError,
)
from strongroom.server.web.api.context import api_context, bearer

log = logging.getLogger(__name__)

# Largest request body the API reads. A record's biggest field (notes) is
# 64 KiB of text, up to four bytes a character; a whole record with generic
# fields fits well within 1 MiB.
MAX_BODY_BYTES = 1024 * 1024


class ErrorDetail(BaseModel):
    """One problem: a stable `code`, a sentence, and the field it concerns."""

    model_config = ConfigDict(extra="forbid")

    code: str
    message: str
    field: str | None = None
    hint: str | None = None


class ErrorBody(BaseModel):
    """What every failed API call returns."""

    model_config = ConfigDict(extra="forbid")

    error: ErrorDetail
    # Every field problem when the request had several (validation only).
    errors: list[ErrorDetail] | None = None


def _response(
    status: int,
    code: str,
    message: str,
    *,
    field: str | None = None,
    hint: str | None = None,
    headers: dict[str, str] | None = None,
    errors: list[ErrorDetail] | None = None,
) -> JSONResponse:
    body = ErrorBody(
        error=ErrorDetail(code=code, message=message, field=field, hint=hint),
        errors=errors,
    )
    return JSONResponse(
        body.model_dump(exclude_none=True), status_code=status, headers=headers
    )


def error_response(
    status: int, code: str, message: str, *, hint: str | None = None
) -> JSONResponse:
    """A JSON error response for the routes that build one themselves."""
    return _response(status, code, message, hint=hint)


def _field_of(loc: Sequence[Any]) -> str:
    # Pydantic locations start with where the value came from ("body",
    # "query", "path"); the caller knows the field by the rest.
    parts = [str(p) for p in loc[1:]] if len(loc) > 1 else [str(p) for p in loc]
    return ".".join(parts)


def _sent_as_json(request: Request) -> bool:
    """Tell whether the body was declared JSON, as FastAPI decides it: no
    Content-Type, `application/json` or any `application/*+json`."""
    declared = request.headers.get("content-type")
    if not declared:
        return True
    message = email.message.Message()
    message["content-type"] = declared
    subtype = message.get_content_subtype()
    return message.get_content_maintype() == "application" and (
        subtype == "json" or subtype.endswith("+json")
    )


def _validation_response(exc: RequestValidationError, request: Request) -> JSONResponse:
    problems = list(exc.errors())
    if not _sent_as_json(request) and any(
        tuple(p.get("loc", ()))[:1] == ("body",) for p in problems
    ):
        # FastAPI hands a body of another declared type to the model as raw
        # bytes ("Input should be a valid dictionary"), which tells the
        # caller nothing about the real mistake: the Content-Type.
        return _response(
            415,
            "unsupported_media_type",
            "the request body must be sent as JSON",
            hint="send the body with Content-Type: application/json",
        )
    if any(p.get("type") == "json_invalid" for p in problems):
        return _response(
            400,
            "invalid_json",
            "the request body is not valid JSON",
            hint="send a JSON object with Content-Type: application/json",
        )
    details = []
    for problem in problems:
        field = _field_of(problem.get("loc", ()))
        message = str(problem.get("msg", "is not valid"))
        # Pydantic's "Value error, ..." prefix says nothing to a caller.
        message = message.removeprefix("Value error, ")
        details.append(
            ErrorDetail(
                code="invalid_field",
                message=f"{field}: {message}" if field else message,
                field=field or None,
            )
        )
    first = details[0] if details else ErrorDetail(code="invalid_field", message="")
    return _response(
        422,
        "invalid_field",
        first.message or "the request is not valid",
        field=first.field,
        errors=details if len(details) > 1 else None,
    )


def _strongroom_response(exc: StrongroomError) -> JSONResponse:
    headers: dict[str, str] = {}
    if isinstance(exc, LockedOut):
        headers["Retry-After"] = str(exc.retry_after)
    elif isinstance(exc, AuthenticationFailed):
        headers["WWW-Authenticate"] = 'Bearer realm="strongroom"'
    elif isinstance(exc, ServiceUnavailable):
        headers["Retry-After"] = "5"
    field = exc.field if isinstance(exc, ValidationError) else None
    if exc.http_status >= 500 and not isinstance(exc, ServiceUnavailable):
        # A configuration problem is the operator's to fix; the caller learns
        # only that the server cannot answer, the log says why.
        log.error("api_configuration_error code=%s", exc.code)
        return _response(500, exc.code, "the server is not configured correctly")
    return _response(
        exc.http_status,
        exc.code,
        exc.message,
        field=field,
        hint=exc.hint,
        headers=headers or None,
    )


_HTTP_CODES = {
    400: "bad_request",
    401: "authentication_failed",
    403: "permission_denied",
    404: "not_found",
    405: "method_not_allowed",
    413: "too_large",
    415: "unsupported_media_type",
}


def _http_response(exc: HTTPException) -> JSONResponse:
    code = _HTTP_CODES.get(exc.status_code, "error")
    message = exc.detail if isinstance(exc.detail, str) else "the request failed"
    return _response(exc.status_code, code, message, headers=dict(exc.headers or {}))


def _printable(value: str, limit: int = 200) -> str:
    return "".join(ch if ch.isprintable() else "?" for ch in value[:limit])


def _audit_denial(request: Request, exc: PermissionDenied) -> None:
    # A key reaching for a list or an admin endpoint it may not use is a
    # security matter: record it in its own transaction, since the request's
    # own was rolled back with the error.
    ctx = getattr(request.state, "api_ctx", None)
    if ctx is None:
        return
    list_id = request.path_params.get("list_id")
    with ctx.instance.db.session() as session:
        audit.record(
            session,
            ctx.actor,
            "api.access_denied",
            outcome="denied",
            target_type="endpoint",
            target_name=_printable(f"{request.method} {request.url.path}"),
            list_id=list_id
            if isinstance(list_id, str) and len(list_id) <= 36
            else None,
            details={"reason": _printable(exc.message)},
        )


async def _handle(request: Request, exc: Exception) -> Response:
    if isinstance(exc, RequestValidationError):
        return _validation_response(exc, request)
    if isinstance(exc, PermissionDenied):
        try:
            await run_in_threadpool(_audit_denial, request, exc)
        except StrongroomError as audit_exc:
            return _strongroom_response(audit_exc)
        return _strongroom_response(exc)
    if isinstance(exc, StrongroomError):
        return _strongroom_response(exc)
    if isinstance(exc, HTTPException):
        return _http_response(exc)
    if isinstance(exc, IntegrityError):
        # Two requests raced for the same unique name; the loser's
        # transaction was rolled back whole.
        log.warning("api_conflict error=%s", type(exc.orig).__name__)
        return _response(409, "conflict", "the change clashes with existing data")
    if isinstance(exc, DataError):
        log.warning("api_data_error error=%s", type(exc.orig).__name__)
        return _response(422, "invalid_value", "a value is out of the allowed range")
    raise exc


class BodyTooLarge(HTTPException):
    """The body grew past MAX_BODY_BYTES while being read (no Content-Length)."""

    def __init__(self) -> None:
        super().__init__(413, f"the request body is larger than {MAX_BODY_BYTES} bytes")


class CappedRequest(Request):
    """A request whose body is read at most MAX_BODY_BYTES far.

    A chunked upload declares no length, so the cap is enforced while reading;
    nothing past it is ever held in memory.
    """

    async def body(self) -> bytes:
        """Read the whole body, or raise BodyTooLarge past the cap."""
        if not hasattr(self, "_body"):
            chunks: list[bytes] = []
            size = 0
            async for chunk in self.stream():
                size += len(chunk)
                if size > MAX_BODY_BYTES:
                    raise BodyTooLarge()
                chunks.append(chunk)
            self._body = b"".join(chunks)
        return self._body


class ApiRoute(APIRoute):
    """An API route whose every failure is answered in the API's JSON shape."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        """Wrap FastAPI's handler: cap the body, translate every known error."""
        handler = super().get_route_handler()
        needs_key = _needs_key(self.dependant)

        async def api_handler(request: Request) -> Response:
            too_large = _check_declared_length(request)
            if too_large is not None:
                return too_large
            capped = CappedRequest(request.scope, request.receive)
            try:
                return await handler(capped)
            except (
                RequestValidationError,
                StrongroomError,
                HTTPException,
                IntegrityError,
                DataError,
            ) as caught:
                exc = _unparsable_body_as_json_error(caught)
                if needs_key and isinstance(exc, RequestValidationError):
                    # FastAPI reads the body before the key's dependency runs;
                    # a caller without a valid key must learn only "401", not
                    # how its body was wrong.
                    refusal = await _key_refusal(request)
                    if refusal is not None:
                        return await _handle(request, refusal)
                return await _handle(request, exc)

        return api_handler


# What FastAPI says when the body is not even text it can hand to the JSON
# parser (bytes that are not UTF-8, nesting too deep for it).
_BODY_PARSE_FAILED = "There was an error parsing the body"


def _unparsable_body_as_json_error(exc: Exception) -> Exception:
    """FastAPI's bare 400 for a body it could not parse, as the invalid-JSON
    error every other broken body gets: same code, and the key still checked
    first."""
    if (
        isinstance(exc, HTTPException)
        and exc.status_code == 400
        and exc.detail == _BODY_PARSE_FAILED
    ):
        return RequestValidationError(
            [{"type": "json_invalid", "loc": ("body",), "msg": _BODY_PARSE_FAILED}]
        )
    return exc


def _needs_key(dependant: Dependant) -> bool:
    """Tell whether a route (or any of its sub-dependencies) needs an API key."""
    if dependant.call is api_context:
        return True
    return any(_needs_key(sub) for sub in dependant.dependencies)


async def _key_refusal(request: Request) -> AuthenticationFailed | None:
    """The 401 the key check would raise for `request`, or None for a good key."""
    try:
        credentials = await bearer(request)
        await run_in_threadpool(api_context, request, credentials)
    except AuthenticationFailed as exc:
        return exc
    return None


def _check_declared_length(request: Request) -> JSONResponse | None:
    declared = request.headers.get("content-length")
    if declared is None:
        return None
    if not declared.isdigit():
        return _response(
            400, "bad_request", "the Content-Length header is not a number"
        )
    if int(declared) > MAX_BODY_BYTES:
        return _response(
            413,
            "too_large",
            f"the request body is larger than {MAX_BODY_BYTES} bytes",
        )
    return None
