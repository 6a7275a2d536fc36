"""Back and forward buttons: Panel pushes URL changes but does not listen for `popstate`.

Every page reads its state from the URL when a session starts, so reloading on `popstate` is
the simplest way for back/forward to land exactly where the URL says.
"""

from dashboard.components.base import ConsoleComponent


class HistoryReload(ConsoleComponent):
    """An invisible component that reloads the page when the browser history moves."""

    _esm = """
    export function render({ el }) {
      if (!window.__connmodelHistory) {
        window.__connmodelHistory = true
        window.addEventListener('popstate', () => window.location.reload())
      }
      el.style.display = 'none'
    }
    """
