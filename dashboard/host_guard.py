"""An explicit Host / Origin allowlist for every dashboard page, websocket and endpoint.

Tornado lets a websocket through when `Origin` equals `Host` (or the browser says
`Sec-Fetch-Site: same-origin`) before Bokeh's origin allowlist is asked, and both headers come
from the client: a page at `http://evil.example:9999` whose name was rebound to this server
(DNS rebinding) sends exactly that pair. So the Host itself is checked: a request whose `Host`,
or whose `Origin` when it has one, is not an address this server is served at gets 403 before
any handler runs (in `prepare`, Tornado's documented hook). `guard_application` puts every
route of the built Tornado application behind it: pages, websockets, static files, the favicon,
sign-in and sign-out, /healthz and /metrics, whoever added the route (Bokeh, Panel, the auth
module, serve.py).
"""

from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from tornado.httputil import HTTPServerRequest
from tornado.web import Application, HTTPError, RequestHandler

from dashboard.routes import put_in_front


def normal_hosts(hosts: Iterable[str]) -> frozenset[str]:
    """Lower-case `host[:port]` forms; a host given without a port matches ports 80 and 443
    as browsers leave them out."""
    return frozenset(h.strip().lower() for h in hosts if h.strip())


def refusal(request: HTTPServerRequest, allowed: frozenset[str]) -> str | None:
    """Why the request is refused, or None when its Host (and Origin) are allowed."""
    host = request.headers.get("Host", "").strip().lower()
    if host not in allowed:
        return f"Host {host[:100]!r} is not an address of this server"
    # "null" says nothing of where a request came from: browsers send it for the sign-in form's
    # own POST because our pages are served with `Referrer-Policy: no-referrer` (Fetch spec).
    # The Host was checked above, and that form carries its own CSRF token.
    origin = request.headers.get("Origin")
    if origin is not None and origin != "null":
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


def guard_application(app: Application, allowed: frozenset[str]) -> None:
    """Every route of `app` behind the allowlist (`dashboard.routes.put_in_front`)."""
    put_in_front(app, HostGuard, allowed_hosts=allowed)
