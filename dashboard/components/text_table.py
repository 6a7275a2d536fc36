"""A table of plain-text cells (`textContent`), or one line saying it is empty.

Wide, it is a table whose words never break inside (a column too narrow for a word widens it,
and the table scrolls sideways rather than break it). In a narrow container (a phone) each row
becomes a block of "Heading: value" lines, as the profile cards' rows do: seven columns in
390 px had broken "Scope" and "read" mid-word.
"""

from typing import ClassVar

import param

from dashboard.components.base import ConsoleComponent
from dashboard.components.dom import DOM_HELPER
from dashboard.components.theme import TOKENS


class TextTable(ConsoleComponent):
    """Shows `rows` under the `columns` headings; `empty` when there is no row."""

    columns = param.List(default=[], item_type=str, doc="The column headings.")
    rows = param.List(default=[], doc="Each row's cells (plain text), as many as `columns`.")
    empty = param.String(default="", doc="What to say when there is no row.")
    caption = param.String(default="", doc="The table's accessible name.")

    _esm = DOM_HELPER + """
    export function render({ model, el }) {
      const box = h('div', {class: 'scroll'})
      function draw() {
        if (model.rows.length === 0) {
          box.replaceChildren(h('p', {}, model.empty))
          return
        }
        box.replaceChildren(h('table', {},
          h('caption', {class: 'sr-only'}, model.caption),
          h('thead', {}, h('tr', {}, ...model.columns.map((c) => h('th', {scope: 'col'}, c)))),
          h('tbody', {}, ...model.rows.map((cells) =>
            h('tr', {}, ...cells.map((text, i) =>
              h('td', {'data-label': model.columns[i] || ''}, String(text))))))))
      }
      draw()
      model.on(['rows', 'columns', 'empty', 'caption'], draw)
      el.append(box)
    }
    """

    _stylesheets: ClassVar[list[str]] = [TOKENS + """
    :host { container-type: inline-size; }
    .scroll { overflow-x: auto; }
    table { border-collapse: collapse; width: 100%; font-size: 14px; }
    th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid var(--cm-border);
             vertical-align: top; overflow-wrap: normal; }
    @container (max-width: 719px) {
      table, tbody, tr, td { display: block; width: auto; }
      thead { display: none; }
      tr { border-bottom: 1px solid var(--cm-border); padding: 6px 0; }
      td { border: 0; padding: 1px 0; overflow-wrap: anywhere; }
      td[data-label]::before { content: attr(data-label) ": "; font-weight: 600; }
    }
    """]
