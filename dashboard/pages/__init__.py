"""The pages of the console and the sidebar groups they appear in.

A page is a module with `TITLE`, `GROUP` and `build(backend) -> Viewable`; add one here and it
gets a sidebar entry and its own URL (`?page=<key>`).
"""

from collections.abc import Callable
from dataclasses import dataclass

from panel.viewable import Viewable

from dashboard.pages import activity, connections, servers, tokens
from dashboard.viewmodels.backend import Backend


@dataclass(frozen=True)
class PageSpec:
    key: str
    title: str
    group: str
    build: Callable[[Backend], Viewable]


PAGES: dict[str, PageSpec] = {
    m.KEY: PageSpec(m.KEY, m.TITLE, m.GROUP, m.build) for m in (connections, servers, activity, tokens)
}
DEFAULT_PAGE = connections.KEY
