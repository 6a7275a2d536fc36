""""Skip to the connections": a link after the filters that moves focus to the first View.

Between the filters and the first View come New profile, the bulk buttons and each card's
sortable headers and selection box; this link takes a keyboard user past them in one Enter.
The cards are in another component's shadow root, so the link asks by a window event
(`connmodel:first-view`) that `ProfileCards` answers by focusing its first View button.
"""

from typing import ClassVar

from dashboard.components.base import ConsoleComponent
from dashboard.components.theme import TOKENS

EVENT = "connmodel:first-view"


class SkipLink(ConsoleComponent):
    """A link, visible when focused, that sends focus to the first connection's View."""

    _esm = f"""
    export function render({{ el }}) {{
      const link = document.createElement('a')
      link.href = '#connections'
      link.className = 'skip'
      link.textContent = 'Skip to the connections'
      link.addEventListener('click', (e) => {{
        e.preventDefault()
        window.dispatchEvent(new CustomEvent('{EVENT}'))
      }})
      el.append(link)
    }}
    """

    _stylesheets: ClassVar[list[str]] = [TOKENS + """
    .skip { display: inline-block; padding: 6px 10px; color: var(--cm-focus); }
    .skip:not(:focus) { position: absolute; width: 1px; height: 1px; overflow: hidden;
                        clip: rect(0 0 0 0); white-space: nowrap; }
    """]
