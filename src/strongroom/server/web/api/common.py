"""Parameters and helpers every API router shares: ids in paths, paging."""

from collections.abc import Sequence
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Path, Query

from strongroom.server.web.api.errors import ApiRoute
from strongroom.server.web.api.schemas import ID_PATTERN, Page

MAX_PAGE = 500
MAX_OFFSET = 1_000_000_000

PathId = Annotated[str, Path(pattern=ID_PATTERN, description="An object's id.")]
Limit = Annotated[
    int, Query(ge=1, le=MAX_PAGE, description="How many items to return.")
]
Offset = Annotated[
    int, Query(ge=0, le=MAX_OFFSET, description="How many items to skip.")
]

T = TypeVar("T")


def page_of(items: Sequence[T], limit: int, offset: int) -> Page[T]:
    """Cut one page out of a full, already ordered sequence."""
    return Page[T](
        items=list(items[offset : offset + limit]),
        total=len(items),
        limit=limit,
        offset=offset,
    )


def api_router(**kwargs: Any) -> APIRouter:
    """An APIRouter whose routes answer every failure in the API's JSON shape."""
    return APIRouter(route_class=ApiRoute, **kwargs)
