"""State of Gateway → Activity: the audit trail's filters and the SQL pages loaded so far.

The filters go to `connmodel.services.events.list_events` as one `EventFilter`, so filtering,
ordering (newest or oldest first) and paging happen in SQL; "Load more" follows the keyset cursor. The CSV
export hands `export_events_csv` the same filter, so it holds exactly the events the filters
select. Service errors become `error`.

Reads are coroutines: each runs its service call in a worker thread (`Backend.acall`) and sets
parameters on the loop once it is back, so a slow trail never holds the server's other
sessions; the newest filter's page wins (a page read for a superseded filter is dropped). The
CSV export is read the same way (Panel's FileDownload awaits a coroutine callback).

Events written elsewhere (another page, the CLI, a worker) reach the page through the process's
change watcher (`catch_up`, as on Connections and My Servers): it re-reads the events shown,
with the same filters, only when the store's change token moved past the one last read.
"""

import io
import itertools
from typing import Any

import param
from sqlmodel import Session

from connmodel.changes import Change, Token
from connmodel.errors import ConnModelError
from connmodel.models import AuditEventPublic
from connmodel.paging import MAX_LIMIT, Page
from connmodel.permissions import Actor
from connmodel.services.events import (
    EventFilter,
    event_actions,
    export_events_csv,
    list_events,
)
from connmodel.services.groups import change_token
from dashboard.viewmodels.backend import Backend
from dashboard.viewmodels.catch_up import CatchUp

PAGE_SIZE = 50


def _csv_text(session: Session, *, actor: Actor, where: EventFilter) -> str:
    return "".join(export_events_csv(session, actor=actor, where=where))


def _first_page(session: Session, *, actor: Actor, where: EventFilter, oldest_first: bool,
                limit: int) -> tuple[Token, list[str], Page[AuditEventPublic]]:
    """The change token, the action choices and the first `limit` events, in one session. The
    token is read first: an event committed meanwhile moves it past the page, so the watcher's
    next change re-reads."""
    return (change_token(session, actor=actor), event_actions(session, actor=actor),
            list_events(session, actor=actor, where=where, limit=limit,
                        oldest_first=oldest_first))


class ActivityModel(param.Parameterized):
    """The Activity page: filters, the events loaded so far, their total and any error."""

    who = param.String(default="", doc="Only events by this user (exact name; '' for all).")
    action = param.String(default="", doc="Only events with this action ('' for all).")
    target = param.String(default="", doc="Only events whose target contains this text.")
    since = param.Date(default=None, allow_None=True, doc="From this time (UTC, inclusive).")
    until = param.Date(default=None, allow_None=True, doc="Before this time (UTC, exclusive).")
    oldest_first = param.Boolean(default=False, doc="Sort by time ascending (newest first if not).")

    actions = param.List(default=[""], doc="The action choices: '' plus those in the trail.")
    events = param.List(item_type=AuditEventPublic, doc="The events shown, in time order.")
    total = param.Integer(default=0, doc="How many events match (capped, see `exact`).")
    exact = param.Boolean(default=True, doc="False when `total` is a lower bound.")
    next_cursor = param.String(default=None, allow_None=True, doc="Where the next page starts.")
    error = param.String(default="", doc="Why the trail could not be read (plain text).")

    def __init__(self, backend: Backend, **params: Any) -> None:
        super().__init__(**params)
        self.backend = backend
        self._inputs = itertools.count(1)
        self._newest = 0
        self._token: Token | None = None
        self._catch_up = CatchUp(self._reload_shown)

    def event_filter(self) -> EventFilter:
        """The filters shown (pickers give naive times: the filter reads them as UTC)."""
        return EventFilter(who=self.who, action=self.action, target=self.target,
                           since=self.since, until=self.until)

    def _choices(self, actions: list[str]) -> list[str]:
        """'' and `actions`, with the action filtered on even when the trail has none of it
        (a link's `?action=`): a select without it would fall back to "All actions"."""
        return ["", *actions, *([self.action] if self.action not in ["", *actions] else [])]

    @param.depends("action", watch=True, on_init=True)
    def _keep_action_choosable(self) -> None:
        if self.action not in self.actions:
            self.actions = self._choices(self.actions[1:])

    @param.depends("who", "action", "target", "since", "until", "oldest_first", watch=True)
    async def refresh(self) -> None:
        """Read the first page for the filters (and the action choices); dropped when a newer
        filter started a read meanwhile."""
        await self._read(PAGE_SIZE)

    async def _reload_shown(self) -> None:
        """Re-read as many events as are shown, so a change elsewhere does not undo "Load more"."""
        await self._read(min(max(len(self.events), PAGE_SIZE), MAX_LIMIT))

    async def _read(self, limit: int) -> None:
        """Read the first `limit` events for the filters as the newest input."""
        mine = self._newest = next(self._inputs)
        try:
            token, actions, page = await self.backend.acall(
                _first_page, where=self.event_filter(), oldest_first=self.oldest_first,
                limit=limit)
        except ConnModelError as exc:
            if mine == self._newest:
                self.param.update(events=[], total=0, next_cursor=None, error=str(exc))
            return
        if mine != self._newest:
            return  # superseded: the newer filter's page is shown
        self._token = token
        self.param.update(actions=self._choices(actions), events=page.items, total=page.total,
                          exact=page.total_exact, next_cursor=page.next_cursor, error="")

    async def catch_up(self, change: Change) -> bool:
        """Follow a change of the store: re-read with the same filters if the token moved
        since the last read (or the store is back after an error); show why when it is
        unreachable. Returns whether it re-read (or will, after the read in flight)."""
        if change.error is not None:
            self.error = change.error
            return False
        if change.token == self._token and not self.error:
            return False
        await self._catch_up()
        return True

    async def load_more(self) -> None:
        """Append the next SQL page (dropped if the filters or the page changed meanwhile)."""
        if not self.next_cursor:
            return
        shown, cursor = self._newest, self.next_cursor
        try:
            page = await self.backend.acall(list_events, where=self.event_filter(),
                                            cursor=cursor, limit=PAGE_SIZE,
                                            oldest_first=self.oldest_first)
        except ConnModelError as exc:
            if shown == self._newest:
                self.error = str(exc)
            return
        if shown != self._newest or cursor != self.next_cursor:
            return
        self.param.update(events=[*self.events, *page.items], next_cursor=page.next_cursor)

    async def csv_file(self) -> io.BytesIO:
        """The filtered trail as a CSV file (formula cells neutralised by the service)."""
        try:
            text = await self.backend.acall(_csv_text, where=self.event_filter())
        except ConnModelError as exc:
            self.error = str(exc)
            text = ""
        return io.BytesIO(text.encode("utf-8"))
