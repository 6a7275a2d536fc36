"""An explicit Host / Origin allowlist for every dashboard page, websocket and endpoint.

Tornado lets a websocket through when `Origin` equals `Host` (or the browser says
`Sec-Fetch-Site: same-origin`) before Bokeh's origin allowlist is asked, and both headers come
from the client: a page at `http://evil.example:9999` whose name was rebound to this server
(DNS rebinding) sends exactly that pair. So the Host itself is checked: a request whose `Host`,
or whose `Origin` when it has one, is not an address this server is served at gets 403 before
any handler runs (in `prepare`, Tornado's documented hook, for the handler classes of Bokeh's
documented `per_app_patterns` and of the server's extra patterns).
"""

from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from tornado.httputil import HTTPServerRequest
from tornado.web import HTTPError, RequestHandler


def normal_hosts(hosts: Iterable[str]) -> frozenset[str]:
    """Lower-case `host[:port]` forms; a host given without a port matches ports 80 and 443
    as browsers leave them out."""
    return frozenset(h.strip().lower() for h in hosts if h.strip())


def refusal(request: HTTPServerRequest, allowed: frozenset[str]) -> str | None:
    """Why the request is refused, or None when its Host (and Origin) are allowed."""
    host = request.headers.get("Host", "").strip().lower()
    if host not in allowed:
        return f"Host {host[:100]!r} is not an address of this server"
    origin = request.headers.get("Origin")
    if origin is not None:
        netloc = urlsplit(origin).netloc.lower()
        if netloc not in allowed:
            return f"Origin {origin[:100]!r} is not an address of this server"
    return None


class HostGuard(RequestHandler):
    """Mixed in before a handler class: refuses foreign Host / Origin in `prepare`."""

    allowed_hosts: frozenset[str] = frozenset()

    def prepare(self) -> Any:
        reason = refusal(self.request, self.allowed_hosts)
        if reason is not None:
            raise HTTPError(403, reason)
        return super().prepare()


def guarded(handler: type[RequestHandler], allowed: frozenset[str]) -> type[RequestHandler]:
    """`handler` behind the allowlist (a subclass; the original class is left alone)."""
    return type(f"Guarded{handler.__name__}", (HostGuard, handler), {"allowed_hosts": allowed})


def guard_patterns(patterns: list[Any], allowed: frozenset[str]) -> list[Any]:
    """Tornado URL patterns `(regex, handler[, kwargs])` with each handler guarded."""
    out = []
    for pattern in patterns:
        if isinstance(pattern, tuple) and len(pattern) >= 2 and isinstance(pattern[1], type) \
                and issubclass(pattern[1], RequestHandler):
            pattern = (pattern[0], guarded(pattern[1], allowed), *pattern[2:])
        out.append(pattern)
    return out
