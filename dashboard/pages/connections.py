"""Gateway → Connections: the seed page, with filters, profile cards, View/Revoke and bulk revoke.

Widgets are made from the view models' parameters; callbacks delegate to the models in one
line, awaiting them: the models read in worker threads and change their parameters on the loop,
so the server's other sessions go on while this one waits for the store. The filters live in the URL (`?status=Error&environment=staging&profile=..&q=..`).
"""

import os
from typing import Any

import panel as pn
import param

from connmodel.services.groups import GroupFilter
from connmodel.status import HINTS, Status
from dashboard.changes import follow_changes
from dashboard.components import immediate
from dashboard.components.notice import Notice
from dashboard.components.profile_card import ProfileCards, card_data, row_data
from dashboard.components.skip_link import SkipLink
from dashboard.components.status_line import StatusLine
from dashboard.components.theme import MARKDOWN_CSS
from dashboard.components.toasts import Toasts
from dashboard.routing import sync_url
from dashboard.viewmodels.actions import ActionsModel
from dashboard.viewmodels.backend import Backend
from dashboard.viewmodels.connections import ConnectionsPageModel, ProfileCardModel
from dashboard.views.connection_actions import ConnectionDialogsWithActions
from dashboard.views.new_profile import provider_tools

KEY = "connections"
SPINNER_ENV = "CONNMODEL_SPINNER_DELAY_MS"
TITLE = "Connections"
GROUP = "Gateway"
URL_KEYS = {"status": "status", "environment": "environment", "profile": "profile",
            "search": "q", "sorts": "sort"}


def spinner_delay_ms(raw: str | None = None) -> int:
    """How long a read runs before its cards show the spinner: `raw`, else
    $CONNMODEL_SPINNER_DELAY_MS, else 150 ms. A quicker read shows none (no flicker, and four
    messages fewer: 11 % of a filter change's server CPU). ValueError when malformed."""
    raw = (raw if raw is not None else os.environ.get(SPINNER_ENV, "")).strip()
    if not raw:
        return 150
    if not raw.isdigit() or int(raw) > 10_000:
        raise ValueError(f"{SPINNER_ENV}={raw!r}: give milliseconds from 0 to 10000, like 150")
    return int(raw)


INTRO = """# Connections
Manage authenticated connections and profiles for MCP servers.
"""
ABOUT = """Connections & Profiles shows all your authenticated connections to external services,
organized by profile. When you configure a provider and connect to an MCP server, a connection is
created. Connections are grouped by profile (the provider configuration you used):
**Provider Config → Profile → Connection to MCP Server**. Each card shows one profile: its name,
the provider config, the environment and the description its admin wrote, then its connections.
Click a column header to sort that card's table.
"""
TROUBLESHOOTING = f"""
| Issue | Solution |
|---|---|
| Connection shows "Error" | {HINTS[Status.ERROR]} |
| Connection shows "Inactive" | {HINTS[Status.INACTIVE]} |
| MCP server stopped working | Check connection status here |
"""
BEST_PRACTICES = """
- **Regular review**: Periodically check connections are still active
- **Remove unused**: Revoke connections you no longer need
- **Multiple profiles**: Use separate profiles for dev/staging/production
- **Monitor status**: Watch for error statuses indicating auth issues
"""
EMPTY_DATABASE = """### No profiles yet
A profile is a named use of a provider config. Add one with **New profile** above, or from a
terminal with `connmodel provider add` and `connmodel profile add` (see `connmodel profile add
--help`), then connect it to an MCP server: its connections appear here. To try this page with
example profiles and connections, run `connmodel demo`.
"""
NO_MATCH = "### No connection matches these filters\nChange or clear the filters above."


def _section(title: str, body: str) -> str:
    """A collapsed section of the page's prose: the browser's own `<details>`, in the page's
    Markdown (a Panel Card per section cost 9 models and ~9 ms of each session's first screen)."""
    return f"<details><summary>{title}</summary>\n\n{body.strip()}\n\n</details>\n"


HEAD = INTRO + "\n" + _section("About connections", ABOUT)
FOOT = (_section("Troubleshooting", TROUBLESHOOTING) + _section("Best practices", BEST_PRACTICES)
        + "\n[Next: View My Servers](?page=servers)\n")
SECTIONS_CSS = """
details { border: 1px solid var(--panel-border-color); border-radius: 4px; margin: 8px 0;
          padding: 0 12px; }
summary { cursor: pointer; font-weight: 600; padding: 8px 0; }
details[open] { padding-bottom: 8px; }
details[open] > summary { border-bottom: 1px solid var(--panel-border-color); margin-bottom: 8px; }
"""


class ConnectionsPage(pn.viewable.Viewer):
    """The page: intro, filters, summary, bulk actions, cards, sections, dialogs."""

    model = param.ClassSelector(class_=ConnectionsPageModel, doc="Filters, cards, errors.")
    actions = param.ClassSelector(class_=ActionsModel, doc="View / Revoke state.")
    selected = param.List(default=[], doc="Connection ids ticked across the cards.")
    tools = param.Parameter(default=None, doc="New profile and the OAuth callback's outcome.")

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        m, a = self.model, self.actions
        self._spinner_delay_ms = spinner_delay_ms()
        self._cards = ProfileCards(on_action=self._on_card_action, on_sort=m.sort_card,
                                   sizing_mode="stretch_width",
                                   margin=0, can_write=a.backend.can_write)
        self._summary = StatusLine(sizing_mode="stretch_width")
        self._error = Notice(kind="error", title="Cannot load connections.",
                             sizing_mode="stretch_width")
        self._toasts = Toasts()
        self._empty = pn.pane.Markdown("", visible=False, sizing_mode="stretch_width",
                                       stylesheets=[MARKDOWN_CSS])
        self._more_profiles = pn.widgets.Button(label="Load more profiles", visible=False)
        self._more_profiles.on_click(self._on_more_profiles)
        self._revoke_selected = pn.widgets.Button(label="Revoke selected", disabled=True,
                                                  color="danger", variant="outline")
        self._revoke_selected.on_click(self._on_revoke_selected)
        self._revoke_matching = pn.widgets.Button(label="Revoke all matching this filter",
                                                  disabled=True, color="danger",
                                                  variant="outline")
        self._revoke_matching.on_click(self._on_revoke_matching)
        self._bulk = pn.FlexBox(self._revoke_selected, self._revoke_matching)
        self._card_watchers: list[tuple[ProfileCardModel, Any]] = []
        self._appending: set[ProfileCardModel] = set()
        # The spinner before the drawing (a higher precedence runs later): a screen's cards and
        # the end of `working` come in one update, and a drawing that raised would otherwise
        # leave the overlay on over the rows.
        m.param.watch(self._show_working, "working")
        m.param.watch(self._render_cards, "cards", precedence=1)
        m.param.watch(self._render_state, ["error", "loaded", "cards", "profiles_cursor"],
                      precedence=1)
        a.param.watch(self._on_changed, "changed")
        a.param.watch(lambda e: m.forget(e.new), "revoked")
        a.param.watch(self._notify, "message")
        self.param.watch(self._render_selection, "selected")
        self._cards.param.watch(lambda e: setattr(self, "selected", list(e.new)), "selected")
        self._render_cards()
        self._render_state()

    def _filters(self) -> pn.FlexBox:
        m = self.model
        clear = pn.widgets.Button(label="Clear filters", align="end")
        clear.on_click(lambda _: m.clear_filters())
        return pn.FlexBox(
            immediate.Select.from_param(m.param.status, label="Status", width=140),
            immediate.Select.from_param(m.param.environment, label="Environment", width=160),
            immediate.TextInput.from_param(m.param.profile, label="Profile name",
                                           placeholder="e.g. Hubspot", width=170),
            immediate.TextInput.from_param(m.param.search, label="Search account or service",
                                           placeholder="e.g. user@example.com", width=220),
            clear, SkipLink(align="end"), sizing_mode="stretch_width",
        )

    async def _on_more_profiles(self, _: Any) -> None:
        await self.model.load_more_profiles()

    async def _on_revoke_selected(self, _: Any) -> None:
        await self.actions.ask_revoke_selected(self.selected)

    async def _on_revoke_matching(self, _: Any) -> None:
        await self.actions.ask_revoke_matching(self.model.where)

    async def _on_changed(self, _: Any) -> None:
        await self.model.refresh()

    async def _on_card_action(self, action: str, ident: int | None) -> None:
        if action == "view" and ident is not None:
            await self.actions.view(ident)
        elif action == "revoke" and ident is not None:
            await self.actions.ask_revoke(ident)
        elif action == "more" and ident is not None and 0 <= ident < len(self.model.cards):
            await self._load_more(ident)

    async def _load_more(self, index: int) -> None:
        """Next SQL page of one card; the browser gets just those rows (none when the cards
        were replaced while the page was read: the new cards are shown whole)."""
        card = self.model.cards[index]
        self._appending.add(card)
        try:
            rows = await card.load_more()
        finally:
            self._appending.discard(card)
        if rows and index < len(self.model.cards) and self.model.cards[index] is card:
            self._cards.append_rows(index, [row_data(r) for r in rows],
                                    card.next_cursor is not None)

    def _render_cards(self, *_: Any) -> None:
        """Show the model's cards; watch each so its 'Load more' or changes show at once."""
        for card, watcher in self._card_watchers:
            card.param.unwatch(watcher)
        self._card_watchers = [
            (card, card.param.watch(self._show_cards, ["profile", "rows", "next_cursor", "sort"]))
            for card in self.model.cards]
        self._show_cards()

    def _show_cards(self, *events: param.parameterized.Event) -> None:
        """Send every card, or only the one card these events changed (sorted, rows revoked)."""
        changed = {e.obj for e in events}
        if changed and changed <= self._appending:
            return  # a page of rows appended: `_load_more` sends just those
        empty = ("No connection matches the filters." if self.model.filtering
                 else "No live connections in this profile.")  # "yet" once all are revoked
        cards = self.model.cards
        shown = {r.id for c in cards for r in c.rows}
        selected = [i for i in self._cards.selected if i in shown]

        def data(c: ProfileCardModel) -> dict[str, Any]:
            return card_data(c.profile, c.rows, c.next_cursor is not None, empty, c.sort)

        if len(changed) == 1 and (card := changed.pop()) in cards:
            self._cards.show_card(cards.index(card), data(card))
            self._cards.selected = selected
            self._render_state()  # its counts are in the totals
            return
        self._cards.show([data(c) for c in cards], selected=selected)

    def _show_working(self, event: param.parameterized.Event) -> None:
        """The cards' spinner, once a read has taken `spinner_delay_ms`.

        In a served session both its start and its end are set in Bokeh callbacks, which hold
        the document's lock until their messages are written. The end used to be set here, in
        the read's coroutine: Panel writes such a change to the socket at once, and it could
        overtake the start still being written by the timer's callback, leaving the browser
        with the overlay on over the rows (Python's value off; seen under load)."""
        doc = pn.state.curdoc
        if doc is None or doc.session_context is None:  # a notebook: no callbacks of Bokeh's
            self._cards.loading = event.new
        elif event.new:
            doc.add_timeout_callback(self._still_working, self._spinner_delay_ms)
        else:
            doc.add_next_tick_callback(self._still_working)

    def _still_working(self) -> None:
        self._cards.loading = self.model.working

    def _render_selection(self, *_: Any) -> None:
        n = len(self.selected)
        self._revoke_selected.param.update(label=f"Revoke selected ({n})", disabled=not n)

    def _render_state(self, *_: Any) -> None:
        m = self.model
        if m.error and m.too_broad:  # not a failure: the filter asks for too much
            self._error.param.update(title="", text=f"{m.error}.")
        else:
            self._error.param.update(
                title="Cannot load connections.",
                text=f"{m.error.rstrip('.')}. The page reloads by itself when the database is "
                     "back." if m.error else "")
        empty = not (m.error or not m.loaded or m.cards)
        self._empty.param.update(object=NO_MATCH if m.filtering else EMPTY_DATABASE,
                                 visible=empty)
        self._more_profiles.visible = m.profiles_cursor is not None
        self._bulk.visible = bool(m.cards) and self.actions.backend.can_write
        self._revoke_matching.disabled = not (m.filtering and m.cards)
        counts = m.counts
        shown = len(m.cards)
        total = f"{m.profiles_total}{'' if m.profiles_total_exact else '+'}"
        more = "" if m.counts_exact else "+"
        parts = " · ".join(f"{n}{more} {s}" for s, n in counts.items())
        # The counts are the shown cards' (more profiles cost another read): said so when
        # other profiles match too, which read as the filter's total (18 Error of 20).
        whose = "connections" if m.profiles_cursor is None else "connections in these"
        self._summary.object = (f"Showing {shown} of {total} profiles — {whose}: {parts}"
                                if m.cards else "")

    def _notify(self, _: Any) -> None:
        a = self.actions
        if a.message:
            self._toasts.show(a.message, a.message_kind)

    def _listing(self) -> list[pn.viewable.Viewable]:
        return [self._summary, self._error, self._bulk, self._empty, self._cards,
                self._more_profiles]

    def explorer(self) -> pn.Column:
        """The filters, the cards with View and Revoke, and their dialogs, without the page's
        prose and links: what the explore notebook shows inline
        (connmodel/notebooks/explore_connections.ipynb)."""
        return pn.Column(self._filters(), *self._listing(),
                         ConnectionDialogsWithActions(actions=self.actions), self._toasts,
                         sizing_mode="stretch_width")

    def __panel__(self) -> pn.viewable.Viewable:
        return pn.Column(
            pn.pane.Markdown(HEAD, sizing_mode="stretch_width",
                             stylesheets=[MARKDOWN_CSS, SECTIONS_CSS]),
            self._filters(),
            *([self.tools] if self.tools is not None and self.actions.backend.can_write else []),
            *self._listing(),
            pn.pane.Markdown(FOOT, sizing_mode="stretch_width",
                             stylesheets=[MARKDOWN_CSS, SECTIONS_CSS]),
            ConnectionDialogsWithActions(actions=self.actions),
            self._toasts,
            sizing_mode="stretch_width",
        )


def build(backend: Backend) -> pn.viewable.Viewable:
    """The page for one browser session: URL-synced filters, first read, then it follows the
    store's changes through the process's watcher (no polling of its own)."""
    model = ConnectionsPageModel(backend)
    sync_url(model, URL_KEYS)  # a filter from the URL starts the first read (the model's watcher)
    actions = ActionsModel(backend)
    tools = provider_tools(backend, model.refresh, actions)  # an OAuth callback runs here
    if model.where == GroupFilter():  # no filter from the URL: nothing is read yet
        pn.state.execute(model.refresh)  # on the loop once the page is served, in a thread
    follow_changes(backend.url, model.catch_up)
    follow_changes(backend.url, actions.catch_up)  # an open View shows the connection as it is
    return ConnectionsPage(model=model, actions=actions, tools=tools)
