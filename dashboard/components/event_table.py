"""The Activity page's table of audit events, written with `textContent`, sortable by time.

Every cell is user-controlled text (names, targets, outcomes): it travels as plain values. The
"Time (UTC)" header is a button: a click flips `oldest_first`, which the page hands to the
service (SQL order and keyset paging, never a sort of the rows in the browser); the header's
`aria-sort` says which way the table is sorted.
"""

from typing import ClassVar

import param

from connmodel.models import AuditEventPublic
from dashboard.components.base import ConsoleComponent
from dashboard.components.dom import DOM_HELPER
from dashboard.components.theme import TOKENS


def event_rows(events: list[AuditEventPublic]) -> list[list[str]]:
    """The cells of each event: time, actor, action, target, outcome."""
    return [[e.at.strftime("%Y-%m-%d %H:%M:%S"), e.actor, e.action, e.target, e.outcome]
            for e in events]


class EventTable(ConsoleComponent):
    """The events shown, in the order the service returned them."""

    rows = param.List(default=[], doc="Each event's cells, as made by `event_rows`.")
    oldest_first = param.Boolean(default=False, doc="Sorted by time ascending (else newest first).")

    _esm = DOM_HELPER + """
    const COLUMNS = ['Time (UTC)', 'Actor', 'Action', 'Target', 'Outcome']
    export function render({ model, el }) {
      const box = h('div')
      function draw() {
        if (model.rows.length === 0) {
          box.replaceChildren(h('p', {}, 'No event matches these filters.'))
          return
        }
        const sort = h('button', {type: 'button', class: 'sort'}, 'Time (UTC)',
                       h('span', {'aria-hidden': 'true'}, model.oldest_first ? ' ▲' : ' ▼'))
        sort.addEventListener('click', () => { model.oldest_first = !model.oldest_first })
        const head = h('tr', {},
          h('th', {scope: 'col', 'aria-sort': model.oldest_first ? 'ascending' : 'descending'}, sort),
          ...COLUMNS.slice(1).map((t) => h('th', {scope: 'col'}, t)))
        const body = h('tbody', {}, ...model.rows.map((cells) =>
          h('tr', {}, ...cells.map((text, i) => h('td', {'data-label': COLUMNS[i]}, text)))))
        box.replaceChildren(h('table', {class: 'activity'},
          h('caption', {class: 'sr-only'}, 'Audit events'), h('thead', {}, head), body))
      }
      draw()
      model.on(['rows', 'oldest_first'], draw)
      el.append(box)
    }
    """

    _stylesheets: ClassVar[list[str]] = [TOKENS + """
    table.activity { border-collapse: collapse; width: 100%; font-size: 14px; }
    th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid var(--cm-border);
             vertical-align: top; overflow-wrap: anywhere; }
    td:nth-child(1), td:nth-child(3) { white-space: nowrap; }
    th:nth-child(2), th:nth-child(5) { min-width: 7em; }
    button.sort { font: inherit; font-weight: 600; color: inherit; background: none; border: 0;
                  padding: 0; cursor: pointer; text-decoration: underline dotted; }
    /* Phone-wide: each event is a block of labelled lines; the time header still sorts. */
    @media (max-width: 600px) {
      table.activity, thead, tbody, tr, td { display: block; }
      thead th { display: none; }
      thead th:first-child { display: block; }
      tbody tr { border-bottom: 1px solid var(--cm-border); padding: 4px 0; }
      td { border: 0; padding: 1px 8px; }
      td:nth-child(1), td:nth-child(3) { white-space: normal; }
      td::before { content: attr(data-label) ": "; font-weight: 600; color: var(--cm-muted); }
    }
    """]
