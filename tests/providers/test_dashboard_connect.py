"""New profile and OAuth2 Connect in the dashboard, in Chromium, against the local authlib server.

The served dashboard (sign-in off, loopback) creates an OAuth2 profile from the issuer URL,
sends the browser to the server's consent page, and after Approve the callback on the
dashboard's own URL connects it: the card shows the account and Active. An API-key profile
made in the same dialog shows only the key's mask in View, and the key never reaches the page.
"""

import importlib.util
import re
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from authserver import CLIENT_ID, CLIENT_SECRET, USER_EMAIL
from playwright.sync_api import Locator, Page, expect

from connmodel.models import McpServer, ProviderConfig
from connmodel.store import session

_spec = importlib.util.spec_from_file_location(
    "ui_dashboard_fixtures", Path(__file__).resolve().parents[1] / "ui" / "conftest.py")
assert _spec is not None and _spec.loader is not None
ui = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(ui)

DOCS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
API_KEY = "sk-live-secret-00c0ffee7f3a"
HOSTILE = "<img src=x onerror=alert(1)>"


def card(page: Page, profile: str):
    return page.locator(f'section[aria-label="Profile {profile}"]')


def fill_oauth(page: Page, issuer: str) -> None:
    page.get_by_placeholder("client id from the provider").fill(CLIENT_ID)
    page.get_by_placeholder("empty for a public client").fill(CLIENT_SECRET)
    page.get_by_placeholder("https://accounts.example.com").fill(issuer)


def outside(page: Page, dialog: Locator) -> list[str]:
    """What of the dialog does not fit the window's width: its box, a horizontal scroll inside
    it, or a visible control (scrolled to) that sticks out."""
    width = page.viewport_size["width"] if page.viewport_size else 0
    box = dialog.bounding_box()
    cut = [f"dialog: {box}"] if box is None or box["x"] < 0 or box["x"] + box["width"] > width \
        else []
    if dialog.evaluate("el => el.scrollWidth > el.clientWidth"):
        cut.append("the dialog scrolls sideways")
    for control in dialog.locator("input:visible, select:visible, button:visible").all():
        control.scroll_into_view_if_needed()
        box = control.bounding_box()
        if box is None or box["x"] < 0 or box["x"] + box["width"] > width:
            cut.append(f"{control.get_attribute('placeholder') or control.inner_text()}: {box}")
    return cut


def frames_from_server(page: Page) -> list[str]:
    """Every websocket message the dashboard sends to this browser, across navigations."""
    frames: list[str] = []
    page.on("websocket", lambda ws: ws.on("framereceived", lambda f: frames.append(str(f))))
    return frames


def new_profile(page: Page, name: str, kind: str) -> None:
    page.get_by_role("button", name="New profile").click()
    page.get_by_placeholder("e.g. Drive").fill(name)
    page.locator("select:has(option:text-is('API key'))").select_option(kind)


@pytest.mark.ui
@pytest.mark.screenshots
def test_new_oauth_profile_connects_through_consent_and_callback(page: Page, tmp_path, authserver,
                                                                request):
    """Screenshots go to docs/screenshots/ with `-m screenshots` (make screenshots), else tmp."""
    shots = DOCS if "screenshots" in (request.config.getoption("-m") or "") else tmp_path
    frames = frames_from_server(page)
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    with ui.start_dashboard(tmp_path, demo=False) as served:
        page.goto(served.page_url("?page=connections"))
        new_profile(page, "Local", "OAuth2 (browser sign-in)")
        fill_oauth(page, authserver.url)
        page.set_viewport_size({"width": 1280, "height": 1000})
        page.get_by_role("heading", name="New profile").scroll_into_view_if_needed()
        page.wait_for_timeout(400)  # the dialog's fade-in
        shots.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(shots / "new-profile.png"))
        page.get_by_role("button", name="Create and connect").click()

        page.get_by_role("button", name="Approve").click()
        expect(page.get_by_text(f"Connected as {USER_EMAIL} (Active)")).to_be_visible()
        row = card(page, "Local").locator("tbody tr")
        expect(row).to_have_count(1)
        expect(row.locator("td").nth(2)).to_have_text(USER_EMAIL)
        expect(row.locator("td").nth(3)).to_have_text("Active")
        expect(page).not_to_have_url(re.compile(r"code=|state="))

        # Re-authorize from View runs the flow again for the same connection.
        row.get_by_role("button", name=re.compile("^View")).click()
        page.get_by_role("button", name="Re-authorize").click()
        page.get_by_role("button", name="Approve").click()
        expect(page.get_by_text(f"Connected as {USER_EMAIL} (Active)")).to_be_visible()
        expect(card(page, "Local").locator("tbody tr")).to_have_count(1)

        # Refused at the consent page, with a hostile description: shown as text, no connection.
        new_profile(page, "Denied", "OAuth2 (browser sign-in)")
        fill_oauth(page, authserver.url)
        page.get_by_role("button", name="Create and connect").click()
        expect(page.get_by_role("button", name="Deny")).to_be_visible()
        state = parse_qs(urlsplit(page.url).query)["state"][0]
        page.goto(served.page_url("?" + urlencode({
            "page": "connections", "oauth": "callback", "state": state,
            "error": "access_denied", "error_description": HOSTILE})))
        expect(page.get_by_text(f"Not connected: authorization refused by the provider: "
                                f"access_denied: {HOSTILE}")).to_be_visible()
        expect(card(page, "Denied")).to_contain_text("No live connections in this profile.")
        assert dialogs == []

        new_profile(page, "Keyed", "API key")
        page.get_by_placeholder("never shown again").fill(API_KEY)
        page.get_by_role("button", name="Create and connect").click()
        row = card(page, "Keyed").locator("tbody tr")
        expect(row.locator("td").nth(3)).to_have_text("Active")
        row.get_by_role("button", name=re.compile("^View")).click()
        expect(page.get_by_text("••••7f3a")).to_be_visible()
        page.get_by_role("button", name="Disable").click()
        # the outcome and the status reason, in View (the card's row says it too once the
        # process's change watcher has caught up: a matter of timing, not counted)
        expect(page.get_by_role("dialog").get_by_text("disabled by")).to_have_count(2)
        page.wait_for_timeout(400)  # the dialog's fade-in after the detail is re-read
        page.screenshot(path=str(shots / "view-actions.png"))
        page.get_by_role("button", name="Enable").click()
        expect(page.get_by_role("button", name="Disable")).to_be_visible()
    assert any(USER_EMAIL in f for f in frames)  # the frames do carry what the page shows
    assert not [f for f in frames if API_KEY in f or CLIENT_SECRET in f]


@pytest.mark.ui
def test_new_profile_reuses_a_config_and_connects_chosen_servers_at_390px(page: Page, tmp_path):
    """A phone-sized window: every field and button of the dialog fits; the choices list the
    existing provider configs and servers, markup names as text; choosing an API-key config
    asks for its key only, and the chosen servers are connected to the new profile."""
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.set_viewport_size({"width": 390, "height": 844})
    with ui.start_dashboard(tmp_path) as served:
        with session(served.database_url) as s:  # names from before the services refused markup
            s.add(ProviderConfig(name=HOSTILE, kind="none"))
            s.add(McpServer(name=HOSTILE, url="http://127.0.0.1:9/x", transport="streamable-http",
                            state="disconnected"))
            s.commit()
        page.goto(served.page_url("?page=connections"))
        page.get_by_role("button", name="New profile").click()
        dialog = page.get_by_role("dialog", name="New profile")
        configs = dialog.get_by_label("Provider config (a new one, or reuse one)")
        servers = dialog.get_by_label("MCP servers to connect (optional; Ctrl/⌘-click for several)")
        expect(configs.locator("option")).to_have_text([
            "— new provider config —", f"{HOSTILE} (no authentication)",
            "API Key Authentication Provider (API key)", "GitHub OAuth2 Provider (OAuth2)",
            "Google OAuth2 Provider (OAuth2)", "No Authentication Provider (no authentication)"])
        expect(servers.locator("option")).to_have_text([
            HOSTILE, "Calculator", "Calendar", "Drive", "GitHub Issues", "Gsuite", "Hubspot CRM",
            "Hubspot Sandbox CRM"])
        expect(dialog.locator("img")).to_have_count(0)
        page.locator("select:has(option:text-is('API key'))").select_option(
            "OAuth2 (browser sign-in)")  # the longest form
        expect(dialog.get_by_placeholder("client id from the provider")).to_be_visible()
        assert outside(page, dialog) == []
        assert page.evaluate("document.documentElement.scrollWidth") <= 390

        page.get_by_placeholder("e.g. Drive").fill("Shared CRM")
        configs.select_option("API Key Authentication Provider (API key)")
        expect(dialog.get_by_placeholder("never shown again")).to_be_visible()
        expect(dialog.get_by_placeholder("client id from the provider")).to_be_hidden()
        expect(dialog.get_by_text("Authentication", exact=True)).to_be_hidden()
        expect(dialog.get_by_label("New provider config name")).to_be_hidden()
        dialog.get_by_placeholder("never shown again").fill(API_KEY)
        servers.select_option(["Calculator", HOSTILE])
        assert outside(page, dialog) == []
        dialog.get_by_role("button", name="Create and connect").click()
        expect(page.get_by_text("Profile Shared CRM connected: Configured (Active).")).to_be_visible()
        row = card(page, "Shared CRM").locator("tbody tr")
        row.get_by_role("button", name=re.compile("^View")).click()
        view = page.get_by_role("dialog")
        expect(view.get_by_text("API Key Authentication Provider").first).to_be_visible()
        expect(view.get_by_text(f"{HOSTILE} (connected)")).to_be_visible()
        expect(view.get_by_text("Calculator (connected)")).to_be_visible()
        expect(view.locator("img")).to_have_count(0)
    assert dialogs == []
