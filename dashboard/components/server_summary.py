"""One My Servers row's text: name, state badge, URL, profile, connection link, latest check.

The row travels as a dict of plain values (`server_data`) and the browser writes each with
`textContent`; the connection link's query is built in the browser with `URLSearchParams`.
"""

from typing import Any, ClassVar

import param

from connmodel.models import ServerRow
from dashboard.components.base import ConsoleComponent
from dashboard.components.dom import DOM_HELPER
from dashboard.components.theme import TOKENS


def server_data(row: ServerRow) -> dict[str, Any]:
    """What the browser gets for one server (no credential exists in a ServerRow)."""
    if row.checked_at is None:
        check = "never checked"
    else:
        found = (f"{row.tool_count} tools in {row.latency_ms:.0f} ms"
                 if row.check_outcome == "ok" else f"{row.check_outcome}: {row.check_reason}")
        check = f"checked {row.checked_at:%Y-%m-%d %H:%M:%S} UTC: {found}"
    return {"name": row.name, "health": row.health, "url": row.url, "transport": row.transport,
            "profile": row.profile or "", "connection": row.connection_id, "check": check,
            "reason": row.reason or ""}


class ServerSummary(ConsoleComponent):
    """The text of one server row (its Check and Reconfigure buttons are Panel widgets)."""

    server = param.Dict(default={}, doc="The row, as made by `server_data`.")

    _esm = DOM_HELPER + """
    export function render({ model, el }) {
      const s = model.server
      let link = '–'
      if (s.connection !== null && s.profile) {
        const query = new URLSearchParams({page: 'connections', profile: s.profile})
        link = h('a', {href: `?${query}`}, `connection ${s.connection}`)
      }
      const row = h('div', {class: 'srv-row', 'data-server': s.name},
        h('b', {}, s.name), ' ', h('span', {class: `srv-badge st-${s.health}`}, s.health),
        h('br'), h('small', {}, `${s.url} · ${s.transport} · profile ${s.profile} · `, link),
        h('br'), h('small', {}, s.check))
      if (s.reason) row.append(h('br'), h('small', {}, s.reason))
      el.append(row)
    }
    """

    _stylesheets: ClassVar[list[str]] = [TOKENS + """
    .srv-row { padding: 6px 0 0; overflow-wrap: anywhere; }
    small { color: var(--cm-muted); }
    .srv-row a { color: var(--cm-focus); }
    .srv-badge { padding: 1px 8px; border-radius: 10px; font-size: 0.85em; }
    .st-connected { background: var(--cm-ok-bg); color: var(--cm-ok-fg); }
    .st-disconnected { background: var(--cm-off-bg); color: var(--cm-off-fg); }
    .st-error { background: var(--cm-bad-bg); color: var(--cm-bad-fg); }
    """]
