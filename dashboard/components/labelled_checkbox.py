"""A checkbox inside its own `<label>`: clicking the words ticks it, and they are its name.

Panel's Checkbox (Bokeh 3.10) writes its text in a `<div>` beside the `<input>`: the words
take no click and a screen reader hears an unnamed checkbox.
"""

from typing import ClassVar

import param

from dashboard.components.base import ConsoleComponent
from dashboard.components.dom import DOM_HELPER
from dashboard.components.theme import TOKENS


class LabelledCheckbox(ConsoleComponent):
    """`value` is ticked; `label` is the text beside the box and its accessible name."""

    value = param.Boolean(default=False, doc="Whether the box is ticked.")
    label = param.String(default="", doc="The words beside the box (plain text).")

    _esm = DOM_HELPER + """
    export function render({ model, el }) {
      const box = h('input', {type: 'checkbox'})
      const words = h('span')
      function draw() {
        box.checked = model.value
        words.textContent = model.label
      }
      box.addEventListener('change', () => { model.value = box.checked })
      draw()
      model.on(['value', 'label'], draw)
      el.append(h('label', {}, box, words))
    }
    """

    _stylesheets: ClassVar[list[str]] = [TOKENS + """
    label { display: inline-flex; align-items: center; gap: 6px; cursor: pointer; }
    input { margin: 0; }
    """]
