"""A card with more rows than a page: "Load more" appends the next keyset page in place."""

import pytest
from playwright.sync_api import Page, expect
from sqlmodel import select

from connmodel.models import Connection, Profile
from connmodel.store import get_engine, session

pytestmark = pytest.mark.ui


def test_load_more_appends_the_next_page(page: Page, tmp_path, serve_dashboard):
    with serve_dashboard(tmp_path) as served:
        with session(served.database_url) as s:
            noauth = s.exec(select(Profile).where(Profile.name == "Noauth")).one()
            for i in range(13):
                s.add(Connection(profile_id=noauth.id, service="No Authentication Provider",
                                 account=f"bot{i:02d}@example.com"))
            s.commit()
        get_engine(served.database_url).dispose()
        page.goto(served.page_url())
        rows = page.locator('section[aria-label="Profile Noauth"] tbody tr')
        expect(rows).to_have_count(10)
        page.get_by_role("button", name="Load more connections of Noauth").click()
        expect(rows).to_have_count(14)
        expect(page.get_by_role("button", name="Load more connections of Noauth")).to_have_count(0)
        page.get_by_role("checkbox", name="Select Noauth connection (bot12@example.com)").check()
        expect(page.get_by_role("button", name="Revoke selected (1)")).to_be_enabled()
