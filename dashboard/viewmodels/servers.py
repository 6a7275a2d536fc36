"""State of the My Servers page: filters, one SQL page of servers, live checks, reconfigure, add.

Checks run on the page's event loop without blocking it (`connmodel.checks.check_connections`
does its database work in threads and its probes as non-blocking I/O); each finished connection
moves `done`, and the shown page is re-read at most every RELOAD_EVERY_S, so results appear as
they arrive without one query per result. Service errors never
escape: they become `error` (listing) or `message` (actions) for the view to show.

Every other service call (the listing, its filters' re-reads, "Load more", reconfigure, add, the
change watcher's re-read) runs in a worker thread (`Backend.acall`) and its result is applied on
the loop once it is back, so a slow store never holds the server's other sessions. The newest
filter's page wins: a listing read for a superseded filter is dropped.
"""

import asyncio
import itertools
import time
from typing import Any

import param

from connmodel.changes import Change
from connmodel.checks import CheckRequest, ConnectionCheck, check_connections, tally
from connmodel.checks.runner import check_interval
from connmodel.errors import ConnModelError
from connmodel.models import AuditEventPublic, ServerRow
from connmodel.paging import MAX_LIMIT, Page
from connmodel.permissions import Actor
from connmodel.services.events import EventFilter, list_events
from connmodel.services.profiles import list_profiles
from connmodel.services.servers import (
    HEALTH,
    TRANSPORTS,
    list_servers,
    reconfigure_server,
    register_server,
)
from dashboard.viewmodels.backend import Backend
from dashboard.viewmodels.catch_up import CatchUp
from dashboard.viewmodels.providers import keyring as proven_keyring

ROWS_PER_PAGE = 50
STATE_OPTIONS = {"All states": "", **{h: h for h in HEALTH}}
CHECK_CONCURRENCY = 20
CHECK_TIMEOUT_S = 10.0
RELOAD_EVERY_S = 0.5


def _screen(session: Any, *, actor: Actor, listing: dict[str, Any]
            ) -> tuple[Page[ServerRow], list[str], list[AuditEventPublic]]:
    """The first page of servers, the profile choices and the recent changes, in one session."""
    return (list_servers(session, actor=actor, **listing),
            [p.name for p in list_profiles(session, actor=actor, limit=500).items],
            list_events(session, actor=actor, where=EventFilter(action="check"), limit=10).items)


class ServersPageModel(param.Parameterized):
    """My Servers: which servers are shown, what the running check has done, what to notify."""

    state = param.Selector(objects=STATE_OPTIONS, default="",
                           doc="Show only servers in this state ('' for all).")
    profile = param.String(default="", doc="Show only servers using this profile (exact name).")
    search = param.String(default="", doc="Free text over server name and URL.")

    rows = param.List(item_type=ServerRow, doc="The servers shown, by name.")
    next_cursor = param.String(default=None, allow_None=True,
                               doc="Where the next page starts; None when all are shown.")
    total = param.Integer(default=0, doc="How many servers match the filters.")
    error = param.String(default="", doc="Why the listing could not be read ('' when it could).")

    checking = param.Boolean(default=False, doc="True while a check runs.")
    done = param.Integer(default=0, doc="Connections checked so far by the running check.")
    planned = param.Integer(default=0, doc="Connections the running check covers (0: unknown).")

    profiles = param.List(item_type=str, doc="Profile names to reconfigure to or add with.")
    changes = param.List(item_type=AuditEventPublic, doc="Recent status changes found by checks.")
    message = param.String(default="", doc="The outcome of the last action (plain text).")
    message_kind = param.Selector(objects=["info", "success", "warning", "error"],
                                  default="info", doc="How the outcome is shown.")

    def __init__(self, backend: Backend, **params: Any) -> None:
        super().__init__(**params)
        self.backend = backend
        self.interval = check_interval()
        self._inputs = itertools.count(1)
        self._newest = 0
        self._catch_up = CatchUp(self._reload_shown)

    def _say(self, text: str, kind: str = "info") -> None:
        self.param.update(message="", message_kind=kind)
        self.message = text

    def _listing(self, **more: Any) -> dict[str, Any]:
        return {"state": self.state or None, "profile": self.profile.strip() or None,
                "search": self.search or None, **more}

    @param.depends("state", "profile", "search", watch=True)
    async def refresh(self) -> None:
        """Re-read the first page for the filters, the profile choices and the recent changes
        (dropped when a newer input started a read meanwhile)."""
        await self._read_screen(ROWS_PER_PAGE)

    async def load_more(self) -> None:
        """Append the next page (dropped if the rows were re-read meanwhile)."""
        cursor, shown = self.next_cursor, self._newest
        if not cursor:
            return
        try:
            page = await self.backend.acall(list_servers,
                                            **self._listing(cursor=cursor, limit=ROWS_PER_PAGE))
        except ConnModelError as exc:
            self.error = str(exc)
            return
        if shown != self._newest or cursor != self.next_cursor:
            return
        self.param.update(rows=[*self.rows, *page.items], next_cursor=page.next_cursor,
                          total=page.total, error="")

    async def _reload_shown(self) -> None:
        """Re-read as many rows as are shown (results of a check land in place), with the
        profile choices and the recent changes: it counts as the newest input, so it may be
        the read that replaces a first read it superseded."""
        await self._read_screen(min(max(len(self.rows), ROWS_PER_PAGE), MAX_LIMIT))

    async def _read_screen(self, limit: int) -> None:
        """Read `limit` rows, the profile choices and the recent changes as the newest input;
        dropped if a newer input started a read meanwhile."""
        mine = self._newest = next(self._inputs)
        try:
            page, profiles, changes = await self.backend.acall(
                _screen, listing=self._listing(limit=limit))
        except ConnModelError as exc:
            if mine == self._newest:
                self.error = str(exc)
            return
        if mine != self._newest:
            return  # superseded: the newer input's page is shown
        self.param.update(rows=page.items, next_cursor=page.next_cursor, total=page.total,
                          error="", profiles=profiles, changes=changes)

    async def catch_up(self, change: Change) -> None:
        """Show a change of the store made elsewhere (a check, a revoke, a reconfigure):
        re-read the rows shown, unless this page's own check is filling them (changes that
        come while it reads: one more read after it, see CatchUp)."""
        if change.error is not None:
            self.error = change.error
        elif not self.checking:
            await self._catch_up()

    async def check(self, server: str) -> None:
        """Check the connection behind one server (with every server that connection uses)."""
        row = next((r for r in self.rows if r.name == server), None)
        if row is None or row.connection_id is None:
            self._say(f"{server} has no live connection to check: reconfigure it first",
                      "warning")
            return
        await self._run(CheckRequest(ids=(row.connection_id,), timeout=CHECK_TIMEOUT_S))

    async def check_all(self) -> None:
        """Check every live connection, CHECK_CONCURRENCY servers at a time."""
        await self._run(CheckRequest(all_connections=True, concurrency=CHECK_CONCURRENCY,
                                     timeout=CHECK_TIMEOUT_S))

    async def _run(self, request: CheckRequest) -> None:
        if self.checking:
            self._say("a check is already running", "warning")
            return
        self.param.update(checking=True, done=0, planned=0)

        last_read = 0.0
        reloads: set[asyncio.Task[None]] = set()

        def arrived(_: ConnectionCheck, done: int, total: int) -> None:  # on the loop
            nonlocal last_read
            self.param.update(done=done, planned=total)
            if time.monotonic() - last_read >= RELOAD_EVERY_S:  # one page read, not one per result
                reload = asyncio.ensure_future(self._reload_shown())
                reloads.add(reload)
                reload.add_done_callback(reloads.discard)
                last_read = time.monotonic()

        try:  # a wrong key must fail the check before it records anything
            ring = await asyncio.to_thread(proven_keyring, self.backend.url)
            with self.backend.acting():  # a refusal (signed out since) shows the page's banner
                results = await check_connections(self.backend.url, actor=self.backend.actor,
                                                  request=request, keyring=ring,
                                                  on_result=arrived, deliver_webhooks=True)
        except ConnModelError as exc:
            self._say(f"check failed: {exc}", "error")
            return
        finally:
            self.checking = False
            await asyncio.gather(*reloads)
        await self.refresh()
        failed = any(r.status == "Error" for r in results)
        self._say(tally(results), "error" if failed else "success")

    async def reconfigure(self, server: str, profile: str) -> bool:
        """Move `server` to `profile` and reconnect it; True when it worked."""
        try:
            await self.backend.acall(reconfigure_server, name=server, profile=profile)
        except ConnModelError as exc:
            self._say(f"cannot reconfigure {server}: {exc}", "error")
            return False
        await self._reload_shown()
        self._say(f"{server} now uses profile {profile} and is connected", "success")
        return True

    async def add(self, name: str, url: str, profile: str, transport: str = TRANSPORTS[0]
                  ) -> bool:
        """Add a server using `profile`; True when it was added."""
        try:
            await self.backend.acall(register_server, name=name, url=url, profile=profile,
                                     transport=transport)
        except ConnModelError as exc:
            self._say(f"cannot add the server: {exc}", "error")
            return False
        await self._reload_shown()
        self._say(f"added {name.strip()}", "success")
        return True
