"""Gateway → Activity in Chromium: the demo's audit trail, filtering, the CSV download, the
filters in the URL, and events written elsewhere shown without a reload."""

import csv
import io
import re

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


SUMMARY = re.compile(r"Showing (\d+) of (\d+) events")


def shown_total(page: Page) -> int:
    """The total the summary line states ("Showing 50 of 70 events." → 70)."""
    summary = page.get_by_text(SUMMARY)
    expect(summary).to_be_visible()
    found = SUMMARY.search(summary.inner_text())
    assert found is not None
    return int(found.group(2))


def go_to(page: Page, title: str) -> None:
    """A sidebar click, opening the Gateway group first when it is collapsed."""
    button = page.get_by_role("button", name=title, exact=True)
    if not button.is_visible():
        page.get_by_role("button", name=re.compile("^Gateway")).click()
    button.click()


def test_filters_and_order_live_in_the_url(page: Page, demo_dashboard):
    page.goto(demo_dashboard.page_url("?page=activity"))
    table = page.locator("table.activity")
    expect(table.get_by_role("row").nth(1)).to_be_visible()
    page.get_by_label("Action").select_option("profile.create")
    expect(page).to_have_url(re.compile(r"[?&]action=profile\.create"))
    page.get_by_placeholder("e.g. Hubspot").fill("Noauth")
    page.get_by_placeholder("e.g. Hubspot").press("Enter")
    expect(page).to_have_url(re.compile(r"[?&]target=Noauth"))
    page.get_by_role("button", name="Time (UTC)").click()
    expect(page).to_have_url(re.compile(r"[?&]oldest=true"))
    expect(page).to_have_url(re.compile(r"[?&]page=activity"))
    expect(table.locator("tbody tr")).to_have_count(1)

    page.reload()
    expect(page.get_by_label("Action")).to_have_value("profile.create")
    expect(page.get_by_placeholder("e.g. Hubspot")).to_have_value("Noauth")
    expect(page.locator("th[aria-sort=ascending]")).to_be_visible()
    expect(table.locator("tbody tr")).to_have_count(1)
    expect(table).to_contain_text("profile Noauth (dev)")

    page.goto(demo_dashboard.page_url("?page=activity&action=revoke&who=mallory"
                                      "&since=2000-01-01T00:00:00"))
    expect(page.get_by_label("Action")).to_have_value("revoke")
    expect(page.get_by_placeholder("user name")).to_have_value("mallory")
    expect(page.get_by_label("From (UTC)")).to_have_value(re.compile("^2000-01-01"))
    expect(page.get_by_text(SUMMARY)).to_have_text("Showing 1 of 1 events.")
    expect(table.locator("tbody tr td").nth(1)).to_have_text("mallory")


def test_bad_values_in_the_url_are_ignored_or_refused_in_words(page: Page, demo_dashboard):
    page.goto(demo_dashboard.page_url("?page=activity&since=yesterday&oldest=maybe"
                                      "&action=no.such"))
    expect(page.get_by_label("Action")).to_have_value("no.such")  # a filter nothing matches
    expect(page.get_by_text("No event matches these filters.")).to_be_visible()
    expect(page.get_by_label("From (UTC)")).to_have_value("")
    page.goto(demo_dashboard.page_url("?page=activity&since=2030-01-01&until=2020-01-01"))
    expect(page.get_by_text(re.compile("the time range ends .* before it starts"))).to_be_visible()
    # the server's log holding no exception is checked when `demo_dashboard` stops


def test_events_written_elsewhere_appear_without_a_reload(page: Page, demo_dashboard):
    """With a trail longer than a page ("Showing 50 of N"), a Disable and an Enable on
    Connections in the same tab, then back to Activity, show N + 2; an event written by another
    process while Activity is open appears on its own."""
    with session(demo_dashboard.database_url) as s:
        for i in range(50):
            record(s, actor=Actor("filler"), action="note.add", target=f"note {i}")
        s.commit()
    get_engine(demo_dashboard.database_url).dispose()
    page.goto(demo_dashboard.page_url("?page=activity"))
    before = shown_total(page)
    expect(page.get_by_text(SUMMARY)).to_have_text(f"Showing 50 of {before} events.")

    go_to(page, "Connections")
    page.get_by_role("button", name="View Hubspot connection").click()
    page.get_by_role("button", name="Disable").click()
    page.get_by_role("button", name="Enable").click()
    expect(page.get_by_role("button", name="Disable")).to_be_visible()
    page.keyboard.press("Escape")
    go_to(page, "Activity")
    expect(page.get_by_text(SUMMARY)).to_have_text(f"Showing 50 of {before + 2} events.")
    rows = page.locator("table.activity tbody tr")
    expect(rows.nth(0).locator("td").nth(2)).to_have_text("connection.enable")
    expect(rows.nth(1).locator("td").nth(2)).to_have_text("connection.disable")

    with session(demo_dashboard.database_url) as s:
        record(s, actor=Actor("cli-user"), action="token.create", target="from elsewhere")
        s.commit()
    get_engine(demo_dashboard.database_url).dispose()
    expect(page.get_by_text(SUMMARY)).to_have_text(f"Showing 50 of {before + 3} events.",
                                                   timeout=5000)
    expect(rows.nth(0)).to_contain_text("from elsewhere")
