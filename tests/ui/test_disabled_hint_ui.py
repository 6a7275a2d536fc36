"""In Chromium: a disabled connection's hint says Enable, an expired one keeps the seed's advice.

Both are Inactive. The card row and the View dialog show the hint the connection's disabled
marker calls for; disabling and enabling in View switch it.
"""

import pytest
from playwright.sync_api import Page, expect

from connmodel.status import DISABLED_HINT

pytestmark = pytest.mark.ui
SEED_INACTIVE = "Token may have expired, re-authorize"


def card(page: Page, profile: str):
    return page.locator(f'section[aria-label="Profile {profile}"]')


def test_disable_and_enable_in_view_switch_the_hint(page: Page, demo_dashboard):
    page.goto(demo_dashboard.page_url())
    expect(card(page, "Hubspot Sandbox").locator(".hint")).to_have_text(SEED_INACTIVE)  # expired
    expect(card(page, "Google Dev").locator(".hint")).to_have_text(DISABLED_HINT)  # demo: disabled
    hubspot = card(page, "Hubspot")
    expect(hubspot.locator(".hint")).to_have_count(0)  # Active: no hint

    page.get_by_role("button", name="View Hubspot connection").click()
    page.get_by_role("button", name="Disable").click()
    expect(page.locator(".detail .note")).to_have_text(DISABLED_HINT)
    expect(hubspot.locator(".hint")).to_have_text(DISABLED_HINT)
    expect(page.locator(".hint", has_text=SEED_INACTIVE)).to_have_count(1)  # Hubspot Sandbox

    page.get_by_role("button", name="Enable").click()
    expect(page.get_by_role("button", name="Disable")).to_be_visible()
    expect(page.locator(".detail .note")).to_have_count(0)
    expect(hubspot.locator(".hint")).to_have_count(0)
