"""Send the browser to a URL the server computed (an OAuth2 provider's authorization page).

Panel's `Location` cannot leave the app's origin, so this tiny component does it in the browser
when its `url` changes; only http(s) URLs are followed (never `javascript:`).
"""

import param

from dashboard.components.base import ConsoleComponent


class Redirect(ConsoleComponent):
    """Set `url` and the browser goes there (replacing nothing: Back returns to the page)."""

    url = param.String(default="", doc="An http(s) URL to open in this tab.")

    _esm = """
    export function render({ model }) {
      model.on("url", () => {
        if (/^https?:\\/\\//i.test(model.url)) { window.location.assign(model.url) }
      })
      return document.createElement("span")
    }
    """
