"""Short-lived messages after an action ("Revoked Hubspot connection"), written as text.

Panel's notifications render their message as markup; these write it with `textContent`. They
stack at the bottom left, over the sidebar's empty foot rather than over the cards' View and
Revoke buttons at the right, and let clicks through (`pointer-events: none`) so they never
block what is under them. Each is a `role=status` region, read out by screen readers.
"""

from typing import ClassVar

import param

from dashboard.components.base import ConsoleComponent
from dashboard.components.notice import KINDS
from dashboard.components.theme import TOKENS

SHOWN_MS = 8000


class Toasts(ConsoleComponent):
    """Call `show(text, kind)`; the browser shows it for SHOWN_MS."""

    duration = param.Integer(default=SHOWN_MS, doc="How long a message stays, in ms.")

    _esm = """
    export function render({ model, el }) {
      const stack = document.createElement('div')
      stack.className = 'stack'
      model.on('msg:custom', (msg) => {
        const toast = document.createElement('div')
        toast.className = `toast ${msg.kind}`
        toast.setAttribute('role', msg.kind === 'error' ? 'alert' : 'status')
        toast.textContent = msg.text
        stack.append(toast)
        setTimeout(() => toast.remove(), model.duration)
      })
      el.append(stack)
    }
    """

    _stylesheets: ClassVar[list[str]] = [TOKENS + """
    .stack { position: fixed; left: 16px; bottom: 16px; z-index: 2000; display: flex;
              flex-direction: column; gap: 8px; max-width: min(360px, calc(100vw - 32px));
              pointer-events: none; }
    .toast { padding: 10px 14px; border-radius: 6px; border-left: 4px solid currentColor;
             box-shadow: 0 2px 8px var(--panel-shadow-color); overflow-wrap: anywhere; }
    .error { background: var(--cm-bad-bg); color: var(--cm-bad-fg); }
    .warning { background: var(--cm-warn-bg); color: var(--cm-warn-fg); }
    .success { background: var(--cm-ok-bg); color: var(--cm-ok-fg); }
    .info { background: var(--cm-info-bg); color: var(--cm-info-fg); }
    """]

    def show(self, text: str, kind: str = "info") -> None:
        """Show `text` (plain) as a `kind` message: error, warning, success or info."""
        self._send_msg({"text": text, "kind": kind if kind in KINDS else "info"})
