"""The one JSON shape of every paged listing, as the CLI's `--format json` prints it."""

from typing import Annotated, Generic, TypeVar

from fastapi import Query
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


def page_out(page: Page[T]) -> PageOut[T]:
    return PageOut[T](items=page.items, next_cursor=page.next_cursor, total=page.total,
                      total_exact=page.total_exact)


Cursor = Annotated[str | None, Query(description="The next_cursor of the previous page.",
                                     max_length=1000)]
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Items per page.")]
