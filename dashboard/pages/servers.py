"""My Servers: a placeholder until the servers services land (another issue)."""

import panel as pn
from panel.viewable import Viewable

from dashboard.viewmodels.backend import Backend

KEY = "servers"
TITLE = "My Servers"
GROUP = "Gateway"


def build(backend: Backend) -> Viewable:
    """The page shown under Gateway → My Servers."""
    return pn.Column(
        pn.pane.Markdown("# My Servers\n\nThe MCP servers of the gateway, their profiles and "
                         "states: **coming soon**."),
        pn.pane.HTML('<a href="?page=connections">Back to Connections</a>'),
        sizing_mode="stretch_width",
    )
