"""Gateway → API tokens in Chromium: Revoke asks first, naming the token as text, and there is
nothing to click while there is nothing to revoke."""

from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect
from ui.conftest import Dashboard, start_dashboard

from connmodel.permissions import Actor, Role
from connmodel.services.tokens import add_token, list_tokens
from connmodel.store import get_engine, session

pytestmark = pytest.mark.ui
ADMIN = Actor("setup", Role.ADMIN)
AMP = 'ops & "co" &lt;b&gt;'  # token names refuse < and >: an entity must stay as typed


@pytest.fixture
def served(tmp_path) -> Iterator[Dashboard]:
    with start_dashboard(tmp_path) as dashboard:
        with session(dashboard.database_url) as s:
            add_token(s, actor=ADMIN, name="gateway", scope="broker")
            add_token(s, actor=ADMIN, name=AMP, scope="read")
        get_engine(dashboard.database_url).dispose()
        yield dashboard


def live(database_url: str) -> list[str]:
    with session(database_url) as s:
        return [t.name for t in list_tokens(s, actor=ADMIN)]


def test_revoke_asks_first_and_cancel_changes_nothing(page: Page, served):
    alerts: list[str] = []
    page.on("dialog", lambda d: (alerts.append(d.message), d.dismiss()))
    page.goto(served.page_url("?page=tokens"))
    table = page.get_by_role("table", name="API tokens")
    expect(table).to_contain_text(AMP)  # an ampersand and quotes read as characters
    revoke = page.get_by_role("button", name="Revoke token")
    expect(revoke).to_be_disabled()  # no token chosen yet

    page.get_by_role("combobox", name="Token").select_option(AMP)
    revoke.click()
    question = page.get_by_role("status").filter(has_text="Revoke API token")
    expect(question).to_have_text(f"Revoke API token {AMP}? Every request with it is "
                                  "refused from then on; this cannot be undone.")
    page.get_by_role("button", name="Cancel").click()
    expect(question).to_be_hidden()
    assert live(served.database_url) == ["gateway", AMP]

    revoke.click()
    page.get_by_role("button", name="Confirm revoke").click()
    expect(page.get_by_role("status").filter(has_text="revoked")).to_have_text(
        f"Token {AMP} (read) revoked: the API refuses it from its next request.")
    expect(table).not_to_contain_text(AMP)
    assert live(served.database_url) == ["gateway"]
    assert alerts == []


def test_with_no_live_token_there_is_nothing_to_revoke(page: Page, served):
    with session(served.database_url) as s:
        from connmodel.services.tokens import revoke_token
        for name in ("gateway", AMP):
            revoke_token(s, actor=ADMIN, name=name)
    page.goto(served.page_url("?page=tokens"))
    expect(page.get_by_text("No API token.")).to_be_visible()
    expect(page.get_by_role("combobox", name="Token")).to_be_disabled()
    expect(page.get_by_role("button", name="Revoke token")).to_be_disabled()
