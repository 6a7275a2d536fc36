"""connmodel: the Connections & Profiles model of an MCP gateway.

Provider config -> Profile -> Connection -> MCP servers. The package holds the domain, the
store, the services and the command line; it never imports Panel, so notebooks, scripts and the
dashboard all share one implementation of every rule.
"""

__version__ = "0.1.0"
