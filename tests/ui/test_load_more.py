"""A card with more rows than a page: "Load more" appends the next keyset page in place, and a
revoked row leaves in place: the card's other rows are not drawn anew (the focus stays)."""

import pytest
from playwright.sync_api import Page, expect
from sqlmodel import select

from connmodel.models import Connection, Profile
from connmodel.store import get_engine, session

pytestmark = pytest.mark.ui
# Marks a row's DOM node; a card drawn anew has new nodes, without the mark.
MARK = "(row) => { row.dataset.mark = 'kept' }"


def test_load_more_appends_the_next_page(page: Page, tmp_path, serve_dashboard):
    with serve_dashboard(tmp_path) as served:
        with session(served.database_url) as s:
            noauth = s.exec(select(Profile).where(Profile.name == "Noauth")).one()
            for i in range(23):
                s.add(Connection(profile_id=noauth.id, service="No Authentication Provider",
                                 account=f"bot{i:02d}@example.com"))
            s.commit()
        get_engine(served.database_url).dispose()
        page.goto(served.page_url())
        noauth_card = page.locator('section[aria-label="Profile Noauth"]')
        rows = noauth_card.locator("tbody tr")
        expect(rows).to_have_count(10)
        rows.first.evaluate(MARK)
        page.get_by_role("button", name="Load more connections of Noauth").click()
        expect(rows).to_have_count(20)
        expect(rows.first).to_have_attribute("data-mark", "kept")
        page.keyboard.press("Enter")  # the focus stayed on "Load more"
        expect(rows).to_have_count(24)
        expect(page.get_by_role("button", name="Load more connections of Noauth")).to_have_count(0)
        expect(noauth_card.locator(".counts")).to_contain_text("24 Active")

        noauth_card.get_by_role("button", name="Revoke Noauth connection (bot05@example.com)").click()
        page.get_by_role("dialog").get_by_role("button", name="Confirm revoke").click()
        expect(rows).to_have_count(23)
        expect(noauth_card.get_by_text("bot05@example.com")).to_have_count(0)
        expect(noauth_card.locator(".counts")).to_contain_text("23 Active")
        expect(rows.first).to_have_attribute("data-mark", "kept")  # not drawn anew

        page.get_by_role("checkbox", name="Select Noauth connection (bot22@example.com)").check()
        expect(page.get_by_role("button", name="Revoke selected (1)")).to_be_enabled()
