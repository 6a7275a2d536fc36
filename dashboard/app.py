"""Entry point for `panel serve dashboard/app.py` (placeholder until the Connections page lands)."""

import panel as pn

pn.extension()
pn.pane.Markdown("# Connections\nManage authenticated connections and profiles for MCP servers.").servable()
