"""The REST API under `/api/v1`, authenticated by API keys.

`router` is everything: the application includes it with one line and sets
`app.state.instance`. Errors are answered as JSON by the routes themselves
(see `errors.ApiRoute`), so the API needs no application-level handlers.
"""

from fastapi import FastAPI

from strongroom.server.web.api import (
    audit,
    features,
    folders,
    groups,
    lists,
    meta,
    permissions,
    records,
    users,
)
from strongroom.server.web.api.common import api_router
from strongroom.server.web.api.errors import ErrorBody

ERROR_RESPONSES: dict[int | str, dict[str, object]] = {
    status: {"model": ErrorBody, "description": description}
    for status, description in (
        (400, "The request is malformed (e.g. not JSON)"),
        (401, "No API key, or not a valid one"),
        (403, "The key or its user may not do this"),
        (404, "No such object"),
        (409, "The name is taken"),
        (413, "The body is too large"),
        (422, "A field's value is not valid; `error.field` names it"),
        (503, "The database does not answer"),
    )
}

router = api_router(prefix=meta.PREFIX, responses=ERROR_RESPONSES)
for _module in (
    meta,
    folders,
    lists,
    records,
    permissions,
    users,
    groups,
    features,
    audit,
):
    router.include_router(_module.router)
# Last, so it only answers what no route above matched.
router.include_router(meta.fallback)


def install(app: FastAPI) -> None:
    """Add the API to `app` (which must have `app.state.instance` set)."""
    app.include_router(router)


__all__ = ["ERROR_RESPONSES", "install", "router"]
