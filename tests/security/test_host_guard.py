"""The Host / Origin allowlist of `dashboard/serve.py` covers every route of the server.

A forged Host (the DNS-rebinding shape) is refused with 403 on pages and websockets, and also on
what Bokeh, Panel and the auth module add themselves: static files, the favicon, sign-in and
sign-out, /healthz and /metrics. The same requests with the served address are answered.
"""

import http.client

import pytest
from ui.conftest import start_dashboard

pytestmark = pytest.mark.ui

PATHS = ["/app", "/", "/login", "/logout", "/static/js/bokeh.min.js", "/app/static/nothing.js",
         "/favicon.ico", "/healthz", "/metrics"]


def status(port: int, path: str, headers: dict[str, str]) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("GET", path, headers=headers)
        return conn.getresponse().status
    finally:
        conn.close()


@pytest.fixture(scope="module")
def dashboard(tmp_path_factory):
    with start_dashboard(tmp_path_factory.mktemp("guard"), local_users=True) as served:
        yield served


@pytest.mark.parametrize("path", PATHS)
def test_a_forged_host_is_refused_on_every_route(dashboard, path):
    port = int(dashboard.url.rsplit(":", 1)[1])
    assert status(port, path, {"Host": "evil.example:9999"}) == 403
    assert status(port, path, {"Host": f"127.0.0.1:{port}",
                               "Origin": "http://evil.example:9999"}) == 403
    assert status(port, path, {"Host": f"127.0.0.1:{port}"}) != 403


def test_a_forged_websocket_is_refused(dashboard):
    port = int(dashboard.url.rsplit(":", 1)[1])
    forged = {"Host": "evil.example:9999", "Origin": "http://evil.example:9999",
              "Connection": "Upgrade", "Upgrade": "websocket", "Sec-WebSocket-Version": "13",
              "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="}
    assert status(port, "/app/ws", forged) == 403


def test_an_opaque_origin_is_judged_by_its_host(dashboard):
    """Chromium sends `Origin: null` with the sign-in form's POST (our pages' no-referrer
    policy); with the served Host it is answered, with a forged Host refused."""
    port = int(dashboard.url.rsplit(":", 1)[1])
    assert status(port, "/login", {"Host": f"127.0.0.1:{port}", "Origin": "null"}) == 200
    assert status(port, "/login", {"Host": "evil.example:9999", "Origin": "null"}) == 403
