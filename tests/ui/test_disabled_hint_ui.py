"""In Chromium: a disabled connection's hint says Enable, an expired one keeps the seed's advice.

Both are Inactive. The card row and the View dialog show the hint the connection's disabled
marker calls for; disabling and enabling in View switch it.
"""

import pytest
from playwright.sync_api import Page, expect

from connmodel.services.connections import ConnectionFilter, list_connections
from connmodel.status import disabled_hint
from connmodel.store import session

pytestmark = pytest.mark.ui
SEED_INACTIVE = "Token may have expired, re-authorize"


def card(page: Page, profile: str):
    return page.locator(f'section[aria-label="Profile {profile}"]')


def _hint(demo_dashboard, profile: str) -> str:
    """The disabled hint, with the id of the profile's connection."""
    from connmodel.permissions import SYSTEM

    with session(demo_dashboard.database_url) as s:
        [conn] = list_connections(s, actor=SYSTEM, where=ConnectionFilter(profile=profile)).items
    return disabled_hint(conn.id)


def test_disable_and_enable_in_view_switch_the_hint(page: Page, demo_dashboard):
    page.goto(demo_dashboard.page_url())
    DEV_HINT, HUB_HINT = _hint(demo_dashboard, "Google Dev"), _hint(demo_dashboard, "Hubspot")
    expect(card(page, "Hubspot Sandbox").locator(".hint")).to_have_text(SEED_INACTIVE)  # expired
    expect(card(page, "Google Dev").locator(".hint")).to_have_text(DEV_HINT)  # demo: disabled
    hubspot = card(page, "Hubspot")
    expect(hubspot.locator(".hint")).to_have_count(0)  # Active: no hint

    page.get_by_role("button", name="View Hubspot connection").click()
    page.get_by_role("button", name="Disable").click()
    expect(page.locator(".detail .note")).to_have_text(HUB_HINT)
    expect(hubspot.locator(".hint")).to_have_text(HUB_HINT)
    expect(page.locator(".hint", has_text=SEED_INACTIVE)).to_have_count(1)  # Hubspot Sandbox

    page.get_by_role("button", name="Enable").click()
    expect(page.get_by_role("button", name="Disable")).to_be_visible()
    expect(page.locator(".detail .note")).to_have_count(0)
    expect(hubspot.locator(".hint")).to_have_count(0)
