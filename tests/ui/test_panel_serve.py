"""`panel serve dashboard/app.py`, as a Panel user starts it, in Chromium: both ways.

Bare, it has no sign-in page, so the console says in one line which command serves one (and
links nowhere); with `--auth-module dashboard/auth.py` it signs people in like serve.py does.
"""

import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.ui
EXPECT_TIMEOUT_MS = 15_000


def test_bare_panel_serve_names_the_command_and_links_nowhere(page: Page, tmp_path, panel_serve):
    server, base = panel_serve(tmp_path)
    with server:
        page.goto(f"{base}/app")
        expect(page.get_by_role("heading", name="Sign-in is not set up")).to_be_visible()
        expect(page.get_by_text("python dashboard/serve.py")).to_be_visible()
        expect(page.get_by_role("link", name="Sign in")).to_have_count(0)
        expect(page.locator("a[href='/login']")).to_have_count(0)


def test_panel_serve_with_the_auth_module_signs_in(page: Page, tmp_path, panel_serve):
    server, base = panel_serve(tmp_path, "--auth-module", "dashboard/auth.py")
    with server:
        page.goto(f"{base}/app")
        expect(page).to_have_url(f"{base}/login?next=%2Fapp")
        page.get_by_label("User name").fill("ann")
        page.get_by_label("Password").fill(panel_serve.password)
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_role("heading", name="Connections", exact=True)).to_be_visible()
        expect(page.get_by_text("Signed in as ann (admin)")).to_be_visible()
