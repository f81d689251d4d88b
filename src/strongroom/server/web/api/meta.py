"""The caller's own key (`/me`), the API's OpenAPI document, and JSON answers
for paths and methods the API does not have."""

import re
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse

from strongroom.server.web.api.common import api_router
from strongroom.server.web.api.context import Context
from strongroom.server.web.api.errors import error_response
from strongroom.server.web.api.schemas import MeOut

PREFIX = "/api/v1"

router = api_router(tags=["meta"])
fallback = api_router()

_ALL_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE"]


@router.get("/me", response_model=MeOut, summary="The calling key")
def me(ctx: Context) -> MeOut:
    """Which key is calling, whom it acts as and where it may act."""
    principal = ctx.principal
    return MeOut(
        key_id=principal.key_id,
        key_name=principal.key_name,
        user_id=principal.user_id,
        user_name=principal.user_name,
        system_wide=principal.system_wide,
        is_admin=principal.is_admin,
        list_ids=sorted(principal.list_ids),
    )


@router.get("/openapi.json", include_in_schema=False)
def openapi(request: Request) -> JSONResponse:
    """The application's OpenAPI document cut down to the `/api/v1` paths.

    Public on purpose, like the application's own /openapi.json: it describes
    the API, never data.
    """
    document: dict[str, Any] = dict(request.app.openapi())
    document["paths"] = {
        path: item
        for path, item in document.get("paths", {}).items()
        if path.startswith(PREFIX + "/")
    }
    return JSONResponse(document)


def _allowed_methods(request: Request) -> set[str]:
    # The published OpenAPI paths are the API's public map of paths and
    # methods, so they answer "which methods would this path take?".
    allowed: set[str] = set()
    path = request.url.path
    for template, item in request.app.openapi().get("paths", {}).items():
        if not template.startswith(PREFIX + "/"):
            continue
        pattern = "^" + re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(template)) + "$"
        if re.match(pattern, path):
            allowed |= {method.upper() for method in item}
    if "GET" in allowed:
        allowed.add("HEAD")
    return allowed


@fallback.api_route("/{rest:path}", methods=_ALL_METHODS, include_in_schema=False)
def unknown_endpoint(request: Request, rest: str) -> JSONResponse:
    """404 for a path the API lacks, 405 (with Allow) for a method it lacks."""
    allowed = _allowed_methods(request)
    if allowed:
        response = error_response(
            405,
            "method_not_allowed",
            f"{request.method} is not allowed here; use {', '.join(sorted(allowed))}",
        )
        response.headers["Allow"] = ", ".join(sorted(allowed))
        return response
    return error_response(
        404,
        "not_found",
        "there is no such API endpoint",
        hint=f"see {PREFIX}/openapi.json",
    )
