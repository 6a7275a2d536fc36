"""Where the keyboard is after an action removes what it started from (a revoked row)."""

import pytest
from playwright.sync_api import Page, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError
from test_connections_page import card, open_connections
from test_dialogs import FOCUS_IN_DIALOG_JS, FOCUSED_LABEL_JS, focused_label

pytestmark = pytest.mark.ui


def test_focus_lands_on_the_card_after_a_revoke_confirmed_with_the_keyboard(
        page: Page, demo_dashboard):
    """The Revoke button that opened the dialog leaves with its row: focus had fallen to the
    page's start, and the next Tab began again at the top of the console."""
    open_connections(page, demo_dashboard.page_url())
    page.get_by_role("button", name="Revoke Hubspot connection").focus()
    page.keyboard.press("Enter")
    dialog = page.get_by_role("dialog", name="Revoke Hubspot connection (Configured)?")
    expect(dialog).to_be_visible()
    page.keyboard.press("Tab")  # from Cancel to Confirm revoke
    page.keyboard.press("Enter")
    expect(dialog).to_be_hidden()
    expect(card(page, "Hubspot")).to_contain_text("No live connections in this profile.")
    assert_focus_comes_to(page, "Profile Hubspot")


def assert_focus_comes_to(page: Page, label: str) -> None:
    """Wait (up to 5 s) for the focused element to be `label`; fail naming where focus is."""
    try:
        page.wait_for_function(f"(label) => ({FOCUSED_LABEL_JS})() === label", arg=label,
                               timeout=5000)
    except PlaywrightTimeoutError:
        pytest.fail(f"focus is on {focused_label(page)!r:.60}, not {label!r}")


def test_sorting_a_card_with_the_keyboard_keeps_focus_on_its_header(page: Page, demo_dashboard):
    """Sorting draws the card anew: its header button went with it and focus fell to the
    page's start, so a second Enter (to sort the other way) did nothing."""
    open_connections(page, demo_dashboard.page_url())
    noauth = card(page, "Noauth")
    noauth.get_by_role("button", name="Status").focus()
    page.keyboard.press("Enter")
    expect(noauth.locator("th[aria-sort=ascending]")).to_have_text("Status ▲")
    assert_focus_comes_to(page, "Status ▲")
    page.keyboard.press("Enter")
    expect(noauth.locator("th[aria-sort=descending]")).to_have_text("Status ▼")



def test_reconfigure_takes_the_keyboard_and_gives_it_back(page: Page, demo_dashboard):
    """Reconfigure opened its form above the first row, far from the button pressed (off
    screen at 390 px), with focus left behind; Escape did nothing, and Cancel dropped focus
    to the page's start."""
    page.goto(demo_dashboard.page_url("?page=servers"))
    reconfigure = page.get_by_role("button", name="Reconfigure Drive", exact=True)
    reconfigure.focus()
    page.keyboard.press("Enter")
    form = page.get_by_role("dialog", name="Reconfigure Drive to use:")
    expect(form).to_be_visible()
    assert page.evaluate(FOCUS_IN_DIALOG_JS), "focus stayed behind the form"
    page.keyboard.press("Escape")
    expect(form).to_be_hidden()
    assert_focus_comes_to(page, "Reconfigure Drive")
    page.keyboard.press("Enter")
    expect(form).to_be_visible()
    form.get_by_role("button", name="Cancel").click()
    expect(form).to_be_hidden()
    assert_focus_comes_to(page, "Reconfigure Drive")
