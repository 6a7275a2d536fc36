"""A table of plain-text cells (`textContent`), or one line saying it is empty."""

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
      const box = h('div')
      function draw() {
        if (model.rows.length === 0) {
          box.replaceChildren(h('p', {}, model.empty))
          return
        }
        box.replaceChildren(h('table', {},
          h('caption', {class: 'sr-only'}, model.caption),
          h('thead', {}, h('tr', {}, ...model.columns.map((c) => h('th', {scope: 'col'}, c)))),
          h('tbody', {}, ...model.rows.map((cells) =>
            h('tr', {}, ...cells.map((text) => h('td', {}, String(text))))))))
      }
      draw()
      model.on(['rows', 'columns', 'empty', 'caption'], draw)
      el.append(box)
    }
    """

    _stylesheets: ClassVar[list[str]] = [TOKENS + """
    table { border-collapse: collapse; width: 100%; font-size: 14px; }
    th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid var(--cm-border);
             vertical-align: top; overflow-wrap: anywhere; }
    """]
