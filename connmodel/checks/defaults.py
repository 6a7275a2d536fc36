"""Check settings the command line shows as defaults; importing this loads no MCP code."""

DEFAULT_CONCURRENCY = 10
DEFAULT_TIMEOUT = 10.0
DEMO_HOST = "127.0.0.1"
DEMO_PORT = 8101  # the Calculator URL `connmodel demo` seeds: http://127.0.0.1:8101/mcp
