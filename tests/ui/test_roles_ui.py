"""Roles in Chromium: a viewer signed in through dashboard/serve.py sees no write action; an admin does.

One local-mode server per module (tests/ui/conftest.py's `start_dashboard`) over the demo data,
with an admin and viewers created by `connmodel.services.users.add_user`. The services refuse a viewer anyway (tests/dashboard).
"""

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect
from sqlmodel import select

from connmodel.models import AuditEvent, Connection
from connmodel.permissions import Actor
from connmodel.services import users
from connmodel.store import get_engine, session

pytestmark = pytest.mark.ui
ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "correct horse battery staple"
VIEWER = "vic&lt;b&gt;"  # escaped, it shows as typed; unescaped it would read "vic<b>"


@pytest.fixture(scope="module")
def local_server(tmp_path_factory, serve_dashboard) -> Iterator[Any]:
    """The demo served as `make run` does, with users ann (admin), VIEWER and victor (viewers)."""
    with serve_dashboard(tmp_path_factory.mktemp("roles"), local_users=True) as served:
        with session(served.database_url) as s:
            for name, role in (("ann", "admin"), (VIEWER, "viewer"), ("victor", "viewer")):
                users.add_user(s, actor=Actor("setup"), name=name, role=role, password=PASSWORD)
        get_engine(served.database_url).dispose()
        yield served


def sign_in(page: Page, served: Any, name: str) -> None:
    base = served.url
    page.goto(base + "/login")
    page.get_by_label("User name").fill(name)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(base + "/")
    expect(page.get_by_role("heading", name="Connections", exact=True)).to_be_visible()
    expect(page.locator("section.card").first).to_be_visible()


def test_viewer_sees_no_write_action(page: Page, local_server):
    sign_in(page, local_server, VIEWER)
    header = page.locator(".signed-in")
    expect(header).to_have_text(f"Signed in as {VIEWER} (viewer) Sign out")
    expect(page.get_by_role("button", name="View Hubspot connection (Configured)")).to_be_visible()
    expect(page.get_by_role("button", name="Revoke Hubspot connection (Configured)")).to_have_count(0)
    expect(page.get_by_role("button", name="Revoke", exact=False)).to_have_count(0)
    expect(page.get_by_role("checkbox")).to_have_count(0)
    expect(page.get_by_role("button", name="New profile")).to_have_count(0)
    header.get_by_role("link", name="Sign out").click()
    page.wait_for_url("**/login**")


def test_admin_sees_revoke_and_selection(page: Page, local_server):
    sign_in(page, local_server, "ann")
    expect(page.locator(".signed-in")).to_have_text("Signed in as ann (admin) Sign out")
    expect(page.get_by_role("button", name="Revoke Hubspot connection (Configured)")).to_be_visible()
    expect(page.get_by_role("checkbox", name="Select Hubspot connection (Configured)")).to_be_visible()


REPLAY_REVOKE = """(id) => {
  const seen = new Set()
  const find = (v) => {
    if (!v || seen.has(v)) return null
    seen.add(v)
    if (v.model_proxy && v.model && v.model.data && 'cards' in v.model.data) return v
    for (const c of (typeof v.children === 'function' ? v.children() : [])) {
      const hit = find(c)
      if (hit) return hit
    }
    return null
  }
  const roots = Bokeh.index.roots || Object.values(Bokeh.index)
  for (const root of roots) {
    const cards = find(root)
    if (cards) { cards.model_proxy.send_msg({action: 'revoke', id}); return true }
  }
  return false
}"""


def test_viewer_replaying_the_hidden_revoke_is_refused_and_audited(page: Page, local_server):
    with session(local_server.database_url) as s:
        target = s.exec(select(Connection).order_by(Connection.id)).first()
    get_engine(local_server.database_url).dispose()
    sign_in(page, local_server, "victor")
    assert page.evaluate(REPLAY_REVOKE, target.id)  # the message the hidden button would send
    page.get_by_role("button", name="Confirm revoke").click()
    expect(page.locator(".toast")).to_contain_text("victor (viewer) may not write")
    with session(local_server.database_url) as s:
        assert s.get(Connection, target.id).revoked_at is None
        denied = s.exec(select(AuditEvent).where(AuditEvent.action == "denied")).all()
        assert [(e.actor, e.target) for e in denied] == [("victor", "revoke_connection")]
    get_engine(local_server.database_url).dispose()


def root_ids(html: str) -> list[str]:
    """The document roots a page's HTML places (BokehJS fills them by position)."""
    found = re.search(r'"root_ids":(\[[^\]]*\])', html)
    assert found, html[:500]
    return list(json.loads(found.group(1)))


def test_a_kept_sessions_html_serves_each_visitor_their_own_page(browser, local_server):
    """The page's HTML comes from a session the server keeps (dashboard.first_screen: the same
    roots in every answer; the old code built a new session, new roots, for each), while each
    visitor's page is their own: their name, their role's buttons, their theme."""
    url = local_server.url + "/app"
    ann, victor = browser.new_context(), browser.new_context()
    ann_page, victor_page = ann.new_page(), victor.new_page()
    sign_in(victor_page, local_server, "victor")
    sign_in(ann_page, local_server, "ann")
    kept = root_ids(victor.request.get(url).text())
    assert root_ids(ann.request.get(url).text()) == kept
    assert root_ids(victor.request.get(url).text()) == kept
    dark = ann.request.get(url + "?theme=dark").text()
    assert root_ids(dark) != kept and "theme/dark.css" in dark  # a kept page per theme
    assert "theme/dark.css" not in ann.request.get(url).text()

    outside: list[str] = []
    ann_page.on("request", lambda r: outside.append(r.url)
                if not r.url.startswith((local_server.url, "data:", "blob:")) else None)
    bundles: list[str] = []  # the components' one module (dashboard/components/base.py)
    ann_page.on("request", lambda r: bundles.append(r.url)
                if r.url.endswith("/components.bundle.js") else None)
    for page, name, role in ((ann_page, "ann", "admin"), (victor_page, "victor", "viewer")):
        page.goto(url)
        expect(page.locator(".signed-in")).to_have_text(f"Signed in as {name} ({role}) Sign out")
        revoke = page.get_by_role("button", name="Revoke Hubspot connection (Configured)")
        expect(revoke).to_have_count(1 if role == "admin" else 0)
    # Everything the page loads comes from the console itself: the design's stylesheets (not
    # Panel's CDN), its font (not Google Fonts), its icons (not jsDelivr).
    assert outside == []
    assert len(bundles) == 1, bundles  # one module for every component of ann's page
    ann.close()
    victor.close()


@pytest.mark.screenshots
def test_screenshots_viewer_and_activity(page: Page, local_server, request):
    """`make screenshots`: the viewer's Connections page and Activity (docs/screenshots/)."""
    if "screenshots" not in (request.config.getoption("-m") or ""):
        pytest.skip("writes docs/screenshots/: run with -m screenshots (make screenshots)")
    out = ROOT / "docs" / "screenshots"
    page.set_viewport_size({"width": 1280, "height": 900})
    sign_in(page, local_server, "victor")
    page.get_by_role("button", name="Gateway").click()
    page.wait_for_timeout(800)
    page.screenshot(path=str(out / "viewer.png"))
    page.get_by_role("button", name="Activity").click()
    expect(page.locator("table.activity")).to_contain_text("user.add")
    page.wait_for_timeout(800)
    page.screenshot(path=str(out / "activity.png"))


@pytest.mark.parametrize("how", ["sign-out", "demotion", "disable"])
def test_an_open_page_cannot_write_once_its_sign_in_ends(browser, local_server, how):
    """Issue 16: the page's actor was fixed when it opened, so it kept an admin's power after a
    second tab signed out (or the admin was demoted or disabled) and audited the revocation
    under the signed-out name. The first page is open in one browser context; the sign-out
    happens in a second context carrying the same cookie, as another tab of that browser."""
    name = f"ann-{how}"
    with session(local_server.database_url) as s:
        users.add_user(s, actor=Actor("setup"), name=name, role="admin", password=PASSWORD)
    first = browser.new_context()
    second = browser.new_context()
    try:
        page = first.new_page()
        sign_in(page, local_server, name)
        revoke = page.get_by_role("button", name="Revoke Hubspot connection (Configured)")
        expect(revoke).to_be_visible()
        if how == "sign-out":
            second.add_cookies(first.cookies())
            tab = second.new_page()
            tab.goto(local_server.url + "/logout")
            tab.wait_for_url("**/login**")
            refusal = f"{name} is no longer signed in"
        else:
            with session(local_server.database_url) as s:
                if how == "demotion":
                    users.set_role(s, actor=Actor("setup"), name=name, role="viewer")
                    refusal = f"{name} is now a viewer"
                else:
                    users.set_disabled(s, actor=Actor("setup"), name=name)
                    refusal = f"{name} is no longer signed in"
        revoke.click()
        page.get_by_role("button", name="Confirm revoke").click()
        expect(page.locator(".toast")).to_contain_text(refusal)
        banner = page.locator(".box.warning").filter(has_text=refusal)
        expect(banner).to_contain_text("nothing was changed; sign in again")
        expect(banner.get_by_role("link", name="Sign in")).to_have_attribute("href", "/login")
    finally:
        first.close()
        second.close()
    with session(local_server.database_url) as s:
        assert s.exec(select(Connection).where(Connection.revoked_at.is_not(None))).all() == []
        denied = s.exec(select(AuditEvent).where(AuditEvent.action == "denied",
                                                 AuditEvent.actor == name)).all()
        assert [(e.target, e.outcome.startswith(f"refused: {refusal}")) for e in denied] == [
            ("revoke_connection", True)]
    get_engine(local_server.database_url).dispose()


def test_my_servers_writes_after_sign_out_show_the_banner_and_change_nothing(browser,
                                                                             local_server):
    """Issue 16 on My Servers: its Check ran through the check runner, not `Backend.call`, so a
    refusal after sign-out was only a 'check failed' toast and the page never said the sign-in
    had ended. Check, Reconfigure and Add server after a sign-out in a second context: each is
    refused and audited as denied, the banner offers sign-in, nothing changed."""
    from connmodel.models import CheckResult, McpServer

    name = "ann-servers"
    with session(local_server.database_url) as s:
        users.add_user(s, actor=Actor("setup"), name=name, role="admin", password=PASSWORD)
        before = s.exec(select(McpServer.name, McpServer.profile_id, McpServer.state)
                        .order_by(McpServer.name)).all()
        checks = len(s.exec(select(CheckResult.id)).all())
    first, second = browser.new_context(), browser.new_context()
    try:
        page = first.new_page()
        sign_in(page, local_server, name)
        page.goto(local_server.url + "/?page=servers")
        expect(page.get_by_role("heading", name="My Servers")).to_be_visible()
        calculator = page.locator('div[data-server="Calculator"]')
        expect(calculator.get_by_role("button", name="Check Calculator")).to_be_enabled()
        second.add_cookies(first.cookies())
        tab = second.new_page()
        tab.goto(local_server.url + "/logout")
        tab.wait_for_url("**/login**")

        refusal = f"{name} is no longer signed in"
        calculator.get_by_role("button", name="Check Calculator").click()
        banner = page.locator(".box.warning").filter(has_text=refusal)
        expect(banner).to_contain_text("nothing was changed; sign in again")
        expect(banner.get_by_role("link", name="Sign in")).to_have_attribute("href", "/login")

        form = page.get_by_text("Reconfigure Calculator to use:")
        for _ in range(5):  # a click can land while the rows are redrawn by a change
            calculator.get_by_role("button", name="Reconfigure Calculator").click()
            try:
                expect(form).to_be_visible(timeout=3000)
                break
            except AssertionError:
                continue
        expect(form).to_be_visible()
        page.get_by_label("New profile").select_option("Hubspot")
        page.get_by_role("button", name="Reconfigure server").click()
        expect(page.locator(".toast", has_text=f"cannot reconfigure Calculator: {refusal}")
               ).to_be_visible()
        page.get_by_role("dialog").get_by_role("button", name="Cancel").click()  # refused: open
        page.locator("button.card-header", has_text="Add server").click()
        page.get_by_label("Server name").fill("Sneaky")
        page.get_by_label("URL", exact=True).fill("http://127.0.0.1:9/mcp")
        page.locator("button.bk-btn", has_text="Add server").click()
        expect(page.locator(".toast", has_text=f"cannot add the server: {refusal}")
               ).to_be_visible()
        expect(banner).to_be_visible()
    finally:
        first.close()
        second.close()
    with session(local_server.database_url) as s:
        after = s.exec(select(McpServer.name, McpServer.profile_id, McpServer.state)
                       .order_by(McpServer.name)).all()
        assert (after, len(s.exec(select(CheckResult.id)).all())) == (before, checks)
        denied = s.exec(select(AuditEvent).where(AuditEvent.action == "denied",
                                                 AuditEvent.actor == name)).all()
        assert sorted(e.target for e in denied) == [
            "add_server", "check_connections", "reconfigure_server"]
        assert all(e.outcome.startswith(f"refused: {refusal}") for e in denied)
    get_engine(local_server.database_url).dispose()
