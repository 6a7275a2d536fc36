"""One My Servers row: name, state badge, URL, profile, connection link, latest check, and its
Check and Reconfigure buttons.

The row travels as a dict of plain values (`server_data`) and the browser writes each with
`textContent`; the connection link's query is built in the browser with `URLSearchParams`.
The buttons are real buttons named after their server ("Check Drive"): Panel's Button has no
accessible name of its own, and every row's read "Check". A click comes back as a message
naming only the action: the server is the one this component shows, never the browser's word.
"""

from collections.abc import Awaitable, Callable
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


RowAction = Callable[[str, str], Awaitable[None]]
ACTIONS = ("check", "reconfigure")


class ServerSummary(ConsoleComponent):
    """One server row; `on_action(action, server name)` runs for a click on its buttons."""

    server = param.Dict(default={}, doc="The row, as made by `server_data`.")

    _esm = DOM_HELPER + """
    export function render({ model, el }) {
      const s = model.server
      let link = '–'
      if (s.connection !== null && s.profile) {
        const query = new URLSearchParams({page: 'connections', profile: s.profile})
        link = h('a', {href: `?${query}`}, `connection ${s.connection}`)
      }
      const text = h('div', {class: 'srv-text'},
        h('b', {}, s.name), ' ', h('span', {class: `srv-badge st-${s.health}`}, s.health),
        h('br'), h('small', {}, `${s.url} · ${s.transport} · profile ${s.profile} · `, link),
        h('br'), h('small', {}, s.check))
      if (s.reason) text.append(h('br'), h('small', {}, s.reason))
      const check = h('button', {type: 'button', 'aria-label': `Check ${s.name}`}, 'Check')
      check.disabled = s.connection === null
      const reconfigure = h('button', {type: 'button', 'aria-label': `Reconfigure ${s.name}`},
                            'Reconfigure')
      check.addEventListener('click', () => model.send_msg({action: 'check'}))
      reconfigure.addEventListener('click', () => model.send_msg({action: 'reconfigure'}))
      el.append(h('div', {class: 'srv-row', 'data-server': s.name}, text,
                  h('div', {class: 'srv-buttons'}, check, reconfigure)))
    }
    """

    _stylesheets: ClassVar[list[str]] = [TOKENS + """
    /* The text grows beside the buttons and wraps above them when the row is too narrow for
       both (its basis): the buttons then sit on a line of their own. */
    .srv-row { display: flex; flex-wrap: wrap; align-items: center; gap: 4px 10px;
               padding: 6px 0; border-bottom: 1px solid var(--cm-border); }
    .srv-text { flex: 1 1 300px; min-width: 0; overflow-wrap: anywhere; }
    .srv-buttons { display: flex; gap: 10px; }
    button { font: inherit; padding: 4px 12px; border-radius: 6px; cursor: pointer;
             border: 1px solid var(--cm-border); background: var(--panel-surface-color);
             color: var(--cm-fg); }
    button:disabled { opacity: 0.6; cursor: default; }
    small { color: var(--cm-muted); }
    .srv-row a { color: var(--cm-focus); }
    .srv-badge { padding: 1px 8px; border-radius: 10px; font-size: 0.85em; }
    .st-connected { background: var(--cm-ok-bg); color: var(--cm-ok-fg); }
    .st-disconnected { background: var(--cm-off-bg); color: var(--cm-off-fg); }
    .st-error { background: var(--cm-bad-bg); color: var(--cm-bad-fg); }
    """]

    def __init__(self, on_action: RowAction, **params: Any) -> None:
        super().__init__(**params)
        self._on_action = on_action

    async def _handle_msg(self, msg: Any) -> None:
        if isinstance(msg, dict) and msg.get("action") in ACTIONS:
            await self._on_action(msg["action"], self.server["name"])
