"""One slow search never stalls the console for everyone (issue 24), on PostgreSQL, in Chromium.

test_slow_search.py's two sessions (admins A and B) on one dashboard process, over a scratch
PostgreSQL database of CONNECTIONS generated connections (created and dropped here). No search
reads for long there any more (issue 23: a one-letter search's screen went from 1-1.4 s to
tens of ms), so A's read is made slow as a migration or a VACUUM FULL would: another session
holds `profile_term` locked until B's change is measured, and A's common search reads the
profiles' terms first.

- B's status filter change while A's search waits takes at most 2x its time alone plus
  SLACK_S, and ends while A's read is still in flight (A's page still shows it is working). On
  the code that read on the loop, B waited for A's read: it ended after A's read did.

A's budget message is not awaited here (the budget's stop on PostgreSQL:
tests/connmodel/test_read_budget.py). The budget is READ_BUDGET_S, longer than the lock is held,
so A's read is in flight, and its spinner shown, until the lock is released. With the default
2 s, a run beside another test process once saw no spinner within 10 s: on for under 2 s, it
was probably missed (the server log of that run was not kept).
"""

import statistics
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect
from ui.conftest import Dashboard, start_dashboard
from ui.test_slow_search import SLACK_S, filter_status, open_page, search

pytestmark = [pytest.mark.ui, pytest.mark.postgres,
              pytest.mark.parametrize("module_store_url", ["postgres"], indirect=True)]

CONNECTIONS = 400_000
PROFILES = 40
SLOW = "e"  # common: its screen reads the profiles' terms first
HOLD_MAX_S = 30  # the lock is released when the test says so, or after this at the latest
READ_BUDGET_S = 60


@contextmanager
def terms_locked(url: str) -> Iterator[None]:
    """`profile_term` locked by another session until the block ends.

    Released when the block ends, not after a fixed time: on a busy machine B's change once
    took longer than a fixed hold, and A's read ended before B's change did (a false failure).
    """
    from sqlalchemy import create_engine, text

    locked, release, engine = threading.Event(), threading.Event(), create_engine(url)

    def hold() -> None:
        with engine.begin() as conn:
            conn.execute(text("LOCK TABLE profile_term IN ACCESS EXCLUSIVE MODE"))
            locked.set()
            release.wait(HOLD_MAX_S)

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert locked.wait(10), "could not lock profile_term"
        yield
    finally:
        release.set()
        holder.join()
        engine.dispose()


@pytest.fixture(scope="module")
def pg_big(module_store_url, tmp_path_factory) -> Iterator[Dashboard]:
    """One dashboard process over CONNECTIONS generated connections on PostgreSQL."""
    from connmodel.permissions import Actor, Role
    from connmodel.services.generate import generate
    from connmodel.store import get_engine, session

    started = time.perf_counter()
    with session(module_store_url) as s:
        generate(s, actor=Actor("setup", Role.ADMIN), connections=CONNECTIONS,
                 profiles=PROFILES)
    get_engine(module_store_url).dispose()
    print(f"generated {CONNECTIONS} connections in {time.perf_counter() - started:.1f} s")
    folder: Path = tmp_path_factory.mktemp("pg_big")
    with start_dashboard(folder, demo=False, init=False, database_url=module_store_url,
                         extra_env={"CONNMODEL_READ_BUDGET_S": str(READ_BUDGET_S)}) as dashboard:
        yield dashboard


def working(page: Page):
    """The page's loading indicator: shown until its newest input's screen is in."""
    return page.locator(".pn-loading")


def test_a_slow_search_leaves_another_sessions_filter_alone(browser: Browser, pg_big):
    a, b = open_page(browser, pg_big), open_page(browser, pg_big)
    statuses = ("Error", "Inactive") * 2
    filter_status(b, "Active")  # warm-up, untimed
    alone = [filter_status(b, s) for s in statuses]
    during, in_flight = [], []
    for status in statuses:
        with terms_locked(pg_big.database_url):
            search(a, SLOW)
            expect(working(a)).not_to_have_count(0, timeout=10_000)  # A's read is under way
            during.append(filter_status(b, status))
            in_flight.append(working(a).count() > 0)  # A's read has not ended yet
        expect(working(a)).to_have_count(0, timeout=30_000)
        search(a, "")
        expect(working(a)).to_have_count(0, timeout=30_000)
    figures = (f"B alone {[round(t, 3) for t in alone]} s, while A searches "
               f"{[round(t, 3) for t in during]} s, before A's read ended {in_flight}")
    print(figures)
    assert all(in_flight), f"{figures}: B waited for A's read"
    bound = 2 * statistics.median(alone) + SLACK_S
    assert statistics.median(during) <= bound, f"{figures}: median over {bound:.3f} s"
    worst = 2 * max(alone) + SLACK_S  # the slowest of each, as a p95 of four would be
    assert max(during) <= worst, f"{figures}: slowest over {worst:.3f} s"

