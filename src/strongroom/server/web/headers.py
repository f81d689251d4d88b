"""Security headers on every response, a cap on request bodies, and a refusal
of addresses no object can have.

Pure ASGI middleware (no BaseHTTPMiddleware), so streaming responses and
background tasks keep working.
"""

from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# No inline script or style anywhere: every script and stylesheet is a file
# under /static, so an injected <script> or style attribute does nothing.
# frame-ancestors 'none' stops click-jacking; form-action 'self' stops an
# injected form from posting secrets elsewhere.
CSP = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)

# Two years, the value HSTS preload lists ask for.
HSTS = "max-age=63072000; includeSubDomains"

# Forms of this UI are small; a record's notes are at most 64 KiB.
MAX_BODY_BYTES = 1_048_576


class SecurityHeaders:
    """Adds CSP, framing, sniffing, referrer and (on HTTPS) HSTS headers."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        https = scope.get("scheme") == "https"
        is_static = str(scope.get("path", "")).startswith("/static/")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.setdefault("Content-Security-Policy", CSP)
                headers["X-Content-Type-Options"] = "nosniff"
                headers["X-Frame-Options"] = "DENY"
                headers["Referrer-Policy"] = "no-referrer"
                headers["Cross-Origin-Opener-Policy"] = "same-origin"
                headers["Permissions-Policy"] = (
                    "camera=(), microphone=(), geolocation=()"
                )
                if https:
                    headers["Strict-Transport-Security"] = HSTS
                if not is_static:
                    # Pages can show secrets: never keep them in any cache.
                    headers.setdefault("Cache-Control", "no-store")
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _too_large(scope: Scope) -> Response:
    """The 413 in the shape the caller reads: API JSON, or the UI's error page."""
    # Late import: the error edge pulls in templating and the database layer,
    # which this module (loaded by the App Server too) does not need otherwise.
    from strongroom.server.web.handlers import error_page

    return error_page(
        Request(scope),
        413,
        f"The request is larger than this server accepts ({MAX_BODY_BYTES} bytes).",
        code="too_large",
    )


class BodySizeLimit:
    """Refuses request bodies larger than `limit` bytes with 413."""

    def __init__(self, app: ASGIApp, limit: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    too_big = int(value) > self.limit
                except ValueError:
                    too_big = True
                if too_big:
                    response = _too_large(scope)
                    await response(scope, receive, send)
                    return

        received = 0

        async def limited_receive() -> Message:
            # Bodies without a length (chunked) are counted as they arrive.
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    # Raised inside the app, so its error edge renders the 413.
                    raise HTTPException(413)
            return message

        await self.app(scope, limited_receive, send)


class RefuseNulPaths:
    """Answers 404 for a path holding a NUL character, before any route runs.

    Why: no id, name or page address contains NUL, and PostgreSQL refuses it
    in any text it is asked to compare, so `/lists/%00` would otherwise reach
    the database and fail there. Ids come from path segments everywhere, so
    one check here covers every page. The REST API checks its ids itself and
    answers 422 naming the parameter, so /api/ is left to it.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = str(scope.get("path", ""))
        if scope["type"] == "http" and "\x00" in path and not path.startswith("/api/"):
            # Late import, for the same reason as in _too_large.
            from strongroom.server.web.handlers import error_page

            response = error_page(
                Request(scope),
                404,
                "There is no page at this address.",
                code="not_found",
            )
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)
