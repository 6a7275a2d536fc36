"""`make screenshots`: PNGs of each state of the Connections, My Servers and API tokens pages for
the docs.

Runs only when selected with `-m screenshots` (it writes into docs/screenshots/).
"""

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

# Skipped at collection unless selected, so no server is started for nothing.
pytestmark = [
    pytest.mark.ui, pytest.mark.screenshots,
    pytest.mark.skipif("'screenshots' not in (config.getoption('-m') or '')",
                       reason="writes docs/screenshots/: run with -m screenshots (make screenshots)"),
]
OUT = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


@pytest.fixture
def shot(page: Page):
    page.set_viewport_size({"width": 1280, "height": 900})
    OUT.mkdir(parents=True, exist_ok=True)

    def take(name: str) -> Path:
        path = OUT / f"{name}.png"
        page.wait_for_timeout(1200)  # let dialogs finish their opening animation
        page.screenshot(path=str(path))
        return path

    return take


@pytest.fixture(scope="module")
def seeded(tmp_path_factory, serve_dashboard):
    with serve_dashboard(tmp_path_factory.mktemp("shots")) as dashboard:
        yield dashboard


def test_overview_filtered_view_revoke(page: Page, seeded, shot):
    page.goto(seeded.page_url("?page=connections"))
    page.get_by_role("button", name="Gateway").click()
    expect(page.locator('section[aria-label="Profile Noauth"]')).to_be_visible()
    shot("overview")
    page.goto(seeded.page_url("?page=connections&status=Error"))
    expect(page.locator('section[aria-label="Profile GitHub Staging"]')).to_be_visible()
    shot("filtered")
    page.goto(seeded.page_url("?page=connections"))
    page.get_by_role("button", name="View Google connection").click()
    expect(page.locator(".detail")).to_contain_text("Gsuite")
    shot("view")
    page.goto(seeded.page_url("?page=connections"))
    page.get_by_role("button", name="Revoke Hubspot connection").click()
    expect(page.get_by_text("Hubspot CRM")).to_be_visible()
    shot("revoke-confirmation")
    page.goto(seeded.page_url("?page=servers"))
    expect(page.get_by_role("heading", name="My Servers")).to_be_visible()
    expect(page.get_by_text("Calculator").first).to_be_visible()
    shot("servers")


@pytest.mark.parametrize(("suffix", "query", "size"), [
    ("dark", "&theme=dark", (1280, 900)), ("narrow", "&theme=default", (390, 844))])
def test_dark_and_narrow(page: Page, seeded, shot, suffix, query, size):
    """Connections, View and My Servers in the dark theme, and in a phone-wide window."""
    page.goto(seeded.page_url(f"?page=connections{query}"))
    page.set_viewport_size({"width": size[0], "height": size[1]})
    expect(page.locator('section[aria-label="Profile Noauth"]')).to_be_visible()
    shot(f"overview-{suffix}")
    page.get_by_role("button", name="View Google connection").click()
    expect(page.locator(".detail")).to_contain_text("Gsuite")
    shot(f"view-{suffix}")
    page.goto(seeded.page_url(f"?page=servers{query}"))
    expect(page.get_by_role("heading", name="My Servers")).to_be_visible()
    expect(page.get_by_text("Calculator").first).to_be_visible()
    page.get_by_text(re.compile(r"^Showing \d+ of")).evaluate("(e) => e.scrollIntoView()")
    shot(f"servers-{suffix}")


def test_empty_and_error_states(page: Page, tmp_path, shot, serve_dashboard):
    with serve_dashboard(tmp_path, demo=False) as empty:
        page.goto(empty.page_url())
        expect(page.get_by_text("No profiles yet")).to_be_visible()
        shot("empty")
    missing = f"sqlite:///{tmp_path / 'no-such-folder' / 'connmodel.db'}"
    with serve_dashboard(tmp_path, demo=False, init=False, database_url=missing) as down:
        page.goto(down.page_url())
        expect(page.get_by_text("Cannot load connections.")).to_be_visible()
        shot("error")


def test_api_token_revoke_question(page: Page, seeded, shot):
    from connmodel.permissions import Actor, Role
    from connmodel.services.tokens import add_token
    from connmodel.store import get_engine, session

    with session(seeded.database_url) as s:
        for name, scope in (("gateway", "broker"), ("ci nightly", "read")):
            add_token(s, actor=Actor("ops", Role.ADMIN), name=name, scope=scope)
    get_engine(seeded.database_url).dispose()
    page.goto(seeded.page_url("?page=tokens"))
    page.get_by_role("combobox", name="Token").select_option("gateway")
    page.get_by_role("button", name="Revoke token").click()
    expect(page.get_by_role("button", name="Confirm revoke")).to_be_visible()
    shot("tokens-revoke")
