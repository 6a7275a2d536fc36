"""The cards' spinner always ends in the browser, however fast filter changes come, in Chromium.

Its start is set by a timer's Bokeh callback and its end when the read is shown. The end was set
in the read's coroutine, which Panel writes to the socket at once, so it could overtake the
start still waiting to be written after a large message: the browser kept the overlay over the
rows, no click reached them, while Python's `loading` was off (a test's "View" timed out under
load). With the spinner shown at once (CONNMODEL_SPINNER_DELAY_MS=1) and the status filter
flipped a dozen times a round, the old code left the overlay on in 5 of 15 rounds; this test
runs 10.
"""

import random
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from ui.conftest import Dashboard, start_dashboard

from dashboard.pages.connections import spinner_delay_ms
from dashboard.serve import main as serve_main

pytestmark = pytest.mark.ui

ROUNDS = 10
FLIPS = 12
STATUSES = ("Error", "Active", "Inactive", "All statuses")


@pytest.fixture(scope="module")
def eager(tmp_path_factory) -> Iterator[Dashboard]:
    """A dashboard over three profiles of 10,000 connections whose spinner shows at once."""
    from connmodel.permissions import Actor, Role
    from connmodel.schema import upgrade
    from connmodel.services.generate import generate
    from connmodel.store import get_engine, session

    folder: Path = tmp_path_factory.mktemp("eager")
    url = f"sqlite:///{folder / 'connmodel.db'}"
    upgrade(get_engine(url))
    with session(url) as s:
        generate(s, actor=Actor("setup", Role.ADMIN), connections=30_000, profiles=3)
    get_engine(url).dispose()
    with start_dashboard(folder, demo=False, init=False, database_url=url,
                         extra_env={"CONNMODEL_SPINNER_DELAY_MS": "1"}) as dashboard:
        yield dashboard


def test_the_overlay_ends_after_every_burst_of_filter_changes(page: Page, eager):
    page.goto(eager.page_url("?page=connections"))
    status = page.locator("select").filter(has_text="All statuses")
    overlay = page.locator(".pn-loading")
    pick = random.Random(7)
    for _ in range(ROUNDS):
        for _ in range(FLIPS):
            status.select_option(pick.choice(STATUSES))
            page.wait_for_timeout(pick.random() * 30)
        # The old code's overlay stayed on for good; a loaded machine may take seconds to
        # work through a burst's reads (one failure in a full run at 5 s).
        expect(overlay).to_have_count(0, timeout=15_000)
    status.select_option("All statuses")
    page.get_by_role("button", name=re.compile("^View")).first.click()  # the rows are reachable
    expect(page.get_by_role("dialog")).to_be_visible()


@pytest.mark.parametrize("raw", ["soon", "-5", "1.5", "10001"])
def test_a_malformed_spinner_delay_is_refused_before_serving(raw, monkeypatch):
    monkeypatch.setenv("CONNMODEL_SPINNER_DELAY_MS", raw)
    with pytest.raises(ValueError):
        spinner_delay_ms()
    with pytest.raises(SystemExit) as refused:
        serve_main(["--processes", "0"])  # refused for the delay before anything else
    assert str(refused.value) == (f"CONNMODEL_SPINNER_DELAY_MS='{raw}': give milliseconds from "
                                  "0 to 10000, like 150")


def test_the_spinner_delay_defaults_to_150_ms(monkeypatch):
    monkeypatch.delenv("CONNMODEL_SPINNER_DELAY_MS", raising=False)
    assert spinner_delay_ms() == 150
    assert spinner_delay_ms(" 0 ") == 0
