"""The App Server's one error handler: every refusal becomes an ErrorResponse.

Strongroom's own errors carry their wire code (mobile refusals) or map by
family; malformed bodies, oversized bodies and unknown paths get the same JSON
shape. Nothing reaches a phone as a stack trace.
"""

import logging
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from strongroom.protocol.errors import ErrorBody, ErrorCode, ErrorResponse
from strongroom.server.core.errors import (
    AuthenticationFailed,
    ConfigurationError,
    LockedOut,
    ServiceUnavailable,
    StrongroomError,
    ValidationError,
)

log = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def error_response(
    status: int,
    code: ErrorCode,
    message: str,
    *,
    field: str | None = None,
    retry_after: int | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    """The JSON answer for a refusal."""
    body = ErrorResponse(
        error=ErrorBody(
            code=code, message=message, field=field, retry_after_seconds=retry_after
        )
    )
    extra = dict(headers or {})
    if retry_after is not None:
        extra["Retry-After"] = str(retry_after)
    return JSONResponse(
        body.model_dump(mode="json", exclude_none=True),
        status_code=status,
        headers=extra,
    )


def _family(exc: StrongroomError) -> tuple[int, ErrorCode, str]:
    """Status, code and message for errors that carry no wire code."""
    if isinstance(exc, ValidationError):
        return 422, ErrorCode.INVALID_REQUEST, exc.message
    if isinstance(exc, LockedOut):
        return 429, ErrorCode.LOCKED_OUT, exc.message
    if isinstance(exc, ServiceUnavailable):
        return 503, ErrorCode.UNAVAILABLE, "the server cannot reach its database"
    if isinstance(exc, ConfigurationError):
        # The operator must fix this; the phone can only wait and say so.
        log.error("appserver_misconfigured error=%s", exc.code)
        return (
            503,
            ErrorCode.UNAVAILABLE,
            "the server is not set up completely; tell your administrator",
        )
    if isinstance(exc, AuthenticationFailed):
        return 401, ErrorCode.BAD_CREDENTIALS, exc.message
    status = exc.http_status if 400 <= exc.http_status < 500 else 400
    return status, ErrorCode.INVALID_REQUEST, exc.message


async def _strongroom_error(_request: Request, exc: Exception) -> JSONResponse:
    if not isinstance(exc, StrongroomError):  # pragma: no cover - registration
        raise exc
    wire = getattr(exc, "wire_code", None)
    if isinstance(wire, ErrorCode):
        status, code, message = exc.http_status, wire, exc.message
    else:
        status, code, message = _family(exc)
    return error_response(
        status,
        code,
        message,
        field=getattr(exc, "field", None),
        retry_after=getattr(exc, "retry_after", None),
    )


def _field_of(loc: tuple[Any, ...]) -> str | None:
    parts = [str(part) for part in loc if part != "body"]
    return ".".join(parts) or None


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    errors = exc.errors() if isinstance(exc, RequestValidationError) else []
    first: dict[str, Any] = dict(errors[0]) if errors else {}
    kind = str(first.get("type", ""))
    if kind == "json_invalid":
        return error_response(
            422, ErrorCode.INVALID_REQUEST, "the request body is not valid JSON"
        )
    field = _field_of(tuple(first.get("loc", ())))
    if field is None:
        message = "the request body is missing or not a JSON object"
    else:
        # The library's message only: the offending value may be a password.
        message = f"{field}: {first.get('msg', 'invalid value')}"
    return error_response(422, ErrorCode.INVALID_REQUEST, message, field=field)


async def _http_error(_request: Request, exc: Exception) -> JSONResponse:
    status = exc.status_code if isinstance(exc, StarletteHTTPException) else 400
    headers = getattr(exc, "headers", None)
    if status == 413:
        return error_response(413, ErrorCode.PAYLOAD_TOO_LARGE, TOO_LARGE_MESSAGE)
    if status == 400:
        # FastAPI's answer to a body it cannot decode (not UTF-8, say): for
        # the phone it is the same mistake as malformed JSON.
        return error_response(
            422, ErrorCode.INVALID_REQUEST, "the request body is not valid JSON"
        )
    messages = {
        404: "there is no such endpoint",
        405: "this endpoint does not take that method",
    }
    return error_response(
        status if status >= 400 else 400,
        ErrorCode.INVALID_REQUEST,
        messages.get(status, "the request was refused"),
        headers=dict(headers) if headers else None,
    )


async def _unexpected(_request: Request, exc: Exception) -> JSONResponse:
    error_id = uuid.uuid4().hex[:12]
    log.error(
        "appserver_unexpected_error error_id=%s error=%s",
        error_id,
        type(exc).__name__,
        exc_info=exc,
    )
    return error_response(
        500,
        ErrorCode.INTERNAL_ERROR,
        f"the server hit an unexpected problem; try again later (error {error_id})",
    )


def install_error_handlers(app: FastAPI) -> None:
    """Register the App Server's handlers on `app`."""
    app.add_exception_handler(StrongroomError, _strongroom_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)


# --- body size ---------------------------------------------------------------

TOO_LARGE_MESSAGE = "the request body is too large"


class BodyLimitMiddleware:
    """Refuse request bodies above `limit` bytes with 413, declared or streamed.

    A declared Content-Length above the limit is refused before a byte is
    read; a chunked body is counted as it arrives and refused once it passes
    the limit, before the endpoint sees any of it.
    """

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.limit:
            response = error_response(
                413, ErrorCode.PAYLOAD_TOO_LARGE, TOO_LARGE_MESSAGE
            )
            await response(scope, receive, send)
            return

        seen = 0

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    # An HTTPException passes FastAPI's body reader untouched
                    # and reaches the handler above as a 413.
                    raise StarletteHTTPException(413)
            return message

        await self.app(scope, limited, send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None
