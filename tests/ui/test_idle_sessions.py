"""An idle page costs nothing: no websocket message while nothing changes, then the change.

Before the per-process watcher, every session polled every 2 s and each poll patched every
session's busy spinner: an idle page received messages every few seconds. Until 2026-12-05
another page's filter change did the same: Panel's busy state is one per process, and the
template's spinner turned on and off on every page of the process for each input of any page
(two patches to each open page: 50 sessions cost each other ~1,200 messages a second).
"""

import re
import time

import pytest
from playwright.sync_api import Page, expect

from connmodel.permissions import Actor
from connmodel.services.connections import ConnectionFilter, list_connections, revoke_connection
from connmodel.store import session

pytestmark = pytest.mark.ui
IDLE_S = 6


def test_an_idle_page_receives_nothing_until_something_changes(page: Page, demo_dashboard):
    frames: list[float] = []
    page.on("websocket", lambda ws: ws.on("framereceived", lambda _: frames.append(
        time.monotonic())))
    page.goto(demo_dashboard.page_url("?page=connections"))
    revoke = page.get_by_role("button", name="Revoke Hubspot connection (Configured)")
    expect(revoke).to_be_visible(timeout=30_000)
    page.wait_for_timeout(2000)  # the first render's last patches
    quiet_from = time.monotonic()
    page.wait_for_timeout(IDLE_S * 1000)
    assert [t for t in frames if t >= quiet_from] == []

    with session(demo_dashboard.database_url) as s:  # the CLI's revoke, another process
        admin = Actor("tester")
        hub = list_connections(s, actor=admin, where=ConnectionFilter(profile="Hubspot")).items[0]
        revoke_connection(s, actor=admin, connection_id=hub.id)
    expect(revoke).to_have_count(0, timeout=5_000)


def test_another_pages_filter_changes_send_nothing_to_an_idle_page(page: Page, demo_dashboard):
    idle = page.context.new_page()
    frames: list[float] = []
    idle.on("websocket", lambda ws: ws.on("framereceived", lambda _: frames.append(
        time.monotonic())))
    for each in (idle, page):
        each.goto(demo_dashboard.page_url("?page=connections"))
        expect(each.get_by_text("Showing").first).to_be_visible(timeout=30_000)
    idle.wait_for_timeout(2000)  # the first render's last patches
    quiet_from = time.monotonic()
    status = page.locator("select").filter(has_text="All statuses")
    for value, url in (("Error", r"status=Error"), ("Inactive", r"status=Inactive"),
                       ("All statuses", r"page=connections$")):
        status.select_option(value)
        expect(page).to_have_url(re.compile(url), timeout=10_000)
    page.wait_for_timeout(1000)
    assert [t for t in frames if t >= quiet_from] == []
