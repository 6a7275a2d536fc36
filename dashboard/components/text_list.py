"""A list of plain-text lines (`<ul>` of `textContent`), or one line saying it is empty."""

from typing import ClassVar

import param

from dashboard.components.base import ConsoleComponent
from dashboard.components.theme import TOKENS


class TextList(ConsoleComponent):
    """Shows `items` as a bulleted list, `empty` when there are none."""

    items = param.List(default=[], item_type=str, doc="The lines shown (plain text).")
    empty = param.String(default="", doc="What to say when there is no line.")

    _esm = """
    export function render({ model, el }) {
      const box = document.createElement('div')
      function draw() {
        if (model.items.length === 0) {
          const p = document.createElement('p')
          p.textContent = model.empty
          box.replaceChildren(p)
          return
        }
        const list = document.createElement('ul')
        for (const text of model.items) {
          const li = document.createElement('li')
          li.textContent = text
          list.append(li)
        }
        box.replaceChildren(list)
      }
      draw()
      model.on(['items', 'empty'], draw)
      el.append(box)
    }
    """

    _stylesheets: ClassVar[list[str]] = [TOKENS]
