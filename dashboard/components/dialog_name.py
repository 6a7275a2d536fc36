"""An accessible name for a `pn.Modal`, which has no parameter for one (axe: aria-dialog-name).

Placed inside the Modal, it walks up the shadow roots it sits in to the Modal's dialog element
and sets `aria-label` there. Panel's own dialogs (New profile) need it; ours (`Dialog`) are
named by their heading.
"""

import param

from dashboard.components.base import ConsoleComponent


class DialogName(ConsoleComponent):
    """Names the `pn.Modal` it is placed in."""

    label = param.String(default="", doc="The dialog's accessible name.")

    _esm = """
    export function render({ model, el }) {
      el.style.display = 'none'
      requestAnimationFrame(() => {
        for (let root = el.getRootNode(); root; root = root.host && root.host.getRootNode()) {
          const dialog = root.querySelector && root.querySelector('[role=dialog]')
          if (dialog) { dialog.setAttribute('aria-label', model.label); return }
          if (!root.host) return
        }
      })
    }
    """
