"""The profile cards: header, counts, and a real table whose View/Revoke are real buttons.

Rendered by a small ES module that builds the DOM with `textContent` and attributes only, never
`innerHTML`, so a profile named `<img src=x onerror=alert(1)>` is shown as those characters.
Buttons carry accessible names ("Revoke Hubspot connection (Configured)") and are reachable with
Tab. Clicks come back to Python as messages; the component only reports them (`on_action`).
One component renders every card of the page, so a refresh is one small data patch. The cards
travel as one JSON string: Bokeh walks and encodes a nested list of dicts in Python (about a
third of a filter change's server time), a string it passes as it is.
"""

import json
from collections.abc import Callable
from typing import Any, ClassVar

import param
from panel.custom import JSComponent

from connmodel.models import ConnectionPublic, ProfilePublic
from connmodel.status import MEANING, Status

Action = Callable[[str, int | None], None]


def _when(value: Any) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value is not None else "never"


def row_data(conn: ConnectionPublic) -> dict[str, Any]:
    """What the browser gets for a row: display text only (no credential exists here)."""
    reason = conn.status_reason or MEANING[Status(conn.status)]
    return {"id": conn.id, "service": conn.service, "account": conn.account,
            "status": conn.status, "title": f"{conn.status}: {reason}. Last checked "
                                                f"{_when(conn.checked_at)}.",
            "hint": conn.hint}


def card_data(profile: ProfilePublic, rows: list[ConnectionPublic], has_more: bool,
              empty_text: str) -> dict[str, Any]:
    """Everything one card shows, as one value: one change per card reaches the browser."""
    return {"name": profile.name, "description": profile.description,
            "provider": profile.provider, "environment": profile.environment,
            "counts": profile.counts, "empty": empty_text,
            "rows": [row_data(r) for r in rows], "has_more": has_more}


class ProfileCards(JSComponent):
    """The page's profile cards, each with one or more pages of its connections."""

    cards = param.String(default="[]", doc="JSON list of the cards, each made by `card_data`.")
    selected = param.List(default=[], doc="Ids of the rows ticked for bulk revoke.")
    can_write = param.Boolean(default=True, doc="Show Revoke and the selection boxes (admins).")

    _esm = """
    function h(tag, attrs = {}, ...children) {
      const node = document.createElement(tag)
      for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v)
      for (const c of children) node.append(c)
      return node
    }
    function card(model, p, index) {
        const root = h('section', {class: 'card'})
        const name = p.name
        root.setAttribute('aria-label', `Profile ${name}`)
        const counts = h('div', {class: 'counts'})
        for (const [status, n] of Object.entries(p.counts || {})) {
          counts.append(h('span', {class: n ? `count count-${status.toLowerCase()}` : 'count'}, `${n} ${status}`))
        }
        const head = h('header', {},
          h('h3', {}, name),
          h('span', {class: `env env-${p.environment}`, title: 'Environment'}, p.environment || ''),
          h('span', {class: 'provider', title: 'Provider config'}, p.provider || ''))
        const children = [head, h('p', {class: 'desc'}, p.description || ''), counts]
        if (p.rows.length === 0) {
          children.push(h('p', {class: 'empty'}, p.empty || ''))
        } else {
          const table = h('table', {},
            h('caption', {class: 'sr-only'}, `Connections of profile ${name}`),
            h('thead', {}, h('tr', {},
              ...(model.can_write ? [h('th', {scope: 'col', class: 'sel'},
                                        h('span', {class: 'sr-only'}, 'Select'))] : []),
              h('th', {scope: 'col'}, 'Service'), h('th', {scope: 'col'}, 'Account'),
              h('th', {scope: 'col'}, 'Status'), h('th', {scope: 'col'}, 'Actions'))))
          const body = h('tbody')
          for (const r of p.rows) {
            const label = `${name} connection (${r.account})`
            const box = h('input', {type: 'checkbox', 'aria-label': `Select ${label}`,
                                    'data-id': String(r.id)})
            box.checked = model.selected.includes(r.id)
            box.addEventListener('change', () => {
              const others = model.selected.filter((id) => id !== r.id)
              model.selected = box.checked ? [...others, r.id] : others
            })
            const status = h('td', {}, h('span', {class: `badge ${r.status.toLowerCase()}`,
                                                   title: r.title, tabindex: '0'}, r.status))
            if (r.hint) status.append(h('span', {class: 'hint'}, r.hint))
            const view = h('button', {type: 'button', class: 'view', 'aria-label': `View ${label}`}, 'View')
            const revoke = h('button', {type: 'button', class: 'revoke', 'aria-label': `Revoke ${label}`}, 'Revoke')
            view.addEventListener('click', () => model.send_msg({action: 'view', id: r.id}))
            revoke.addEventListener('click', () => model.send_msg({action: 'revoke', id: r.id}))
            const cells = [h('td', {}, r.service), h('td', {}, r.account), status]
            body.append(model.can_write
              ? h('tr', {'data-id': String(r.id)}, h('td', {class: 'sel'}, box), ...cells,
                  h('td', {class: 'actions'}, view, revoke))
              : h('tr', {'data-id': String(r.id)}, ...cells, h('td', {class: 'actions'}, view)))
          }
          table.append(body)
          children.push(table)
        }
        if (p.has_more) {
          const more = h('button', {type: 'button', class: 'more',
                                    'aria-label': `Load more connections of ${name}`}, 'Load more')
          more.addEventListener('click', () => model.send_msg({action: 'more', id: index}))
          children.push(more)
        }
        root.replaceChildren(...children)
        return root
    }
    export function render({ model, el }) {
      const list = h('div', {class: 'cards'})
      let shown = []
      function draw() {
        shown = JSON.parse(model.cards)
        list.replaceChildren(...shown.map((p, index) => card(model, p, index)))
      }
      model.on('msg:custom', (msg) => {  // "Load more": only the new rows travel
        const p = shown[msg.index]
        if (!p) return
        p.rows.push(...msg.rows)
        p.has_more = msg.has_more
        list.children[msg.index].replaceWith(card(model, p, msg.index))
      })
      function tick() {  // keep focus where it is: only the boxes change
        for (const box of list.querySelectorAll('input[data-id]')) {
          box.checked = model.selected.includes(Number(box.dataset.id))
        }
      }
      draw()
      model.on('cards', draw)
      model.on('selected', tick)
      el.append(list)
    }
    """

    _stylesheets: ClassVar[list[str]] = ["""
    .card { border: 1px solid #d0d7de; border-radius: 8px; padding: 12px 16px; margin: 0 0 12px 0;
            background: #fff; font-family: inherit; }
    header { display: flex; align-items: baseline; gap: 10px; flex-wrap: wrap; }
    h3 { margin: 0; font-size: 1.15em; }
    .desc { margin: 4px 0 6px 0; color: #57606a; }
    .provider { color: #57606a; font-size: 0.9em; }
    .env { border-radius: 10px; padding: 1px 8px; font-size: 0.8em; background: #eaeef2; }
    .env-production { background: #ffebe9; color: #82071e; }
    .env-staging { background: #fff8c5; color: #7d4e00; }
    .env-dev { background: #ddf4ff; color: #0a3069; }
    .counts { display: flex; gap: 8px; margin-bottom: 6px; font-size: 0.85em; }
    .count { color: #57606a; }
    .count-error { color: #a40e26; }
    table { border-collapse: collapse; width: 100%; table-layout: fixed; }
    th:nth-child(2), th:nth-child(3) { width: 28%; }
    th:nth-child(5) { width: 150px; }
    td { overflow-wrap: anywhere; }
    th, td { text-align: left; padding: 6px 8px; border-top: 1px solid #eaeef2; }
    th { font-weight: 600; color: #24292f; }
    th.sel, td.sel { width: 28px; }
    .badge { border-radius: 10px; padding: 2px 8px; font-size: 0.85em; font-weight: 600;
             cursor: help; }
    .badge.active { background: #dafbe1; color: #116329; }
    .badge.inactive { background: #eaeef2; color: #57606a; }
    .badge.error { background: #ffebe9; color: #a40e26; }
    .hint { margin-left: 8px; font-size: 0.85em; color: #7d4e00; }
    .actions button { margin-right: 6px; }
    button { font: inherit; padding: 3px 10px; border-radius: 6px; border: 1px solid #d0d7de;
             background: #f6f8fa; cursor: pointer; }
    button.revoke { color: #a40e26; }
    button:focus-visible, .badge:focus-visible, input:focus-visible {
      outline: 2px solid #0969da; outline-offset: 2px; }
    .more { margin-top: 8px; }
    .empty { color: #57606a; font-style: italic; }
    .sr-only { position: absolute; width: 1px; height: 1px; overflow: hidden;
               clip: rect(0 0 0 0); white-space: nowrap; }
    """]

    def __init__(self, on_action: Action, **params: Any) -> None:
        super().__init__(**params)
        self._on_action = on_action

    def show(self, cards: list[dict[str, Any]], selected: list[int]) -> None:
        """Show these cards (the same cards again send nothing) and keep this selection."""
        self.param.update(cards=json.dumps(cards, separators=(",", ":")), selected=selected)

    def append_rows(self, index: int, rows: list[dict[str, Any]], has_more: bool) -> None:
        """Add a page of rows to one card, sending only those rows to the browser."""
        cards = json.loads(self.cards)
        cards[index] = {**cards[index], "rows": [*cards[index]["rows"], *rows],
                        "has_more": has_more}
        with param.discard_events(self):
            self.cards = json.dumps(cards, separators=(",", ":"))
        self._send_msg({"index": index, "rows": rows, "has_more": has_more})

    def _handle_msg(self, msg: Any) -> None:
        if isinstance(msg, dict) and msg.get("action") in ("view", "revoke", "more"):
            ident = msg.get("id")
            self._on_action(msg["action"], ident if isinstance(ident, int) else None)
