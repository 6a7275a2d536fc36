"""My Servers in Chromium: Check all with live results, Reconfigure after a Revoke, escaping."""

import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from servers import free_port

from connmodel.permissions import Actor
from connmodel.services.connections import ConnectionFilter, list_connections, revoke_connection
from connmodel.services.servers import register_server
from connmodel.store import get_engine, session

pytestmark = pytest.mark.ui
ADMIN = Actor("tester")
ODD_URL = 'http://127.0.0.1:9/"><img/src=x/onerror=alert(1)>'



@pytest.fixture(scope="module")
def calculator_url():
    """The demo's Calculator (`connmodel demo-server`) on a free loopback port."""
    port = free_port()
    proc = subprocess.Popen([str(Path(sys.executable).with_name("connmodel")), "demo-server",
                             "--port", str(port)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                break
        time.sleep(0.1)
    yield f"http://127.0.0.1:{port}/mcp"
    proc.terminate()
    proc.wait(10)


def test_check_all_reconfigure_and_escaping(page: Page, demo_dashboard, calculator_url):
    url = demo_dashboard.database_url
    with session(url) as s:
        register_server(s, actor=ADMIN, name="Local Calculator", url=calculator_url,
                        profile="Noauth")
        register_server(s, actor=ADMIN, name="Odd URL", url=ODD_URL, profile="Noauth")
        hubspot = list_connections(s, actor=ADMIN, where=ConnectionFilter(profile="Hubspot"))
        revoke_connection(s, actor=ADMIN, connection_id=hubspot.items[0].id)
    get_engine(url).dispose()

    page.goto(demo_dashboard.page_url("?page=servers"))
    expect(page.get_by_role("heading", name="My Servers")).to_be_visible()
    local = page.locator('div[data-server="Local Calculator"]')
    expect(local).to_contain_text("never checked")
    crm = page.locator('div[data-server="Hubspot CRM"]')
    expect(crm).to_contain_text("disconnected")
    expect(crm).to_contain_text("revoked by tester; reconfigure to reconnect")

    page.get_by_role("button", name="Check all").click()
    # the servers not reached are counted: their connections keep their status (Odd URL's)
    expect(page.locator(".toast", has_text=re.compile(
        r"checked \d+ connections on \d+ servers: \d+ in Error, \d+ Inactive, [1-9]\d* servers? not reached"
    ))).to_be_visible(timeout=30_000)
    expect(local).to_contain_text(re.compile(r"2 tools in \d+ ms"))
    expect(page.locator('div[data-server="Odd URL"]')).to_contain_text(
        "unreachable: connection refused")
    expect(page.locator('div[data-server="Gsuite"]')).to_contain_text(
        "error: no access token stored: re-authorize")

    page.get_by_role("button", name="Reconfigure Hubspot CRM").click()
    expect(page.get_by_text("Reconfigure Hubspot CRM to use:")).to_be_visible()
    page.get_by_label("New profile").select_option("Noauth")
    page.get_by_role("button", name="Reconfigure server").click()
    expect(page.locator(".toast",
                        has_text="Hubspot CRM now uses profile Noauth and is connected")).to_be_visible()
    expect(crm).to_contain_text("profile Noauth")
    expect(crm).to_contain_text("connected")

    page.goto(demo_dashboard.page_url("?page=servers&q=local"))
    expect(page.locator("div[data-server]")).to_have_count(1)
    page.goto(demo_dashboard.page_url("?page=servers&q=odd"))
    odd = page.locator('div[data-server="Odd URL"]')
    expect(odd).to_contain_text(ODD_URL)
    expect(odd.locator("img")).to_have_count(0)


def test_each_rows_buttons_name_their_server(page: Page, demo_dashboard):
    page.goto(demo_dashboard.page_url("?page=servers"))
    expect(page.get_by_role("heading", name="My Servers")).to_be_visible()
    for server in ("Drive", "Calculator", "Hubspot CRM"):
        expect(page.get_by_role("button", name=f"Check {server}", exact=True)).to_be_visible()
        expect(page.get_by_role("button", name=f"Reconfigure {server}", exact=True)).to_be_visible()
    names = [b.get_attribute("aria-label")
             for b in page.get_by_role("button", name=re.compile(r"^Check (?!all$)")).all()]
    assert len(names) == len(set(names)) >= 8, names
    page.get_by_role("button", name="Reconfigure Drive", exact=True).click()
    expect(page.get_by_text("Reconfigure Drive to use:")).to_be_visible()
    page.keyboard.press("Escape")  # a modal dialog: the rows behind it wait
    page.get_by_role("button", name="Check Drive", exact=True).click()
    expect(page.locator('div[data-server="Drive"]')).to_contain_text(
        re.compile(r"checked \d{4}-\d\d-\d\d"), timeout=15_000)
