"""One slow search never stalls the console for everyone (issue 24), in Chromium.

Two browser contexts (admins A and B, two sessions) on ONE dashboard process over a generated
database big enough that a search for two letters outside ASCII, which neither the trigram
index (three letters or more), nor the profiles' terms (ASCII letters), nor SQLite's LIKE
(ASCII case folding: each case is spelled out) can narrow, tests every row for longer than the
read budget. The budget is made small (CONNMODEL_READ_BUDGET_S=1.5) so A's
search is stopped at a known time and says so.

- B's status filter change while A's slow search runs takes at most 2x its time alone, plus
  SLACK_S, at the median and at the slowest of four. Before the reads went to worker threads, B's change waited for A's read to end:
  alone + ~1.3 s (the budget less the head start A's read has).
- A sees the budget message.
- A's superseded slow search never shows over A's newer search (neither its cards nor its
  budget message), and the page shows it is working while a read is in flight.
- The change watcher keeps serving B while A's read is in flight: a revoke committed by another
  process leaves B's page within its usual time, before A's read ends (its cards still show
  they are loading). A second dashboard process over the same database gives reads 4 s, so A's
  slow search is in flight long enough for the watcher's poll (1 s on SQLite) and B's re-read
  to happen meanwhile.
"""

import statistics
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
from playwright.sync_api import Browser, Page, expect
from ui.conftest import Dashboard, start_dashboard

from connmodel.changes import POLL_S

pytestmark = pytest.mark.ui

# SLOW must read for longer than BUDGET_S even on an idle machine. "ab" did until the common
# searches learned to skip (issue 23, 2026-12-05: 37 ms at 500,000); this needle, matching
# nothing, tests 2 x 9 spellings against every row: 2.5 s at 500,000 on a loaded machine.
CONNECTIONS = 500_000
PROFILES = 40
BUDGET_S = 1.5
SLOW = "ǅǅ"  # D with small z: three cases each (ǅ, ǆ, Ǆ)
HEAD_START_S = 0.15  # A's read is under way when B acts
# A 2-core machine shared with other test runs and Chromium's own processes: one scheduling
# hiccup or garbage collection adds a few hundred ms to a ~0.2 s interaction. Small beside
# what a held loop costs B: the rest of A's read, ~BUDGET_S - HEAD_START_S = 1.35 s.
SLACK_S = 0.5
TOO_BROAD = f"This search is too broad to answer in {BUDGET_S:g} s: add letters or a filter."
PATIENT_BUDGET_S = 4.0  # SLOW is in flight (2.5 s, or until this budget) while B acts

# Every visible connection row of the page (the cards live in shadow roots), with its status.
ROWS_JS = """() => {
  const out = []
  const walk = (root) => {
    root.querySelectorAll('tr[data-id]').forEach((r) => {
      if (r.getClientRects().length) out.push({
        id: r.dataset.id, status: (r.querySelector('.badge') || {}).textContent || '',
        text: r.textContent.toLowerCase()})
    })
    root.querySelectorAll('*').forEach((el) => { if (el.shadowRoot) walk(el.shadowRoot) })
  }
  walk(document)
  return out
}"""
FILTERED_JS = f"""([status, before]) => {{
  const rows = ({ROWS_JS})()
  return rows.length > 0 && rows.map((r) => r.id).join() !== before
    && rows.every((r) => r.status.trim() === status)
}}"""


@pytest.fixture(scope="module")
def big(tmp_path_factory) -> Iterator[Dashboard]:
    """One dashboard process over CONNECTIONS generated connections, with a 1.5 s budget."""
    from connmodel.permissions import Actor, Role
    from connmodel.schema import upgrade
    from connmodel.services.generate import generate
    from connmodel.store import get_engine, session

    folder: Path = tmp_path_factory.mktemp("big")
    url = f"sqlite:///{folder / 'connmodel.db'}"
    started = time.perf_counter()
    upgrade(get_engine(url))
    with session(url) as s:
        generate(s, actor=Actor("setup", Role.ADMIN), connections=CONNECTIONS,
                 profiles=PROFILES)
    get_engine(url).dispose()
    print(f"generated {CONNECTIONS} connections in {time.perf_counter() - started:.1f} s")
    with start_dashboard(folder, demo=False, init=False, database_url=url,
                         extra_env={"CONNMODEL_READ_BUDGET_S": str(BUDGET_S)}) as dashboard:
        yield dashboard


@pytest.fixture(scope="module")
def patient(big, tmp_path_factory) -> Iterator[Dashboard]:
    """A second dashboard process over `big`'s database whose reads may take 4 s."""
    folder: Path = tmp_path_factory.mktemp("patient")
    env = {"CONNMODEL_READ_BUDGET_S": str(PATIENT_BUDGET_S),
           "CONNMODEL_KEY_FILE": big.env["CONNMODEL_KEY_FILE"]}
    with start_dashboard(folder, demo=False, init=False, database_url=big.database_url,
                         extra_env=env) as dashboard:
        yield dashboard


@pytest.fixture(scope="module")
def account(big) -> str:
    """One generated account: a search for it the trigram index answers in milliseconds."""
    from sqlalchemy import text

    from connmodel.store import get_engine

    with get_engine(big.database_url).connect() as conn:
        found = conn.execute(text("SELECT account FROM connection WHERE account LIKE '%@%' "
                                  "ORDER BY id LIMIT 1")).scalar_one()
    get_engine(big.database_url).dispose()
    return found


def rows(page: Page) -> list[dict[str, str]]:
    return page.evaluate(ROWS_JS)


def open_page(browser: Browser, dashboard: Dashboard) -> Page:
    page = browser.new_context().new_page()
    page.goto(dashboard.page_url("?page=connections"))
    page.wait_for_function(f"() => ({ROWS_JS})().length > 0", timeout=60_000)
    return page


def search(page: Page, text: str) -> None:
    box = page.get_by_placeholder("e.g. user@example.com")
    box.fill(text)
    box.press("Enter")


def filter_status(page: Page, status: str) -> float:
    """Seconds from choosing `status` until every row shown has it."""
    before = ",".join(r["id"] for r in rows(page))
    started = time.perf_counter()
    page.locator("select").filter(has_text="All statuses").select_option(status)
    page.wait_for_function(FILTERED_JS, arg=[status, before], polling="raf", timeout=30_000)
    return time.perf_counter() - started


def test_a_slow_search_leaves_another_sessions_filter_alone(browser: Browser, big):
    a, b = open_page(browser, big), open_page(browser, big)
    statuses = ("Error", "Inactive") * 2
    filter_status(b, "Active")  # warm-up, untimed
    alone = [filter_status(b, s) for s in statuses]
    during = []
    for status in statuses:
        search(a, SLOW)
        a.wait_for_timeout(HEAD_START_S * 1000)
        during.append(filter_status(b, status))
        expect(a.get_by_text(TOO_BROAD)).to_be_visible(timeout=30_000)  # A is told
        search(a, "")
        expect(a.get_by_text(TOO_BROAD)).to_be_hidden(timeout=30_000)
    figures = (f"B alone {[round(t, 3) for t in alone]} s, while A searches "
               f"{[round(t, 3) for t in during]} s")
    print(figures)
    bound = 2 * statistics.median(alone) + SLACK_S
    assert statistics.median(during) <= bound, f"{figures}: median over {bound:.3f} s"
    worst = 2 * max(alone) + SLACK_S  # the slowest of each, as a p95 of four would be
    assert max(during) <= worst, f"{figures}: slowest over {worst:.3f} s"


def test_a_superseded_search_never_shows_over_the_newer_one(browser: Browser, big, account):
    a = open_page(browser, big)
    search(a, SLOW)
    expect(a.locator(".pn-loading").first).to_be_attached(timeout=5_000)  # working on it
    search(a, account)
    a.wait_for_function(f"""(needle) => {{ const r = ({ROWS_JS})()
        return r.length > 0 && r.every((x) => x.text.includes(needle)) }}""",
                        arg=account.lower(), polling="raf", timeout=30_000)
    shown = rows(a)
    started = time.perf_counter()
    # A's slow read ends within its budget: nothing it read, nor its refusal, may show now.
    while time.perf_counter() - started < BUDGET_S + 1.0:
        assert rows(a) == shown
        expect(a.get_by_text(TOO_BROAD)).to_have_count(0, timeout=100)
        a.wait_for_timeout(100)
    expect(a.locator(".pn-loading")).to_have_count(0)
    assert parse_qs(urlparse(a.url).query)["q"] == [account], a.url


def revoke_elsewhere(page: Page, dashboard: Dashboard) -> str:
    """Revoke the first connection `page` shows, from this process (not the dashboard's)."""
    from connmodel.permissions import Actor, Role
    from connmodel.services.connections import revoke_connection
    from connmodel.store import get_engine, session

    shown = rows(page)[0]["id"]
    with session(dashboard.database_url) as s:
        revoke_connection(s, actor=Actor("elsewhere", Role.ADMIN), connection_id=int(shown))
    get_engine(dashboard.database_url).dispose()
    return shown


def wait_gone(page: Page, connection_id: str) -> None:
    page.wait_for_function(f"(id) => !({ROWS_JS})().some((r) => r.id === id)",
                           arg=connection_id, polling="raf", timeout=30_000)


def test_a_change_reaches_another_session_while_a_slow_read_runs(browser: Browser, patient):
    a, b = open_page(browser, patient), open_page(browser, patient)
    working = a.locator(".pn-loading")  # A's cards while its read is in flight
    started = time.perf_counter()
    wait_gone(b, revoke_elsewhere(b, patient))
    alone = time.perf_counter() - started
    search(a, SLOW)
    expect(working.first).to_be_attached(timeout=5_000)
    a.wait_for_timeout(HEAD_START_S * 1000)
    started = time.perf_counter()
    wait_gone(b, revoke_elsewhere(b, patient))
    during = time.perf_counter() - started
    # A's read has not ended yet. Not its budget message: on a quiet machine the slow search
    # can answer inside PATIENT_BUDGET_S.
    in_flight = working.count() > 0
    expect(working).to_have_count(0, timeout=30_000)
    figures = f"B saw the revoke in {alone:.3f} s alone, {during:.3f} s while A searches"
    print(figures)
    assert in_flight, f"{figures}: only after A's read ended"
    bound = POLL_S + 2 * alone + SLACK_S  # the watcher's poll may come just before the commit
    assert during <= bound, f"{figures}: over {bound:.3f} s"
