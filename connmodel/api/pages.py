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


def page_response(page: Page[Any]) -> Response:
    """The page as JSON, serialized once: a route declares `response_model=PageOut[Item]` for
    the OpenAPI document and returns this, so FastAPI does not dump the page to dicts and
    validate them again against that model (a third of a status listing's CPU)."""
    return Response(PageOut[Any](items=page.items, next_cursor=page.next_cursor,
                                 total=page.total, total_exact=page.total_exact)
                    .model_dump_json(), media_type="application/json")


Cursor = Annotated[str | None, Query(description="The next_cursor of the previous page.",
                                     max_length=1000)]
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Items per page.")]
