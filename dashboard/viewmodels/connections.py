"""State of the Connections page: filters, the paged list of profile cards, each card's rows.

Nothing here holds the connection table: the page keeps one SQL page of profiles (more on
"Load more profiles") and every card one SQL page of its connections (more on "Load more").
Service errors never escape: they become `error`, which the view shows, and the next refresh
that succeeds clears it. Every read is a coroutine that awaits the service in a worker thread
(`Backend.aread`) and changes parameters only on the event loop once it is back: a slow read of
one session leaves the server's loop to the others (docs/read-budget.md). Inputs therefore
overlap, and only the newest input's screen is shown (`refresh`): a screen, a "Load more" or a
sort superseded while it was read is dropped, never shown over the newer one. The page does not
poll: the process's change watcher (connmodel/changes.py) hands it each change of the store
(`catch_up`).
"""

import itertools
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

import param

from connmodel.changes import Change
from connmodel.errors import ConnModelError, ReadBudgetExceeded
from connmodel.models import ConnectionPublic, ProfilePublic
from connmodel.paging import Page
from connmodel.services.connections import SORT_FIELDS as LISTING_SORTS
from connmodel.services.connections import list_connections
from connmodel.services.groups import CardsScreen, GroupFilter, cards_screen
from connmodel.status import Environment, Status
from dashboard.viewmodels.backend import Backend
from dashboard.viewmodels.catch_up import CatchUp

log = logging.getLogger(__name__)


def _unexpected(exc: Exception) -> ConnModelError:
    """A read that failed for a reason the store does not name (a bug): logged with its
    traceback, and told to the user in words that leak nothing of it."""
    log.error("connections page: the screen could not be read", exc_info=exc)
    return ConnModelError("this page could not be read (an internal error, logged on the "
                          "server): change a filter or reload to try again")

PROFILES_PER_PAGE = 10
ROWS_PER_CARD = 10
ROW_SORT = "account"
SORT_FIELDS = tuple(f for f in LISTING_SORTS if f != "id")  # the cards' sortable columns
KEEP_MAX = 100
STATUS_OPTIONS = {"All statuses": "", **{s.value: s.value for s in Status}}
ENVIRONMENT_OPTIONS = {"All environments": "", **{e.value: e.value for e in Environment}}


def sorted_rows(session: Any, *, actor: Any, where: GroupFilter, profile_id: int, sort: str,
                rows: int) -> Page[ConnectionPublic]:
    """The first `rows` connections of one card in the SQL order `sort`."""
    return list_connections(session, actor=actor, where=where.connection_filter(profile_id),
                            sort=sort, limit=rows, count=False)


@dataclass(frozen=True)
class Screen:
    """What one refresh reads, in one worker thread: the cards' screen, and the rows of each
    card the URL sorts otherwise than by account."""

    cards: CardsScreen
    sorted: dict[int, tuple[str, Page[ConnectionPublic]]]


def read_screen(session: Any, *, actor: Any, where: GroupFilter, cursor: str | None = None,
                limit: int, rows: int, sorts: dict[int, str],
                longer: dict[int, int] | None = None) -> Screen:
    screen = cards_screen(session, actor=actor, where=where, cursor=cursor, limit=limit,
                          rows=rows, sort=ROW_SORT, longer=longer)
    resorted = {}
    for profile in screen.profiles.items:
        page = screen.rows.get(profile.id)
        if profile.id in sorts and page:
            sort = sorts[profile.id]
            resorted[profile.id] = (sort, sorted_rows(
                session, actor=actor, where=where, profile_id=profile.id, sort=sort,
                rows=max(len(page.items), ROWS_PER_CARD)))
    return Screen(screen, resorted)


class ProfileCardModel(param.Parameterized):
    """One profile card: the profile with its counts and one or more SQL pages of its rows."""

    profile = param.ClassSelector(class_=ProfilePublic, doc="The profile and its counts.")
    rows = param.List(item_type=ConnectionPublic, doc="The connections shown, by account.")
    next_cursor = param.String(default=None, allow_None=True,
                               doc="Where the next page starts; None when all are shown.")
    sort = param.String(default=ROW_SORT, doc="The rows' SQL order ('status', '-created').")

    def __init__(self, backend: Backend, where: GroupFilter, on_error: Callable[[Exception], None],
                 **params: Any) -> None:
        super().__init__(**params)
        self._backend = backend
        self._where = where
        self._on_error = on_error

    async def load_more(self) -> list[ConnectionPublic]:
        """Append the next page (keyset: as cheap deep in a million rows as on the first page).

        Returns the rows appended (none when there is nothing more, the read failed, or the
        card changed meanwhile: another page or sort was applied first)."""
        if not self.next_cursor:
            return []
        before = (self.sort, self.next_cursor)
        try:
            page = await self._backend.aread(
                list_connections, where=self._where.connection_filter(self.profile.id),
                sort=self.sort, cursor=self.next_cursor, limit=ROWS_PER_CARD, count=False)
        except ConnModelError as exc:
            self._on_error(exc)
            return []
        if (self.sort, self.next_cursor) != before:
            return []  # superseded while it was read
        self.param.update(rows=[*self.rows, *page.items], next_cursor=page.next_cursor)
        return page.items

    async def sort_rows(self, sort: str, rows: int = ROWS_PER_CARD) -> bool:
        """Re-read the first `rows` in this order (a keyset page of the SQL sort, not a sort of
        the rows shown). A sort the service refuses leaves the card as it is (False)."""
        try:
            page = await self._backend.aread(sorted_rows, where=self._where,
                                             profile_id=self.profile.id, sort=sort, rows=rows)
        except ConnModelError as exc:
            self._on_error(exc)
            return False
        self.param.update(rows=page.items, next_cursor=page.next_cursor, sort=sort)
        return True

    @property
    def total(self) -> int:
        return sum(self.profile.counts.values())


class ConnectionsPageModel(param.Parameterized):
    """The Connections page: filters (kept in the URL), profile cards, totals and errors."""

    status = param.Selector(objects=STATUS_OPTIONS, default="",
                            doc="Show only connections with this status ('' for all).")
    environment = param.Selector(objects=ENVIRONMENT_OPTIONS, default="",
                                 doc="Show only profiles tagged with this environment.")
    profile = param.String(default="", doc="Show only profiles whose name contains this text.")
    search = param.String(default="", doc="Free text over account and service.")
    sorts = param.String(default="", doc="Cards not sorted by account, in the URL: "
                                         "'PROFILE_ID:FIELD' (or ':-FIELD'), comma-separated.")

    cards = param.List(item_type=ProfileCardModel, doc="The profile cards loaded so far.")
    profiles_cursor = param.String(default=None, allow_None=True,
                                   doc="Where the next page of profiles starts.")
    profiles_total = param.Integer(default=0, doc="Profiles listed under the current filter.")
    profiles_total_exact = param.Boolean(default=True, doc="False when the count hit its cap.")
    loaded = param.Boolean(default=False, doc="True once a refresh has succeeded.")
    error = param.String(default="", doc="The last service error, shown until a call succeeds.")
    too_broad = param.Boolean(default=False, doc="The error is a read over its budget: the "
                                                 "person narrows the search; the store is fine.")
    working = param.Boolean(default=False, doc="True while the newest input's screen is read.")

    def __init__(self, backend: Backend, **params: Any) -> None:
        super().__init__(**params)
        self.backend = backend
        self._token: tuple[int, ...] | None = None
        self._inputs = itertools.count(1)
        self._newest = 0
        self._reading: threading.Event | None = None  # stops the screen being read (SQLite)
        self._catch_up = CatchUp(partial(self.refresh, keep_loaded=True))

    @property
    def where(self) -> GroupFilter:
        return GroupFilter(status=self.status or None, environment=self.environment or None,
                           profile=self.profile or None, search=self.search or None)

    @property
    def filtering(self) -> bool:
        return bool(self.status or self.environment or self.profile.strip() or self.search.strip())

    @property
    def counts(self) -> dict[str, int]:
        """Matching connections by status over the cards loaded so far."""
        totals = {s.value: 0 for s in Status}
        for card in self.cards:
            for status, n in card.profile.counts.items():
                totals[status] = totals.get(status, 0) + n
        return totals

    @property
    def counts_exact(self) -> bool:
        """False when a card's counts stopped early (a common search): `counts` is then at least."""
        return all(card.profile.counts_exact for card in self.cards)

    @property
    def empty_database(self) -> bool:
        return self.loaded and not self.error and not self.filtering and not self.cards

    @param.depends("status", "environment", "profile", "search", watch=True)
    async def _filters_changed(self) -> None:
        await self.refresh()

    def card_sorts(self) -> dict[int, str]:
        """`sorts` read as {profile id: sort}; malformed entries are ignored."""
        found = {}
        for entry in self.sorts.split(","):
            ident, _, sort = entry.partition(":")
            if ident.isdigit() and sort.lstrip("-") in SORT_FIELDS and sort != ROW_SORT:
                found[int(ident)] = sort
        return found

    async def sort_card(self, index: int, field: str) -> None:
        """A click on a card's column header: ascending, or descending when already ascending."""
        if not 0 <= index < len(self.cards) or field not in SORT_FIELDS:
            return
        card = self.cards[index]
        sort = f"-{field}" if card.sort == field else field
        sorted_now = await card.sort_rows(
            sort, rows=min(max(len(card.rows), ROWS_PER_CARD), KEEP_MAX))
        if sorted_now and card in self.cards:  # not replaced by a newer screen meanwhile
            sorts = {**self.card_sorts(), card.profile.id: sort}
            self.sorts = ",".join(f"{pid}:{s}" for pid, s in sorts.items() if s != ROW_SORT)

    def clear_filters(self) -> None:
        self.param.update(status="", environment="", profile="", search="")

    def _fail(self, exc: Exception) -> None:
        log.warning("connections page: %s", exc)
        self.param.update(error=str(exc), too_broad=isinstance(exc, ReadBudgetExceeded))

    async def refresh(self, *, keep_loaded: bool = False) -> None:
        """Re-read the first page of profiles and the first page of every card on it.

        The read runs in a worker thread; meanwhile `working` is True and other inputs are
        served. When a newer input started a read meanwhile, this one's screen (or error) is
        dropped: the newer input's is shown, and `working` stays True until it is. On SQLite
        the superseded read is also stopped where it is (`Backend.read`'s `cancel`).

        With `keep_loaded` (the store changed elsewhere) as many profiles as were loaded, and
        as many rows as each card shows, are re-read, up to KEEP_MAX each, so "Load more" is not
        undone under the reader (nor done for the cards it was not clicked in).
        """
        where = self.where
        profiles, longer = PROFILES_PER_PAGE, {}
        if keep_loaded:
            profiles = min(max(profiles, len(self.cards)), KEEP_MAX)
            longer = {c.profile.id: min(len(c.rows), KEEP_MAX) for c in self.cards
                      if len(c.rows) > ROWS_PER_CARD}
        mine = self._newest = next(self._inputs)
        if self._reading is not None:
            self._reading.set()  # its screen would be dropped: stop reading it (SQLite)
        stop = self._reading = threading.Event()
        self.working = True
        try:
            screen = await self.backend.aread(read_screen, where=where, limit=profiles,
                                              rows=ROWS_PER_CARD, longer=longer,
                                              sorts=self.card_sorts(), cancel=stop)
        except Exception as exc:  # noqa: BLE001 - a failed read must never leave the overlay on
            if mine == self._newest:
                self.working = False
                self._fail(exc if isinstance(exc, ConnModelError) else _unexpected(exc))
            return
        if mine != self._newest:
            return  # superseded by a newer input read meanwhile: newest wins
        self._token = screen.cards.token
        self.param.update(cards=self._cards(screen, where),
                          profiles_cursor=screen.cards.profiles.next_cursor,
                          profiles_total=screen.cards.profiles.total,
                          profiles_total_exact=screen.cards.profiles.total_exact, loaded=True,
                          error="", too_broad=False, working=False)

    async def load_more_profiles(self) -> None:
        """Append the next page of profile cards (dropped if a newer screen came meanwhile)."""
        if not self.profiles_cursor:
            return
        where, cursor, shown = self.where, self.profiles_cursor, self._newest
        try:
            screen = await self.backend.aread(read_screen, where=where, cursor=cursor,
                                              limit=PROFILES_PER_PAGE, rows=ROWS_PER_CARD,
                                              sorts=self.card_sorts())
        except ConnModelError as exc:
            if shown == self._newest:
                self._fail(exc)
            return
        if shown != self._newest or cursor != self.profiles_cursor:
            return  # the page was re-read, or this page was appended, meanwhile
        more = self._cards(screen, where)
        self.param.update(cards=[*self.cards, *more],
                          profiles_cursor=screen.cards.profiles.next_cursor)

    def _cards(self, screen: Screen, where: GroupFilter) -> list[ProfileCardModel]:
        """Card models with the rows read for them (a profile without rows has no page)."""
        cards = []
        for profile in screen.cards.profiles.items:
            page = screen.cards.rows.get(profile.id)
            sort, page = screen.sorted.get(profile.id, (ROW_SORT, page))
            cards.append(ProfileCardModel(
                self.backend, where, self._fail, profile=profile, sort=sort,
                rows=page.items if page else [], next_cursor=page.next_cursor if page else None))
        return cards

    def forget(self, connection_ids: list[int]) -> None:
        """Drop connections revoked from this page at once, without a query.

        The store's change comes back through the watcher and re-reads the page to reconcile.
        """
        gone = set(connection_ids)
        for card in self.cards:
            removed = [r for r in card.rows if r.id in gone]
            if not removed:
                continue
            counts = dict(card.profile.counts)
            for row in removed:
                counts[row.status] = max(0, counts.get(row.status, 0) - 1)
            card.param.update(profile=card.profile.model_copy(update={"counts": counts}),
                              rows=[r for r in card.rows if r.id not in gone])

    async def catch_up(self, change: Change) -> bool:
        """Follow a change of the store: refresh if the token moved since the last read (or
        the store is back after an error); show why when it is unreachable.

        Costs nothing when the page already shows that token. Returns whether it refreshed
        (or will, after the catch-up read in flight: see CatchUp).
        """
        if change.error is not None:
            self._fail(ConnModelError(change.error))
            return False
        if change.token == self._token and not self.error:
            return False
        await self._catch_up()
        return True
