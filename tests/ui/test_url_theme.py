"""A `?theme=` Panel does not know (a shared or hand-typed URL) must not break the page."""

import pytest
from playwright.sync_api import Page, expect
from test_connections_page import card

pytestmark = pytest.mark.ui


@pytest.mark.parametrize("theme", ["light", "DARK"])
def test_an_unknown_theme_in_the_url_shows_the_page_in_the_default_theme(
        page: Page, demo_dashboard, theme):
    """Panel's template looked `?theme=light` up in its themes and raised: a blank page
    titled "Bokeh Application", and a KeyError in the server's log."""
    page.goto(demo_dashboard.page_url(f"?page=connections&theme={theme}"))
    expect(page.get_by_role("heading", name="Connections", exact=True)).to_be_visible()
    expect(card(page, "Noauth")).to_be_visible()
    expect(page.locator("html")).not_to_have_attribute("data-theme", "dark")
