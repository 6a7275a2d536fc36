"""One line of plain text announced to screen readers (`role=status`), set with `textContent`.

An HTML pane re-derives all its properties (stylesheets, design) on every change of its text;
this component sends just the new text, about a tenth of the Connections page's CPU per filter
change. What it shows is never markup, so nothing needs escaping.
"""

import param

from dashboard.components.base import ConsoleComponent


class StatusLine(ConsoleComponent):
    """A `<p role="status">` showing `object`, hidden while it is empty."""

    object = param.String(default="", doc="The text shown.")

    _esm = """
    export function render({ model, el }) {
      const line = document.createElement('p')
      line.setAttribute('role', 'status')
      const draw = () => { line.textContent = model.object; line.hidden = !model.object }
      draw()
      model.on('object', draw)
      el.append(line)
    }
    """
