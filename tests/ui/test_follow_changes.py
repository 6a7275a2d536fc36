"""dashboard.changes in a real Panel server and Chromium: a session no browser has shown runs
nothing when the store changes, and catches up once when a browser shows it.

Panel keeps the first session of each page for its HTML (dashboard/first_screen.py), and a
probe's GET builds one no browser ever shows: each re-read every change for the life of the
process (the old code ran the callback in both sessions below at once).
"""

import socket
import time
import urllib.request
from collections.abc import Iterator
from typing import Any

import panel as pn
import pytest
from playwright.sync_api import Page, Route, expect
from servers import free_port

from connmodel.permissions import Actor
from connmodel.services.events import record
from connmodel.store import get_engine, session
from dashboard.changes import follow_changes

pytestmark = pytest.mark.ui
SETTLE_MS = 2_500  # the SQLite watcher reads the token every second


@pytest.fixture
def served(sqlite_url: str) -> Iterator[tuple[str, list[int]]]:
    """A Panel app that counts the changes its sessions are told of, on a free port."""
    told: list[int] = []

    def app() -> pn.viewable.Viewable:
        shown = pn.pane.Markdown("changes: 0", css_classes=["told"])

        def changed(_change: Any) -> None:
            told.append(id(shown))
            shown.object = f"changes: {told.count(id(shown))}"

        follow_changes(sqlite_url, changed)
        return shown

    port = free_port()
    server = pn.serve({"app": app}, port=port, address="127.0.0.1", threaded=True, show=False,
                      websocket_origin=[f"127.0.0.1:{port}"])
    deadline = time.monotonic() + 30  # the thread listens a moment after it starts
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            assert time.monotonic() < deadline, "the Panel server did not start"
            time.sleep(0.1)
    try:
        yield f"http://127.0.0.1:{port}/app", told
    finally:
        server.stop()
        get_engine(sqlite_url).dispose()


def change(url: str) -> None:
    with session(url) as s:
        record(s, actor=Actor("tester"), action="test.change", target="the store", outcome="ok")
        s.commit()


def test_an_unshown_session_runs_nothing_and_a_shown_one_catches_up(
        page: Page, served: tuple[str, list[int]], sqlite_url: str) -> None:
    url, told = served
    with urllib.request.urlopen(url, timeout=30):  # a probe: a session no browser will show
        pass
    held: list[Route] = []
    page.route("**/static/js/bokeh.min.js*", lambda route: held.append(route))  # scripts wait
    page.goto(url, wait_until="commit")  # its session is built; the browser has not shown it
    page.wait_for_timeout(SETTLE_MS)
    assert told == []
    change(sqlite_url)
    page.wait_for_timeout(SETTLE_MS)
    assert told == [], "a session no browser has shown ran its callback"
    assert len(held) == 1
    held[0].continue_()
    expect(page.locator(".told")).to_have_text("changes: 1")  # caught up once, on load
    change(sqlite_url)
    expect(page.locator(".told")).to_have_text("changes: 2")
    assert len(set(told)) == 1, "the probe's session was told too"
