"""Gateway → Activity: the append-only audit trail, newest first, filtered and paged in SQL.

Every cell is user-controlled text (names, targets, outcomes), written as text by `EventTable`.
The "Download CSV" button exports exactly the filters shown. The filters and the order live in
the URL (`?page=activity&action=revoke&who=ann&since=2025-05-01T00:00:00&oldest=true`).
"""

from typing import Any

import panel as pn
from panel.viewable import Viewable

from dashboard.changes import follow_changes
from dashboard.components import immediate
from dashboard.components.event_table import EventTable, event_rows
from dashboard.components.notice import Notice
from dashboard.components.status_line import StatusLine
from dashboard.components.theme import MARKDOWN_CSS
from dashboard.routing import sync_url
from dashboard.viewmodels.activity import ActivityModel
from dashboard.viewmodels.backend import Backend

KEY = "activity"
TITLE = "Activity"
GROUP = "Gateway"
URL_KEYS = {"who": "who", "action": "action", "target": "target", "since": "since",
            "until": "until", "oldest_first": "oldest"}
INTRO = """# Activity
Who did what, and when: every change made through the console, the CLI or the services, and
every refused attempt (`denied`). The trail is append-only. Times are UTC."""


class ActivityView(pn.viewable.Viewer):
    """Filters, the table, "Load more" and "Download CSV" over an `ActivityModel`."""

    def __init__(self, model: ActivityModel, **params: Any) -> None:
        super().__init__(**params)
        self.model = model

    def _action_select(self) -> immediate.Select:
        def labelled(actions: list[str]) -> dict[str, str]:
            return {(a or "All actions"): a for a in actions}

        select = immediate.Select(name="Action", options=labelled(self.model.actions),
                                  value=self.model.action, width=160)
        select.param.watch(lambda e: setattr(self.model, "action", e.new or ""), "value")
        self.model.param.watch(lambda e: setattr(select, "options", labelled(e.new)), "actions")
        return select

    def __panel__(self) -> Viewable:
        m = self.model
        filters = pn.FlexBox(
            immediate.TextInput.from_param(m.param.who, name="Actor", placeholder="user name",
                                           width=160),
            self._action_select(),
            immediate.TextInput.from_param(m.param.target, name="Target contains",
                                           placeholder="e.g. Hubspot", width=200),
            pn.widgets.DatetimePicker.from_param(m.param.since, name="From (UTC)", width=180),
            pn.widgets.DatetimePicker.from_param(m.param.until, name="Before (UTC)", width=180),
            sizing_mode="stretch_width",
        )
        more = pn.widgets.Button(name="Load more", visible=bool(m.next_cursor))

        async def load_more(_: Any) -> None:
            await m.load_more()

        more.on_click(load_more)
        m.param.watch(lambda e: setattr(more, "visible", bool(e.new)), "next_cursor")
        download = pn.widgets.FileDownload(callback=m.csv_file, filename="activity.csv",
                                           label="Download CSV", button_type="primary")
        summary = StatusLine(align="center", margin=(0, 10))
        error = Notice(kind="error", sizing_mode="stretch_width")
        table = EventTable(oldest_first=m.oldest_first, sizing_mode="stretch_width")
        table.param.watch(lambda e: setattr(m, "oldest_first", e.new), "oldest_first")

        def show(*_: Any) -> None:
            at_least = "" if m.exact else "at least "
            summary.object = "" if m.error else (
                f"Showing {len(m.events)} of {at_least}{m.total} events.")
            error.text = m.error
            table.rows = event_rows(m.events)

        m.param.watch(show, ["events", "total", "exact", "error"])
        show()
        return pn.Column(
            pn.pane.Markdown(INTRO, stylesheets=[MARKDOWN_CSS]),
            filters,
            pn.Row(summary, download, align="center"),
            error,
            table,
            more,
            sizing_mode="stretch_width",
        )


def build(backend: Backend) -> Viewable:
    """The page shown under Gateway → Activity: URL-synced filters, the first page read in a
    worker thread on the loop once the page is served, then the store's changes followed
    through the process's watcher (no polling of its own)."""
    model = ActivityModel(backend)
    if not sync_url(model, URL_KEYS):  # else a filter from the URL started the first read
        pn.state.execute(model.refresh)
    follow_changes(backend.url, model.catch_up)
    return ActivityView(model)
