"""The page's websocket sends each change as soon as the server writes it: Nagle's algorithm off.

Bokeh writes a message as three frames, and with Nagle's algorithm on (Tornado's default for a
websocket) the kernel held each frame after the first until Chromium acknowledged the one
before, which it delays by up to 40 ms: a status filter's cards reached the page ~20 ms later
at p50 (dashboard/no_delay.py). The served dashboard's own sockets are read here: the test takes
a copy of each established connection of the server (`pidfd_getfd`, Linux 5.6+) and asks it
for TCP_NODELAY. HTTP connections kept alive have it off between responses, so with pages open
the sockets that have it are their websockets.
"""

import ctypes
import os
import socket

import psutil
import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.ui
SYS_PIDFD_GETFD = 438  # the same number on every Linux architecture (new syscalls are unified)


def server_process(port: int) -> psutil.Process:
    """The child of this test listening on `port`."""
    for child in psutil.Process().children(recursive=True):
        if any(c.status == psutil.CONN_LISTEN and c.laddr.port == port
               for c in child.net_connections(kind="tcp")):
            return child
    raise AssertionError(f"no process of this test listens on port {port}")


def sockets_without_delay(server: psutil.Process, port: int) -> int:
    """How many of the server's established connections on `port` have TCP_NODELAY set."""
    libc = ctypes.CDLL(None, use_errno=True)
    pidfd = os.pidfd_open(server.pid)
    found = 0
    try:
        for conn in server.net_connections(kind="tcp"):
            if conn.status != psutil.CONN_ESTABLISHED or conn.laddr.port != port:
                continue
            copy = libc.syscall(SYS_PIDFD_GETFD, pidfd, conn.fd, 0)
            if copy < 0:
                raise OSError(ctypes.get_errno(), "pidfd_getfd of the server's socket")
            with socket.socket(fileno=copy) as sock:
                found += sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
    finally:
        os.close(pidfd)
    return found


def test_each_open_page_has_a_websocket_without_delay(page: Page, demo_dashboard):
    port = int(demo_dashboard.url.rsplit(":", 1)[1])
    server = server_process(port)
    page.goto(demo_dashboard.page_url())
    expect(page.locator("tr[data-id]").first).to_be_visible()
    assert sockets_without_delay(server, port) == 1

    other = page.context.new_page()
    other.goto(demo_dashboard.page_url())
    expect(other.locator("tr[data-id]").first).to_be_visible()
    assert sockets_without_delay(server, port) == 2
