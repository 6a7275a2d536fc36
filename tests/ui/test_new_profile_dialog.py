"""New profile in Chromium: a refused key creates nothing and the retry takes the edited form; a
provider refusal after creating says so and locks what is fixed; the dialog holds the keyboard
(Tab stays inside, Escape closes it, focus goes back to the New profile button)."""

from pathlib import Path

import pytest
from playwright.sync_api import Locator, Page, expect
from servers import free_port
from sqlmodel import select
from test_connections_page import card, open_connections
from test_dialogs import FOCUS_IN_DIALOG_JS, focused_label

from connmodel.models import Profile
from connmodel.store import session

pytestmark = pytest.mark.ui

SHOTS = Path("/tmp/np_shots")
API_KEY = "sk-live-twilio-00007f3a"
NO_FOCUS_JS = "() => document.activeElement === document.body"


def open_dialog(page: Page) -> Locator:
    page.get_by_role("button", name="New profile").click()
    dialog = page.get_by_role("dialog", name="New profile")
    expect(dialog.get_by_placeholder("e.g. Drive")).to_be_visible()
    return dialog


def choose(dialog: Locator, option: str) -> None:
    """Pick `option` in the dialog's one select that offers it (Environment, Authentication)."""
    dialog.locator(f"select:has(option:text-is('{option}'))").select_option(option)


def profiles(database_url: str) -> list[str]:
    with session(database_url) as s:
        return sorted(s.exec(select(Profile.name)).all())


def test_a_refused_key_creates_nothing_and_the_retry_creates_the_edited_profile(
        page: Page, demo_dashboard):
    open_connections(page, demo_dashboard.page_url())
    before = profiles(demo_dashboard.database_url)
    dialog = open_dialog(page)
    dialog.get_by_placeholder("e.g. Drive").fill("Twilio Live")
    choose(dialog, "production")
    choose(dialog, "API key")
    expect(dialog.get_by_placeholder("never shown again")).to_be_visible()  # left empty
    dialog.get_by_role("button", name="Create and connect").click()
    expect(dialog.get_by_text("the API key is empty", exact=True)).to_be_in_viewport()
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "refused-empty-key.png"))
    assert profiles(demo_dashboard.database_url) == before
    expect(dialog.get_by_placeholder("e.g. Drive")).to_be_editable()

    dialog.get_by_placeholder("e.g. Drive").fill("Twilio Real")
    choose(dialog, "staging")
    dialog.get_by_placeholder("never shown again").fill(API_KEY)
    dialog.get_by_role("button", name="Create and connect").click()
    expect(page.get_by_text("Profile Twilio Real connected: Configured (Active).")).to_be_visible()
    expect(dialog).to_be_hidden()
    expect(card(page, "Twilio Real")).to_be_visible()
    assert profiles(demo_dashboard.database_url) == sorted([*before, "Twilio Real"])


def test_a_provider_refusal_after_creating_says_so_and_locks_the_created_fields(
        page: Page, demo_dashboard):
    open_connections(page, demo_dashboard.page_url())
    SHOTS.mkdir(parents=True, exist_ok=True)
    dialog = open_dialog(page)
    dialog.get_by_placeholder("e.g. Drive").fill("Machine")
    choose(dialog, "OAuth2 client credentials (machine)")
    dialog.get_by_role("button", name="Explicit endpoints").click()
    dialog.get_by_placeholder("client id from the provider").fill("machine-client")
    dialog.get_by_placeholder("empty for a public client").fill("machine-secret")
    dialog.get_by_label("Token endpoint").fill(f"http://127.0.0.1:{free_port()}/token")
    dialog.get_by_role("button", name="Create and connect").click()
    expect(dialog.get_by_text("Profile Machine was created; connecting it failed: client "
                              "credentials token: cannot reach the provider")).to_be_visible()
    expect(dialog.get_by_placeholder("e.g. Drive")).to_be_disabled()
    expect(dialog.get_by_placeholder("client id from the provider")).to_be_disabled()
    page.screenshot(path=str(SHOTS / "created-then-refused.png"))
    dialog.get_by_role("button", name="Cancel").click()
    expect(dialog).to_be_hidden()
    expect(page.get_by_text("Profile Machine was created but is not connected.")).to_be_visible()
    expect(card(page, "Machine")).to_be_visible()
    reopened = open_dialog(page)  # a fresh form
    expect(reopened.get_by_placeholder("e.g. Drive")).to_have_value("")
    expect(reopened.get_by_placeholder("e.g. Drive")).to_be_editable()


def test_the_dialog_keeps_the_focus_and_escape_gives_it_back(page: Page, demo_dashboard):
    open_connections(page, demo_dashboard.page_url())
    opener = page.get_by_role("button", name="New profile")
    opener.focus()
    page.keyboard.press("Enter")
    dialog = page.get_by_role("dialog", name="New profile")
    expect(dialog.get_by_placeholder("e.g. Drive")).to_be_visible()
    labels = []
    for _ in range(25):  # every control, past Create and connect, round again, and again
        page.keyboard.press("Tab")
        if page.evaluate(NO_FOCUS_JS):  # past the last control: the browser's own UI, not the page
            labels.append(None)
            continue
        assert page.evaluate(FOCUS_IN_DIALOG_JS), \
            f"Tab went behind the dialog, to {focused_label(page)!r:.80}"
        labels.append(focused_label(page))
    assert labels.count("Create and connect") >= 2 and labels.count(None) >= 2
    assert labels[labels.index(None) + 1:].count("Create and connect") >= 1  # back inside
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    assert focused_label(page) == "New profile"
    expect(page.get_by_role("dialog")).to_have_count(0)


def card_names(page: Page) -> list[str]:
    return page.locator("section.card h2").all_text_contents()


def test_a_new_provider_config_is_named_by_its_kind_as_the_seeded_ones(
        page: Page, demo_dashboard):
    """The Service column shows the provider config's name: the seeded ones say how they
    authenticate ("API Key Authentication Provider"), and so does a new one's default name."""
    open_connections(page, demo_dashboard.page_url())
    dialog = open_dialog(page)
    dialog.get_by_placeholder("e.g. Drive").fill("Twilio Test")
    dialog.get_by_placeholder("e.g. Drive").press("Tab")
    choose(dialog, "API key")
    expect(dialog.get_by_placeholder("default: Twilio Test API Key Authentication Provider")
           ).to_be_visible()
    dialog.get_by_placeholder("never shown again").fill(API_KEY)
    dialog.get_by_role("button", name="Create and connect").click()
    expect(dialog).to_be_hidden()
    twilio = card(page, "Twilio Test")
    expect(twilio.locator("tbody td").nth(1)).to_have_text(
        "Twilio Test API Key Authentication Provider")
    expect(card(page, "Hubspot").locator("tbody td").nth(1)).to_have_text(
        "API Key Authentication Provider")


def test_profile_names_are_unique_and_sorted_ignoring_case(page: Page, demo_dashboard):
    open_connections(page, demo_dashboard.page_url())
    before = profiles(demo_dashboard.database_url)
    dialog = open_dialog(page)
    dialog.get_by_placeholder("e.g. Drive").fill("google")
    dialog.get_by_role("button", name="Create and connect").click()
    expect(dialog.get_by_text("a profile named 'Google' exists (profile names ignore case): "
                              "choose another name", exact=True)).to_be_visible()
    assert profiles(demo_dashboard.database_url) == before

    dialog.get_by_placeholder("e.g. Drive").fill("beta hub")
    dialog.get_by_role("button", name="Create and connect").click()
    expect(dialog).to_be_hidden()
    page.get_by_placeholder("e.g. Hubspot").fill("hub")
    page.get_by_placeholder("e.g. Hubspot").press("Enter")
    expect(card(page, "Noauth")).to_have_count(0)
    expect(page.locator("section.card h2")).to_have_text(
        ["beta hub", "GitHub Staging", "Hubspot", "Hubspot Sandbox"])


def test_after_a_refusal_the_buttons_and_the_reason_stay_in_sight(page: Page, demo_dashboard):
    page.set_viewport_size({"width": 1280, "height": 700})
    open_connections(page, demo_dashboard.page_url())
    dialog = open_dialog(page)
    dialog.get_by_placeholder("e.g. Drive").fill("Noauth")  # taken
    dialog.get_by_role("button", name="Create and connect").click()
    expect(dialog.get_by_text("a profile named 'Noauth' exists", exact=False)).to_be_in_viewport(
        ratio=1)
    for name in ("Cancel", "Create and connect"):
        expect(dialog.get_by_role("button", name=name)).to_be_in_viewport(ratio=1)
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "refused-buttons-in-sight.png"))
    dialog.get_by_role("button", name="Cancel").click()
    expect(dialog).to_be_hidden()


def test_a_double_click_on_create_creates_once_and_audits_no_failure(
        page: Page, demo_dashboard):
    """The second click reached the server before the first disabled the buttons: a second
    create was tried, refused ("a provider config named ... exists") and audited as failed."""
    open_connections(page, demo_dashboard.page_url())
    dialog = open_dialog(page)
    dialog.get_by_placeholder("e.g. Drive").fill("Twice Clicked")
    dialog.get_by_role("button", name="Create and connect").dblclick()
    expect(page.get_by_text("Profile Twice Clicked connected: Configured (Active).")) \
        .to_be_visible()
    expect(dialog).to_be_hidden()
    page.goto(demo_dashboard.page_url("?page=activity&target=Twice"))
    events = page.locator("table.activity tbody tr")
    expect(events.filter(has_text="profile.create")).to_have_count(1)
    expect(events.filter(has_text="failed")).to_have_count(0)
