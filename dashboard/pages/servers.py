"""Gateway → My Servers: every MCP server, its profile, state, latest live check and connection.

Actions: Check (the connection behind a server), Check all (with a live progress indicator,
results landing as they arrive), Reconfigure (move a server to another profile, e.g. after a
Revoke) and Add server. The filters live in the URL (`?page=servers&state=error&q=calc`).
Server names, URLs, profiles and reasons travel as plain values, written with `textContent`.
"""

from typing import Any

import panel as pn
import param
from panel.models.esm import DataEvent

from connmodel.models import ServerRow
from connmodel.services.servers import TRANSPORTS
from dashboard.changes import follow_changes
from dashboard.components import immediate
from dashboard.components.dialog import Dialog
from dashboard.components.notice import Notice
from dashboard.components.server_summary import ServerSummary, server_data
from dashboard.components.status_line import StatusLine
from dashboard.components.text_list import TextList
from dashboard.components.theme import MARKDOWN_CSS
from dashboard.components.toasts import Toasts
from dashboard.routing import sync_url
from dashboard.viewmodels.backend import Backend
from dashboard.viewmodels.servers import ServersPageModel

KEY = "servers"
TITLE = "My Servers"
GROUP = "Gateway"
URL_KEYS = {"state": "state", "profile": "profile", "search": "q"}

INTRO = """# My Servers
Every MCP server of the gateway, the profile it authenticates with, and what its latest live
check found (`initialize` and `tools/list` with the connection's credential). An MCP server
stopped working? **Check** it here. After a Revoke, the servers that used the profile show as
disconnected until you **Reconfigure** them to another profile.
"""
class ServersPage(pn.viewable.Viewer):
    """The page: intro, filters, Check all with progress, the rows, reconfigure and add forms."""

    model = param.ClassSelector(class_=ServersPageModel, doc="Filters, rows, checks, messages.")
    reconfiguring = param.String(default="", doc="The server whose Reconfigure form is open.")

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        m = self.model
        self._rows = pn.Column(sizing_mode="stretch_width", margin=0)
        self._rendered: list[ServerRow] | None = None
        self._error = Notice(kind="error", title="Cannot load servers.",
                             sizing_mode="stretch_width")
        self._toasts = Toasts()
        self._count = StatusLine(sizing_mode="stretch_width")
        self._progress = pn.indicators.Progress(value=-1, max=1, width=240, visible=False)
        self._progress_text = StatusLine(visible=False)
        self._check_all = pn.widgets.Button(label="Check all", color="primary")
        self._check_all.on_click(self._on_check_all)
        self._more = pn.widgets.Button(label="Load more servers", visible=False)
        self._more.on_click(self._on_more)
        self._target = pn.widgets.Select(label="New profile", options=[], width=220)
        # A modal dialog: focus goes into it, Escape and Cancel close it, and focus comes
        # back to the row's Reconfigure (an inline form above the rows did none of that).
        self._reconfigure = Dialog(objects=[self._target], max_width=420, buttons=[
            {"label": "Cancel", "action": "close"},
            {"label": "Reconfigure server", "action": "reconfigure", "kind": "primary"}])
        self._reconfigure.on_msg(self._on_reconfigure_msg)
        self._reconfigure.param.watch(self._reconfigure_closed, "open")
        self._add_name = pn.widgets.TextInput(label="Server name", placeholder="e.g. Calculator")
        self._add_url = pn.widgets.TextInput(label="URL", placeholder="http://127.0.0.1:8101/mcp",
                                             width=320)
        self._add_profile = pn.widgets.Select(label="Profile", options=[], width=200)
        self._add_transport = pn.widgets.Select(label="Transport", options=list(TRANSPORTS),
                                                width=160)
        add = pn.widgets.Button(label="Add server", color="primary", align="end")
        add.on_click(self._add)
        self._add_form = pn.Card(
            pn.FlexBox(self._add_name, self._add_url, self._add_profile, self._add_transport, add),
            title="Add server", collapsed=True, sizing_mode="stretch_width")
        self._changes = TextList(empty="No status changes yet.", sizing_mode="stretch_width")
        self._schedule = StatusLine(
            object=f"Scheduled checks every {m.interval:g} s (by connmodel worker)."
            if m.interval else "Scheduled checks are off (set CONNMODEL_CHECK_INTERVAL "
            "and run connmodel worker to turn them on).")
        m.param.watch(self._render_rows, ["rows"])
        m.param.watch(self._render_state, ["rows", "error", "next_cursor", "total"])
        m.param.watch(self._render_progress, ["checking", "done", "planned"])
        m.param.watch(self._render_profiles, ["profiles"])
        m.param.watch(self._render_changes, ["changes"])
        m.param.watch(self._notify, "message")
        self.param.watch(self._render_reconfigure, "reconfiguring")
        self._render_rows()
        self._render_state()
        self._render_profiles()
        self._render_changes()

    async def _on_check_all(self, _: Any) -> None:
        await self.model.check_all()

    async def _on_more(self, _: Any) -> None:
        await self.model.load_more()

    def _row(self, row: ServerRow) -> ServerSummary:
        return ServerSummary(server=server_data(row), on_action=self._on_row_action,
                             sizing_mode="stretch_width")

    async def _on_row_action(self, action: str, server: str) -> None:
        """A row's Check or Reconfigure (the row says which server)."""
        if action == "check":
            await self.model.check(server)
        else:
            self.reconfiguring = server

    def _render_rows(self, *_: Any) -> None:
        """Rows as read; the same rows read again (a change elsewhere that left them as they
        were) keep their buttons, so a click made meanwhile is not lost on a replaced one."""
        if self.model.rows == self._rendered:
            return
        self._rendered = list(self.model.rows)
        self._rows.objects = [self._row(r) for r in self._rendered]

    def _render_state(self, *_: Any) -> None:
        m = self.model
        self._error.text = m.error
        self._more.visible = m.next_cursor is not None
        self._count.object = (f"Showing {len(m.rows)} of {m.total} servers" if m.rows
                              else "No server matches these filters.")

    def _render_progress(self, *_: Any) -> None:
        m = self.model
        self._check_all.disabled = m.checking
        self._progress.param.update(visible=m.checking, max=max(m.planned, 1),
                                    value=m.done if m.planned else -1)
        text = (f"Checked {m.done} of {m.planned} connections" if m.planned
                else "Checking…")
        self._progress_text.param.update(object=text, visible=m.checking)

    def _render_profiles(self, *_: Any) -> None:
        self._target.options = list(self.model.profiles)
        self._add_profile.options = list(self.model.profiles)

    def _render_changes(self, *_: Any) -> None:
        self._changes.items = [f"{e.at:%Y-%m-%d %H:%M} UTC — {e.target}: {e.outcome}"
                               for e in self.model.changes]

    def _render_reconfigure(self, *_: Any) -> None:
        if self.reconfiguring:
            self._reconfigure.show([{"heading": f"Reconfigure {self.reconfiguring} to use:"}])
        else:
            self._reconfigure.open = False

    def _reconfigure_closed(self, event: param.parameterized.Event) -> None:
        if not event.new:
            self.reconfiguring = ""

    async def _on_reconfigure_msg(self, event: DataEvent) -> None:
        if event.data == {"action": "reconfigure"}:
            await self._confirm_reconfigure()

    async def _confirm_reconfigure(self) -> None:
        """Reconfigure server; a double click's second message, sent before the buttons were
        disabled, is dropped."""
        if self._reconfigure.busy:
            return
        self._reconfigure.busy = True
        try:
            done = self._target.value and await self.model.reconfigure(self.reconfiguring,
                                                                      self._target.value)
        finally:
            self._reconfigure.busy = False
        if done:
            self.reconfiguring = ""

    async def _add(self, _: Any = None) -> None:
        if await self.model.add(self._add_name.value, self._add_url.value,
                                self._add_profile.value or "", self._add_transport.value):
            self._add_name.value = self._add_url.value = ""

    def _notify(self, _: Any) -> None:
        m = self.model
        if m.message:
            self._toasts.show(m.message, m.message_kind)

    def __panel__(self) -> pn.viewable.Viewable:
        m = self.model
        return pn.Column(
            pn.pane.Markdown(INTRO, sizing_mode="stretch_width", stylesheets=[MARKDOWN_CSS]),
            pn.FlexBox(
                immediate.Select.from_param(m.param.state, label="State", width=150),
                immediate.TextInput.from_param(m.param.profile, label="Profile",
                                               placeholder="e.g. Noauth", width=170),
                immediate.TextInput.from_param(m.param.search, label="Search name or URL",
                                               placeholder="e.g. calc", width=220),
                sizing_mode="stretch_width"),
            pn.FlexBox(self._check_all, self._progress, self._progress_text, self._schedule),
            self._error,
            self._count,
            self._reconfigure,
            self._rows,
            self._more,
            self._add_form,
            pn.Card(self._changes, title="Recent status changes", collapsed=True,
                    sizing_mode="stretch_width"),
            pn.pane.HTML('<p><a href="?page=connections">Back to Connections</a></p>'),
            self._toasts,
            sizing_mode="stretch_width",
        )


def build(backend: Backend) -> pn.viewable.Viewable:
    """The page for one browser session: URL-synced filters, first read, then it follows the
    store's changes (checks run elsewhere land here). Scheduled checks are `connmodel worker`'s
    work, once per deployment, never a page's."""
    model = ServersPageModel(backend)
    sync_url(model, URL_KEYS)  # a filter from the URL starts the first read (the watcher)
    if not (model.state or model.profile or model.search):  # else nothing is read yet
        pn.state.execute(model.refresh)  # on the loop once the page is served, in a thread
    follow_changes(backend.url, model.catch_up)
    return ServersPage(model=model)
