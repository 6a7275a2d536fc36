"""Gateway → Activity: the append-only audit trail, newest first, filtered and paged in SQL.

Every cell is user-controlled text (names, targets, outcomes) and goes through `esc`. The
"Download CSV" button exports exactly the filters shown.
"""

from typing import Any

import panel as pn
from panel.viewable import Viewable

from connmodel.models import AuditEventPublic
from dashboard.escaping import esc, esc_md
from dashboard.viewmodels.activity import ActivityModel
from dashboard.viewmodels.backend import Backend

KEY = "activity"
TITLE = "Activity"
GROUP = "Gateway"
INTRO = """# Activity
Who did what, and when: every change made through the console, the CLI or the services, and
every refused attempt (`denied`). The trail is append-only. Times are UTC."""


def events_table(events: list[AuditEventPublic]) -> str:
    """The events as an HTML table; every text is escaped."""
    if not events:
        return "<p>No event matches these filters.</p>"
    rows = "".join(
        f"<tr><td>{esc(e.at.strftime('%Y-%m-%d %H:%M:%S'))}</td><td>{esc(e.actor)}</td>"
        f"<td>{esc(e.action)}</td><td>{esc(e.target)}</td><td>{esc(e.outcome)}</td></tr>"
        for e in events)
    return ("<table class='activity'><thead><tr><th>Time (UTC)</th><th>Actor</th><th>Action</th>"
            f"<th>Target</th><th>Outcome</th></tr></thead><tbody>{rows}</tbody></table>")


TABLE_CSS = """
table.activity { border-collapse: collapse; width: 100%; font-size: 14px; }
table.activity th, table.activity td { text-align: left; padding: 4px 8px;
  border-bottom: 1px solid #d0d7de; vertical-align: top; overflow-wrap: anywhere; }
table.activity td:nth-child(1), table.activity td:nth-child(3) { white-space: nowrap; }
table.activity th:nth-child(2), table.activity th:nth-child(5) { min-width: 7em; }
"""


class ActivityView(pn.viewable.Viewer):
    """Filters, the table, "Load more" and "Download CSV" over an `ActivityModel`."""

    def __init__(self, model: ActivityModel, **params: Any) -> None:
        super().__init__(**params)
        self.model = model

    def _action_select(self) -> pn.widgets.Select:
        def labelled(actions: list[str]) -> dict[str, str]:
            return {(a or "All actions"): a for a in actions}

        select = pn.widgets.Select(name="Action", options=labelled(self.model.actions),
                                   value=self.model.action, width=160)
        select.param.watch(lambda e: setattr(self.model, "action", e.new or ""), "value")
        self.model.param.watch(lambda e: setattr(select, "options", labelled(e.new)), "actions")
        return select

    def __panel__(self) -> Viewable:
        m = self.model
        filters = pn.FlexBox(
            pn.widgets.TextInput.from_param(m.param.who, name="Actor", placeholder="user name",
                                            width=160),
            self._action_select(),
            pn.widgets.TextInput.from_param(m.param.target, name="Target contains",
                                            placeholder="e.g. Hubspot", width=200),
            pn.widgets.DatetimePicker.from_param(m.param.since, name="From (UTC)", width=180),
            pn.widgets.DatetimePicker.from_param(m.param.until, name="Before (UTC)", width=180),
            sizing_mode="stretch_width",
        )
        more = pn.widgets.Button(name="Load more", visible=bool(m.next_cursor))
        more.on_click(lambda _: m.load_more())
        m.param.watch(lambda e: setattr(more, "visible", bool(e.new)), "next_cursor")
        download = pn.widgets.FileDownload(callback=m.csv_file, filename="activity.csv",
                                           label="Download CSV", button_type="primary")
        summary = pn.bind(lambda total, exact, shown, error: (
            f"**{esc_md(error)}**" if error else
            f"Showing {len(shown)} of {'at least ' if not exact else ''}{total} events."),
            m.param.total, m.param.exact, m.param.events, m.param.error)
        return pn.Column(
            pn.pane.Markdown(INTRO),
            filters,
            pn.Row(pn.pane.Markdown(summary, align="center"), download),
            pn.pane.HTML(pn.bind(events_table, m.param.events), stylesheets=[TABLE_CSS],
                         sizing_mode="stretch_width"),
            more,
            sizing_mode="stretch_width",
        )


def build(backend: Backend) -> Viewable:
    """The page shown under Gateway → Activity."""
    return ActivityView(ActivityModel(backend))
