"""A message box (error, warning, success, info) whose text is set with `textContent`.

It replaces Panel's Alert wherever the message carries user or service text (a profile name,
a provider's error): an Alert is a Markdown pane and renders markup, this shows characters.
Errors are announced with `role=alert`, the rest with `role=status`; empty text hides it.
"""

from typing import ClassVar

import param

from dashboard.components.base import ConsoleComponent
from dashboard.components.theme import TOKENS

KINDS = ("error", "warning", "success", "info")  # as the view models' `message_kind`


class Notice(ConsoleComponent):
    """`title` in bold, then `text`; hidden while `text` is empty."""

    text = param.String(default="", doc="The message (plain text).")
    title = param.String(default="", doc="A bold lead before the text (plain text).")
    kind = param.Selector(objects=list(KINDS), default="info", doc="Colour and urgency.")
    link = param.String(default="", doc="A URL on this server shown after the text ('' for none).")
    link_label = param.String(default="", doc="The link's text.")

    _esm = """
    export function render({ model, el }) {
      const box = document.createElement('div')
      const lead = document.createElement('strong')
      const body = document.createElement('span')
      const link = document.createElement('a')
      box.append(lead, body, ' ', link)
      function draw() {
        box.className = `box ${model.kind}`
        box.setAttribute('role', model.kind === 'error' ? 'alert' : 'status')
        lead.textContent = model.title ? `${model.title} ` : ''
        body.textContent = model.text
        link.textContent = model.link_label
        link.hidden = !model.link.startsWith('/')  // only a path here, never javascript:
        link.setAttribute('href', link.hidden ? '#' : model.link)
        box.hidden = !model.text
      }
      draw()
      model.on(['text', 'title', 'kind', 'link', 'link_label'], draw)
      el.append(box)
    }
    """

    _stylesheets: ClassVar[list[str]] = [TOKENS + """
    .box { padding: 10px 14px; border-radius: 6px; border-left: 4px solid currentColor;
              overflow-wrap: anywhere; }
    .box[hidden], a[hidden] { display: none; }
    a { color: inherit; text-decoration: underline; }
    .error { background: var(--cm-bad-bg); color: var(--cm-bad-fg); }
    .warning { background: var(--cm-warn-bg); color: var(--cm-warn-fg); }
    .success { background: var(--cm-ok-bg); color: var(--cm-ok-fg); }
    .info { background: var(--cm-info-bg); color: var(--cm-info-fg); }
    """]
