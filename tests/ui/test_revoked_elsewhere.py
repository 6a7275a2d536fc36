"""What is open on a page follows a revoke made elsewhere (another tab, the CLI): the View dialog
and the API tokens page's Revoke question show the store as it is now, not as it was read."""

import pytest
from playwright.sync_api import Page, expect
from test_connections_page import card, open_connections

from connmodel.permissions import Actor, Role
from connmodel.services.tokens import add_token, revoke_token
from connmodel.store import get_engine, session

pytestmark = pytest.mark.ui
ADMIN = Actor("tester", Role.ADMIN)


def test_an_open_view_follows_a_revoke_in_another_tab(page: Page, demo_dashboard):
    open_connections(page, demo_dashboard.page_url())
    page.get_by_role("button", name="View Google connection").click()
    dialog = page.get_by_role("dialog", name="Google connection (user@example.com)")
    expect(dialog.get_by_text("Active", exact=True)).to_be_visible()
    expect(dialog.get_by_role("button", name="Disable")).to_be_visible()

    other = page.context.new_page()
    open_connections(other, demo_dashboard.page_url())
    other.get_by_role("button", name="Revoke Google connection").click()
    other.get_by_role("button", name="Confirm revoke").click()
    expect(card(other, "Google").locator("tbody tr")).to_have_count(0)
    other.close()

    expect(dialog).to_contain_text("This connection was revoked", timeout=5000)
    expect(dialog.get_by_text("Active", exact=True)).to_be_hidden()
    for action in ("Disable", "Re-authorize", "Refresh now"):
        expect(dialog.get_by_role("button", name=action)).to_be_hidden()
    dialog.get_by_role("button", name="Close").click()
    expect(card(page, "Google").locator("tbody tr")).to_have_count(0)


def test_the_tokens_page_follows_a_revoke_made_elsewhere(page: Page, demo_dashboard):
    url = demo_dashboard.database_url
    with session(url) as s:
        for name in ("reporting", "deployer"):
            add_token(s, actor=ADMIN, name=name, scope="read")
    get_engine(url).dispose()
    page.goto(demo_dashboard.page_url("?page=tokens"))
    table = page.get_by_role("table", name="API tokens")
    expect(table).to_contain_text("deployer")
    page.get_by_role("combobox", name="Token").select_option("deployer")
    page.get_by_role("button", name="Revoke token").click()
    expect(page.get_by_role("button", name="Confirm revoke")).to_be_visible()

    with session(url) as s:  # as `connmodel token revoke deployer` does
        revoke_token(s, actor=ADMIN, name="deployer")
    get_engine(url).dispose()

    expect(table).not_to_contain_text("deployer", timeout=5000)
    expect(page.get_by_role("button", name="Confirm revoke")).to_be_hidden()
    expect(page.get_by_role("status").filter(has_text="deployer")).to_have_text(
        "API token deployer was revoked elsewhere meanwhile: nothing to confirm.")
    expect(page.get_by_role("combobox", name="Token").locator("option")).to_have_text(
        ["", "reporting"])
