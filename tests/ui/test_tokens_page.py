"""Gateway → API tokens in Chromium: Revoke asks first, naming the token as text, and there is
nothing to click while there is nothing to revoke."""

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Locator, Page, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError
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



def test_a_double_click_on_confirm_revokes_once_and_says_so(page: Page, served):
    """The second click reached the server before the first hid the button: it revoked again
    and replaced "revoked" with a red "token 'gateway' was already revoked by local-admin"."""
    page.goto(served.page_url("?page=tokens"))
    page.get_by_role("combobox", name="Token").select_option("gateway")
    page.get_by_role("button", name="Revoke token").click()
    page.get_by_role("button", name="Confirm revoke").dblclick()
    done = page.get_by_role("status").filter(has_text="revoked")
    expect(done).to_have_text("Token gateway (broker) revoked: the API refuses it from its "
                              "next request.")
    page.wait_for_timeout(1000)  # the second click's answer, if any, has come by now
    expect(done).to_have_text(re.compile("^Token gateway"))
    expect(page.get_by_text("already revoked")).to_have_count(0)
    assert live(served.database_url) == [AMP]

def test_with_no_live_token_there_is_nothing_to_revoke(page: Page, served):
    with session(served.database_url) as s:
        from connmodel.services.tokens import revoke_token
        for name in ("gateway", AMP):
            revoke_token(s, actor=ADMIN, name=name)
    page.goto(served.page_url("?page=tokens"))
    expect(page.get_by_text("No API token.")).to_be_visible()
    expect(page.get_by_role("combobox", name="Token")).to_be_disabled()
    expect(page.get_by_role("button", name="Revoke token")).to_be_disabled()


# The words of an element's text laid out over more than one line (broken inside a word).
BROKEN_WORDS = """(el) => { const broken = []
  const walker = document.createTreeWalker(el, NodeFilter.SHOW_TEXT)
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    for (const m of n.data.matchAll(/[^\\s-]+/g)) {
      const r = document.createRange()
      r.setStart(n, m.index); r.setEnd(n, m.index + m[0].length)
      if (new Set([...r.getClientRects()].map((b) => Math.round(b.top))).size > 1) broken.push(m[0])
    } }
  return broken }"""


def broken_words(page: Page, table: Locator) -> list[str]:
    """The table's words broken over lines once its layout settles (drawn while the page still
    sizes itself, every word breaks for a moment): waits up to 5 s for none, then says which."""
    try:
        page.wait_for_function(f"(el) => ({BROKEN_WORDS})(el).length === 0",
                               arg=table.element_handle(), timeout=5000)
    except PlaywrightTimeoutError:
        pass
    return table.evaluate(BROKEN_WORDS)


def test_the_table_breaks_no_word_at_390_px(page: Page, served):
    page.set_viewport_size({"width": 390, "height": 800})
    page.goto(served.page_url("?page=tokens"))
    table = page.get_by_role("table", name="API tokens")
    expect(table).to_contain_text("gateway")
    assert broken_words(page, table) == []
    for heading in ("Name", "Scope", "Created by", "Last used"):  # each cell still says what it is
        expect(table).to_contain_text(heading)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390


def test_show_revoked_is_the_label_of_its_checkbox(page: Page, served):
    with session(served.database_url) as s:
        from connmodel.services.tokens import revoke_token
        revoke_token(s, actor=ADMIN, name="gateway")
    page.goto(served.page_url("?page=tokens"))
    table = page.get_by_role("table", name="API tokens")
    expect(table).to_contain_text(AMP)
    expect(table).not_to_contain_text("gateway")
    box = page.get_by_role("checkbox", name="Show revoked")
    expect(box).not_to_be_checked()
    page.get_by_text("Show revoked", exact=True).click()  # the words, not the box
    expect(box).to_be_checked()
    expect(table).to_contain_text("gateway")
    box.press("Space")
    expect(box).not_to_be_checked()
    expect(table).not_to_contain_text("gateway")
