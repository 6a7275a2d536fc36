"""The HTTP floor of bench/api.py: the least a request can cost on the API's own server stack.

An ASGI app that reads the request body and answers a fixed JSON credential of the broker's
size, served by uvicorn exactly as `connmodel api` is (same workers, access log, headers), so
the broker's figures can be read against what uvicorn and the client alone cost on this
machine, measured in the same run.
"""

from typing import Any

BODY = (b'{"server":"fleet-000","url":"http://127.0.0.1:9/fleet/0/mcp","connection_id":1000001,'
        b'"auth_type":"api_key","header_name":"X-API-Key","header_value":"fleet-key-000-012345'
        b'6789","token":null,"expires_at":null}')


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    more = True
    while more:
        more = (await receive()).get("more_body", False)
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(BODY)).encode())]})
    await send({"type": "http.response.body", "body": BODY})
