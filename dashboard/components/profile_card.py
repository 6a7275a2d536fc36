"""The profile cards: header, counts, and a real table whose View/Revoke are real buttons.

Rendered by a small ES module that builds the DOM with `textContent` and attributes only, never
`innerHTML`, so a profile named `<img src=x onerror=alert(1)>` is shown as those characters.
Buttons carry accessible names ("Revoke Hubspot connection (Configured)") and are reachable with
Tab; the status badge is not a tab stop: its reason is the buttons' accessible description.
Column headers are buttons that ask for a sort (`on_sort`: the page re-reads the card in SQL;
`aria-sort` marks the sorted column). Clicks come back to Python as messages; the component
only reports them (`on_action`, a coroutine: Panel runs the message handler on the loop, and the
page awaits its reads there). Colours come from the theme (`components.theme`); in a narrow
container the dates hide and, narrower still, each row stacks (no horizontal scrolling).
One component renders every card of the page, so a refresh is one small data patch. The cards
travel as one JSON string: Bokeh walks and encodes a nested list of dicts in Python (about a
third of a filter change's server time), a string it passes as it is. A change to some cards
sends only those, as messages: a card's rows that left (revoked) and rows added at its end
("Load more", a re-read) alone, without redrawing its other rows (a card with 200 rows took
~100 ms to draw anew in Chromium for one revoked row); `cards` keeps the last value sent whole,
so it always equals the browser's copy and the next whole value that differs from what the
browser draws is sent.
"""

import json
from collections.abc import Awaitable, Callable
from typing import Any, ClassVar

import param

from connmodel.models import DEFAULT_PROFILE_DESCRIPTION, ConnectionPublic, ProfilePublic
from connmodel.status import MEANING, Status
from dashboard.components.base import ConsoleComponent
from dashboard.components.dom import DOM_HELPER
from dashboard.components.theme import TOKENS

Action = Callable[[str, int | None], Awaitable[None]]
# What a card's rows changing in place leaves as it is (else the card is drawn anew).
_CARD_FIXED = ("name", "description", "provider", "environment", "empty", "sort")
Sort = Callable[[int, str], Awaitable[None]]


# isoformat, not strftime: four dates per row, every row of every card at each filter change
# (strftime was 5 % of a status filter's server CPU). Times are UTC; any offset is cut off.
def _when(value: Any) -> str:
    return value.isoformat(" ", "minutes")[:16] + " UTC" if value is not None else "never"


def _day(value: Any) -> str:
    return value.isoformat()[:10] if value is not None else "–"


def row_data(conn: ConnectionPublic) -> dict[str, Any]:
    """What the browser gets for a row: display text only (no credential exists here)."""
    reason = conn.status_reason or MEANING[Status(conn.status)]
    return {"id": conn.id, "service": conn.service, "account": conn.account,
            "status": conn.status, "title": f"{conn.status}: {reason}. Last checked "
                                                f"{_when(conn.checked_at)}.",
            "hint": conn.hint, "created": _day(conn.created_at),
            "expires": _day(conn.expires_at), "last_used": _day(conn.last_used_at),
            "checked": _day(conn.checked_at)}


def card_data(profile: ProfilePublic, rows: list[ConnectionPublic], has_more: bool,
              empty_text: str, sort: str = "account") -> dict[str, Any]:
    """Everything one card shows, as one value: one change per card reaches the browser.

    The description is the one its admin wrote; the default text every profile gets when none
    was written ("Connections in this profile") is the table's heading, not repeated as one.
    """
    description = "" if profile.description == DEFAULT_PROFILE_DESCRIPTION else profile.description
    return {"name": profile.name, "description": description,
            "provider": profile.provider, "environment": profile.environment,
            "counts": profile.counts, "counts_exact": profile.counts_exact,
            "empty": empty_text, "sort": sort,
            "rows": [row_data(r) for r in rows], "has_more": has_more}


class ProfileCards(ConsoleComponent):
    """The page's profile cards, each with one or more pages of its connections."""

    cards = param.String(default="[]", doc="JSON list of the cards, each made by `card_data`.")
    selected = param.List(default=[], doc="Ids of the rows ticked for bulk revoke.")
    can_write = param.Boolean(default=True, doc="Show Revoke and the selection boxes (admins).")

    _esm = DOM_HELPER + """
    const COLUMNS = [['service', 'Service'], ['account', 'Account'], ['status', 'Status']]
    const WIDE = [['created', 'Created'], ['expires', 'Expires'], ['last_used', 'Last used'],
                  ['checked', 'Checked']]
    function header(model, p, index, field, label, wide) {
      const sorted = p.sort.replace(/^-/, '') === field
      const descending = sorted && p.sort.startsWith('-')
      const button = h('button', {type: 'button', class: 'sort'}, label,
                       h('span', {'aria-hidden': 'true'}, sorted ? (descending ? ' ▼' : ' ▲') : ''))
      button.addEventListener('click', () => model.send_msg({action: 'sort', id: index, field}))
      const attrs = {scope: 'col', class: `col-${field}${wide ? ' wide' : ''}`}
      if (sorted) attrs['aria-sort'] = descending ? 'descending' : 'ascending'
      return h('th', attrs, button)
    }
    function row(model, p, index, r) {  // one connection's <tr>
      const label = `${p.name} connection (${r.account})`
      const why = `why-${index}-${r.id}`
      const box = h('input', {type: 'checkbox', 'aria-label': `Select ${label}`,
                              'data-id': String(r.id)})
      box.checked = model.selected.includes(r.id)
      box.addEventListener('change', () => {
        const others = model.selected.filter((id) => id !== r.id)
        model.selected = box.checked ? [...others, r.id] : others
      })
      const status = h('td', {'data-label': 'Status'},
        h('span', {class: `badge ${r.status.toLowerCase()}`, title: r.title}, r.status))
      if (r.hint) status.append(h('span', {class: 'hint'}, r.hint))
      const view = h('button', {type: 'button', class: 'view', 'aria-label': `View ${label}`,
                                'aria-describedby': why}, 'View')
      const revoke = h('button', {type: 'button', class: 'revoke', 'aria-label': `Revoke ${label}`,
                                  'aria-describedby': why}, 'Revoke')
      view.addEventListener('click', () => model.send_msg({action: 'view', id: r.id}))
      revoke.addEventListener('click', () => model.send_msg({action: 'revoke', id: r.id}))
      const cells = [h('td', {'data-label': 'Service'}, r.service),
                     h('td', {'data-label': 'Account'}, r.account), status,
                     ...WIDE.map(([f, l]) => h('td', {class: 'wide', 'data-label': l}, r[f]))]
      const actions = h('td', {class: 'actions'}, view, ...(model.can_write ? [revoke] : []),
                        h('span', {id: why, hidden: ''}, r.title))  // the buttons' description
      return (model.can_write
        ? h('tr', {'data-id': String(r.id)}, h('td', {class: 'sel'}, box), ...cells, actions)
        : h('tr', {'data-id': String(r.id)}, ...cells, actions))
    }
    function counts(p) {
      // A common search stops counting a card's matches early: its counts are "at least".
      const atLeast = p.counts_exact === false ? '+' : ''
      const node = h('p', atLeast ? {class: 'counts', title: 'At least: counting stopped early'}
                                  : {class: 'counts'})
      for (const [status, n] of Object.entries(p.counts || {})) {
        node.append(h('span', {class: n ? `count count-${status.toLowerCase()}` : 'count'}, `${n}${atLeast} ${status}`))
      }
      return node
    }
    function more(model, p, index) {
      const button = h('button', {type: 'button', class: 'more',
                                  'aria-label': `Load more connections of ${p.name}`}, 'Load more')
      button.addEventListener('click', () => model.send_msg({action: 'more', id: index}))
      return button
    }
    function card(model, p, index) {
        // Focusable from script only: focus lands here when the row it was on leaves (a
        // revoke), not on the page's start; the next Tab goes on to this card's controls.
        const root = h('section', {class: 'card', tabindex: '-1'})
        const name = p.name
        root.setAttribute('aria-label', `Profile ${name}`)
        const head = h('header', {},
          h('h2', {}, name),
          h('span', {class: `env env-${p.environment}`, title: 'Environment'}, p.environment || ''),
          h('span', {class: 'provider', title: 'Provider config'}, p.provider || ''))
        const children = [head]
        if (p.description) children.push(h('p', {class: 'desc'}, p.description))
        children.push(h('h3', {}, 'Connections in this profile'), counts(p))
        if (p.rows.length === 0) {
          children.push(h('p', {class: 'empty'}, p.empty || ''))
        } else {
          const table = h('table', {},
            h('caption', {class: 'sr-only'}, `Connections of profile ${name}`),
            h('thead', {}, h('tr', {},
              ...(model.can_write ? [h('th', {scope: 'col', class: 'sel'},
                                        h('span', {class: 'sr-only'}, 'Select'))] : []),
              ...COLUMNS.map(([f, l]) => header(model, p, index, f, l, false)),
              ...WIDE.map(([f, l]) => header(model, p, index, f, l, true)),
              h('th', {scope: 'col', class: 'col-actions'}, 'Actions'))))
          const body = h('tbody', {}, ...p.rows.map((r) => row(model, p, index, r)))
          table.append(body)
          children.push(table)
        }
        if (p.has_more) children.push(more(model, p, index))
        root.replaceChildren(...children)
        return root
    }
    function focusKey(node) {  // how a card drawn anew finds the focused control again
      const th = node.closest('th')
      const name = node.getAttribute('aria-label')
      return name ? `[aria-label="${CSS.escape(name)}"]` : (th ? `th.${th.classList[0]} button` : null)
    }
    export function render({ model, el }) {
      const list = h('div', {class: 'cards'})
      let shown = []
      function focusedIn(node) {
        const active = list.getRootNode().activeElement
        return active && node.contains(active) ? active : null
      }
      function swap(node, next) {  // a card drawn anew keeps the focus it had, else takes it
        const active = focusedIn(node)
        node.replaceWith(next)
        const key = active && active !== node ? focusKey(active) : null
        if (active) ((key && next.querySelector(key)) || next).focus()
      }
      function draw() {
        shown = JSON.parse(model.cards)
        list.replaceChildren(...shown.map((p, index) => card(model, p, index)))
      }
      model.on('msg:custom', (msg) => {  // one card changed: only it travels
        if (msg.cards !== undefined) {  // the page's cards again, as `cards` already holds them
          shown = JSON.parse(msg.cards)
          list.replaceChildren(...shown.map((p, index) => card(model, p, index)))
          return
        }
        const node = list.children[msg.index]
        const p = msg.card || shown[msg.index]
        if (!p || !node) return
        shown[msg.index] = p
        if (msg.card) {  // the card anew (sorted, other rows)
          swap(node, card(model, p, msg.index))
          return
        }
        // Rows left (revoked) and rows added at the end ("Load more", a re-read): only those
        // change in the DOM; the other rows, and the focus, stay as they are.
        const gone = new Set(msg.remove)
        const body = node.querySelector('tbody')
        const had = p.rows.length
        p.rows = p.rows.filter((r) => !gone.has(r.id)).concat(msg.rows)
        Object.assign(p, {has_more: msg.has_more, counts: msg.counts, counts_exact: msg.counts_exact})
        if (!body || had === 0 || p.rows.length === 0) {  // a table appears or goes: anew
          swap(node, card(model, p, msg.index))
          return
        }
        for (const tr of [...body.children]) {
          if (!gone.has(Number(tr.dataset.id))) continue
          const focused = focusedIn(tr)
          tr.remove()
          if (focused) node.focus()  // not the page's start: the card the row was in
        }
        body.append(...msg.rows.map((r) => row(model, p, msg.index, r)))
        node.querySelector('p.counts').replaceWith(counts(p))
        const button = node.querySelector('button.more')
        if (button && !p.has_more) button.remove()
        else if (!button && p.has_more) node.append(more(model, p, msg.index))
      })
      function tick() {  // keep focus where it is: only the boxes change
        for (const box of list.querySelectorAll('input[data-id]')) {
          box.checked = model.selected.includes(Number(box.dataset.id))
        }
      }
      draw()
      model.on('cards', draw)
      model.on('selected', tick)
      window.addEventListener('connmodel:first-view', () => {  // components.skip_link
        const first = list.querySelector('button.view')
        if (first) first.focus()
      })
      el.append(list)
    }
    """

    _stylesheets: ClassVar[list[str]] = [TOKENS + """
    :host { container-type: inline-size; }
    .card { border: 1px solid var(--cm-border); border-radius: 8px; padding: 12px 16px;
            margin: 0 0 12px 0; background: var(--cm-bg); font-family: inherit; }
    .card:focus-visible { outline: 2px solid var(--cm-focus); outline-offset: 2px; }
    header { display: flex; align-items: baseline; gap: 10px; flex-wrap: wrap; }
    h2 { margin: 0; font-size: 1.15em; }
    h3 { margin: 8px 0 2px 0; font-size: 0.95em; font-weight: 600; }
    .desc { margin: 4px 0 0 0; color: var(--cm-muted); }
    .provider { color: var(--cm-muted); font-size: 0.9em; }
    .env { border-radius: 10px; padding: 1px 8px; font-size: 0.8em;
           background: var(--cm-off-bg); color: var(--cm-off-fg); }
    .env-production { background: var(--cm-bad-bg); color: var(--cm-bad-fg); }
    .env-staging { background: var(--cm-warn-bg); color: var(--cm-warn-fg); }
    .env-dev { background: var(--cm-info-bg); color: var(--cm-info-fg); }
    .counts { display: flex; gap: 8px; margin: 0 0 6px 0; font-size: 0.85em; }
    .count { color: var(--cm-muted); }
    .count-error { color: var(--cm-bad-fg); }
    table { border-collapse: collapse; width: 100%; table-layout: fixed; }
    th.col-service, th.col-account { width: 24%; }
    th.col-actions { width: 150px; }
    th.wide { width: 11%; }
    td { overflow-wrap: anywhere; }
    th, td { text-align: left; padding: 6px 8px; border-top: 1px solid var(--cm-border); }
    th { font-weight: 600; }
    th.sel, td.sel { width: 28px; }
    button.sort { font: inherit; font-weight: 600; color: inherit; background: none; border: 0;
                  padding: 0; cursor: pointer; text-align: left; }
    button.sort:hover { text-decoration: underline; }
    .badge { border-radius: 10px; padding: 2px 8px; font-size: 0.85em; font-weight: 600;
             cursor: help; }
    .badge.active { background: var(--cm-ok-bg); color: var(--cm-ok-fg); }
    .badge.inactive { background: var(--cm-off-bg); color: var(--cm-off-fg); }
    .badge.error { background: var(--cm-bad-bg); color: var(--cm-bad-fg); }
    .hint { margin-left: 8px; font-size: 0.85em; color: var(--cm-warn-fg); }
    .actions { white-space: nowrap; }
    .actions button { margin-right: 6px; }
    button:not(.sort) { font: inherit; padding: 3px 10px; border-radius: 6px;
             border: 1px solid var(--cm-border); background: var(--panel-surface-color);
             color: var(--cm-fg); cursor: pointer; }
    button.revoke { color: var(--cm-bad-fg); }
    .more { margin-top: 8px; }
    .empty { color: var(--cm-muted); font-style: italic; }
    @container (max-width: 999px) { .wide { display: none; } }
    /* Narrow: each row becomes a block; its cells stack, labelled, the buttons on their own line. */
    @container (max-width: 599px) {
      table, thead, tbody, tr, td { display: block; width: auto; }
      thead tr { display: flex; flex-wrap: wrap; gap: 4px 12px; border-top: 0; }
      thead th { border: 0; padding: 4px 0; width: auto !important; }
      thead th.sel, thead th.col-actions { display: none; }
      tr { border-top: 1px solid var(--cm-border); padding: 6px 0; position: relative; }
      td { border: 0; padding: 2px 0; }
      td.sel { position: absolute; right: 0; top: 8px; width: auto; }
      td[data-label]::before { content: attr(data-label) ": "; font-weight: 600; }
      td.actions { padding-top: 6px; }
    }
    """]

    def __init__(self, on_action: Action, on_sort: Sort, **params: Any) -> None:
        super().__init__(**params)
        self._on_action = on_action
        self._on_sort = on_sort
        # What the browser shows when single cards changed since `cards` was set (None: just
        # `cards`). `cards` is only ever set to be sent, so the browser's model holds its value.
        self._drawn: list[dict[str, Any]] | None = None

    def show(self, cards: list[dict[str, Any]], selected: list[int]) -> None:
        """Show these cards and keep this selection. Only what differs from the browser's copy
        travels: nothing for the same cards, card by card when the same profiles are shown and
        at most half of their cards changed (a re-read after a revocation), else all of them."""
        drawn = self._changed_cards()
        if [c["name"] for c in cards] == [c["name"] for c in drawn]:
            changed = [i for i, (old, new) in enumerate(zip(drawn, cards, strict=True))
                       if old != new]
            if 2 * len(changed) <= len(cards):
                for index in changed:
                    self.show_card(index, cards[index])
                self.selected = selected
                return
        text = json.dumps(cards, separators=(",", ":"))
        if text != self.cards:
            self.param.update(cards=text, selected=selected)
        else:
            if self._drawn is not None:  # single cards changed since: draw `cards` again
                self._send_msg({"cards": text})
            self.selected = selected
        self._drawn = None

    def show_card(self, index: int, card: dict[str, Any]) -> None:
        """Show one card anew (sorted, rows revoked or added): rows that left and rows added at
        its end travel alone when the rest of it is the same, else the whole card."""
        drawn = self._changed_cards()
        old = drawn[index]
        if old == card:
            return
        drawn[index] = card
        kept_ids = {r["id"] for r in card["rows"]}
        kept = [r for r in old["rows"] if r["id"] in kept_ids]
        if all(old[k] == card[k] for k in _CARD_FIXED) and card["rows"][:len(kept)] == kept:
            self._send_msg({"index": index,
                            "remove": [r["id"] for r in old["rows"] if r["id"] not in kept_ids],
                            "rows": card["rows"][len(kept):], "has_more": card["has_more"],
                            "counts": card["counts"], "counts_exact": card["counts_exact"]})
        else:
            self._send_msg({"index": index, "card": card})

    def append_rows(self, index: int, rows: list[dict[str, Any]], has_more: bool) -> None:
        """Add a page of rows to one card, sending only those rows to the browser."""
        old = self._changed_cards()[index]
        self.show_card(index, {**old, "rows": [*old["rows"], *rows], "has_more": has_more})

    def drawn(self) -> list[dict[str, Any]]:
        """The cards as the browser shows them: `cards` with the single-card changes since."""
        return self._drawn if self._drawn is not None else json.loads(self.cards)

    def _changed_cards(self) -> list[dict[str, Any]]:
        if self._drawn is None:
            self._drawn = json.loads(self.cards)
        return self._drawn

    async def _handle_msg(self, msg: Any) -> None:
        if not isinstance(msg, dict):
            return
        ident = msg.get("id")
        ident = ident if isinstance(ident, int) else None
        if msg.get("action") in ("view", "revoke", "more"):
            await self._on_action(msg["action"], ident)
        elif msg.get("action") == "sort" and ident is not None and isinstance(msg.get("field"), str):
            await self._on_sort(ident, msg["field"])
