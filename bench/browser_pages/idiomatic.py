"""The idiomatic Panel page: a Tabulator per profile, each fed one SQL page at a time.

Ten profiles (by name), each a card with a Tabulator of its first ten connections read
through the same service as the real page (`list_connections`, keyset-paged, filtered in SQL)
and a "Load more" button that streams the next page into that table. The filters re-read every
card; View / Revoke are button columns opening the real page's dialogs.
"""

from typing import Any

import pandas as pd
import panel as pn
from common import backend, dialogs, filters, on_row_click, template  # bench/browser_pages/

from connmodel.services.connections import ConnectionFilter, list_connections
from connmodel.services.profiles import list_profiles
from dashboard.viewmodels.actions import ActionsModel

COLUMNS = ["id", "service", "account", "status", "status_reason"]
PROFILES, ROWS = 10, 10

pn.extension("tabulator", notifications=True)
store = backend()
actions = ActionsModel(store)
status, search = filters()
profiles = store.call(list_profiles, limit=PROFILES).items


def rows(items: list[Any]) -> pd.DataFrame:
    return pd.DataFrame([c.model_dump(include=set(COLUMNS)) for c in items], columns=COLUMNS)


class Card:
    """One profile: its table, its cursor and its "Load more"."""

    def __init__(self, name: str) -> None:
        self.name, self.cursor = name, None
        self.table = pn.widgets.Tabulator(rows([]), disabled=True, show_index=False,
                                          buttons={"view": "View", "revoke": "Revoke"},
                                          sizing_mode="stretch_width")
        for column, callback in on_row_click(
                actions, lambda e: int(self.table.value.id.iloc[e.row])).items():
            self.table.on_click(callback, column=column)
        self.more = pn.widgets.Button(name="Load more", visible=False)
        self.more.on_click(lambda _: self.read(append=True))
        self.view = pn.Card(self.table, self.more, title=name, collapsible=False,
                            sizing_mode="stretch_width")

    def read(self, append: bool = False) -> None:
        where = ConnectionFilter(profile=self.name, status=status.value or None,
                                 search=search.value or None)
        page = store.call(list_connections, where=where, sort="account", limit=ROWS,
                          cursor=self.cursor if append else None, count=False)
        if append:
            self.table.stream(rows(page.items), follow=False)
        else:
            self.table.value = rows(page.items)
        self.cursor = page.next_cursor
        self.more.visible = page.next_cursor is not None


cards = [Card(p.name) for p in profiles]


def refresh(*_: Any) -> None:
    for card in cards:
        card.read()


refresh()
status.param.watch(refresh, "value")
search.param.watch(refresh, "value")
actions.param.watch(refresh, "revoked")
template(pn.Row(status, search), *(c.view for c in cards), dialogs(actions)).servable()
