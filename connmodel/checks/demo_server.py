"""The seed's Calculator as a real MCP server, so the demo's Noauth connection has a server that
answers a check (`connmodel demo-server`, then `connmodel check --all`)."""

from typing import Any

from mcp.server.mcpserver import MCPServer

from connmodel.checks.defaults import DEMO_HOST, DEMO_PORT


def calculator(name: str = "Calculator", **server_options: Any) -> MCPServer:
    """An MCP server with the tools add and subtract (options go to MCPServer, e.g. auth)."""
    server = MCPServer(name, log_level="WARNING", **server_options)

    @server.tool()
    def add(a: float, b: float) -> float:
        """Add two numbers."""
        return a + b

    @server.tool()
    def subtract(a: float, b: float) -> float:
        """Subtract b from a."""
        return a - b

    return server


def serve_calculator(host: str = DEMO_HOST, port: int = DEMO_PORT) -> None:
    """Serve the Calculator over Streamable HTTP at http://host:port/mcp until interrupted."""
    import uvicorn

    uvicorn.run(calculator().streamable_http_app(host=host), host=host, port=port,
                log_level="warning")
