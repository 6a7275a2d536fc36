"""The one JSON shape of every paged listing, as the CLI's `--format json` prints it."""

from typing import Annotated, Any, Generic, TypeVar

from fastapi import Query, Response
from pydantic import BaseModel

from connmodel.paging import MAX_LIMIT, Page

T = TypeVar("T")


class PageOut(BaseModel, Generic[T]):
    """One page: `next_cursor` continues it (None: the last page); `total` is exact when
    `total_exact`, else a lower bound (counts stop at 10,000)."""

    items: list[T]
    next_cursor: str | None
    total: int
    total_exact: bool


def page_response(page: Page[Any], shape: type[PageOut[Any]]) -> Response:
    """The page as JSON in `shape`, the route's declared `response_model`, serialized once.

    FastAPI would dump a returned page to dicts and validate them again against the response
    model (a third of a status listing's CPU). The page is built without validation instead
    (its items are the service's own models) and serialized by `shape`'s schema, so only the
    fields `shape` declares leave, whatever the items' runtime class carries.
    """
    out = shape.model_construct(items=page.items, next_cursor=page.next_cursor,
                                total=page.total, total_exact=page.total_exact)
    return Response(out.model_dump_json(), media_type="application/json")


Cursor = Annotated[str | None, Query(description="The next_cursor of the previous page.",
                                     max_length=1000)]
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Items per page.")]
