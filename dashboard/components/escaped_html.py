"""Markup built by `dashboard` from escaped values, for dialogs whose content changes per click.

An HTML pane re-derives every property (stylesheets, design) whenever its text changes: about
a third of a View click's Panel time. This component sends only the new string. It shows the
string as markup, like the pane: every user-controlled value in it must already be escaped
with `dashboard.escaping.esc` (the builders in `dashboard.views.connection_dialogs` do).
"""

import param
from panel.custom import JSComponent


class EscapedHTML(JSComponent):
    """Shows `object`, markup whose user text was escaped by `esc`."""

    object = param.String(default="", doc="Markup whose user-controlled values are escaped.")

    _esm = """
    export function render({ model, el }) {
      const box = document.createElement('div')
      const draw = () => { box.innerHTML = model.object }
      draw()
      model.on('object', draw)
      el.append(box)
    }
    """
