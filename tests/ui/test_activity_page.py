"""Gateway → Activity in Chromium: the demo's audit trail, filtering, and the CSV download."""

import csv
import io

import pytest
from playwright.sync_api import Page, expect

from connmodel.permissions import Actor
from connmodel.services.events import record
from connmodel.store import get_engine, session

pytestmark = pytest.mark.ui
FORMULA = "=HYPERLINK(\"http://evil.example\",\"x\")"


def test_lists_filters_and_downloads_neutralised_csv(page: Page, demo_dashboard, tmp_path):
    with session(demo_dashboard.database_url) as s:
        record(s, actor=Actor("mallory"), action="revoke", target=FORMULA)
        s.commit()
    get_engine(demo_dashboard.database_url).dispose()

    page.goto(demo_dashboard.page_url("?page=activity"))
    expect(page.get_by_role("heading", name="Activity")).to_be_visible()
    table = page.locator("table.activity")
    expect(table.get_by_role("row").nth(1)).to_contain_text("mallory")
    expect(table).to_contain_text("profile Hubspot (production)")
    expect(table).to_contain_text("provider config GitHub OAuth2 Provider")

    page.get_by_label("Action").select_option("profile.create")
    expect(table).not_to_contain_text("server.add")
    expect(table).to_contain_text("profile Noauth (dev)")
    shown = table.locator("tbody tr")
    assert shown.count() >= 5
    for i in range(shown.count()):
        expect(shown.nth(i).locator("td").nth(2)).to_have_text("profile.create")

    page.get_by_label("Action").select_option("revoke")
    expect(table.get_by_role("row")).to_have_count(2)
    with page.expect_download() as info:
        page.get_by_role("button", name="Download CSV").click()
    path = tmp_path / "activity.csv"
    info.value.save_as(path)
    rows = list(csv.reader(io.StringIO(path.read_text())))
    assert rows[0] == ["at", "actor", "action", "target", "outcome"]
    assert [r[1:4] for r in rows[1:]] == [["mallory", "revoke", "'" + FORMULA]]
