"""The read budget (issue 24) on both stores: a person's read stops at its budget with one clear
message, the pooled connection keeps no limit afterwards, and writes are never under one."""

import threading
import time

import pytest
from sqlalchemy import text

from connmodel.budget import read_budget
from connmodel.errors import InvalidInput, ReadBudgetExceeded, ReadCancelled
from connmodel.store import reading

# Counting to 10^9 takes minutes on either store: the slowest read there is, needing no data.
SLOW = text("WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 1000000000)"
            " SELECT count(*) FROM c")


def test_a_read_stops_at_its_budget_and_the_connection_keeps_no_limit(store_url):
    started = time.monotonic()
    too_broad = r"^This search is too broad to answer in 0\.3 s: add letters or a filter$"
    with pytest.raises(ReadBudgetExceeded, match=too_broad), \
            reading(store_url, budget_s=0.3) as s:
        s.execute(SLOW)
    assert time.monotonic() - started < 5
    with reading(store_url) as s:  # the same pooled connection, no budget: runs to the end
        assert s.execute(text("SELECT count(*) FROM connection")).scalar_one() == 0
        if s.get_bind().dialect.name == "postgresql":
            assert s.execute(text("SHOW statement_timeout")).scalar_one() == "0"


@pytest.mark.parametrize(("raw", "seconds"), [(None, 2.0), ("", 2.0), ("0.5", 0.5),
                                              ("0", None), ("none", None)])
def test_the_budget_setting(monkeypatch, raw, seconds):
    monkeypatch.delenv("CONNMODEL_READ_BUDGET_S", raising=False)
    assert read_budget(raw) == seconds


@pytest.mark.parametrize("raw", ["-1", "soon", "nan", "1e9"])
def test_a_bad_budget_setting_is_one_clear_error(raw):
    with pytest.raises(InvalidInput, match="give seconds"):
        read_budget(raw)


def test_a_read_is_stopped_from_another_thread_on_sqlite(sqlite_url):
    """The dashboard stops a superseded screen's read: the scan ends at once, with
    ReadCancelled (not the budget message), and the pooled connection keeps no handler."""
    cancel, outcome = threading.Event(), []

    def read() -> None:
        started = time.monotonic()
        try:
            with reading(sqlite_url, budget_s=60, cancel=cancel) as s:
                s.execute(SLOW)
        except ReadCancelled as exc:
            outcome.append((str(exc), time.monotonic() - started))

    worker = threading.Thread(target=read)
    worker.start()
    time.sleep(0.3)
    cancel.set()
    worker.join(10)
    assert not worker.is_alive() and outcome
    message, took = outcome[0]
    assert message == "the read was stopped: a newer input replaced it" and took < 5
    million = text("WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c "
                   "WHERE x < 1000000) SELECT count(*) FROM c")
    with reading(sqlite_url) as s:  # the same pooled connection: the set event is gone with it
        assert s.execute(million).scalar_one() == 1_000_000


def test_the_budget_bounds_the_whole_read_on_postgresql(postgres_url):
    """A screen is several statements: five of 0.4 s each, none near the 1 s budget, stop at
    the budget together (a per-statement timeout let all five run, 2 s; the margin is for a
    loaded machine), and a statement asked for once the budget is spent does not start."""
    started = time.monotonic()
    with pytest.raises(ReadBudgetExceeded, match="too broad to answer in 1 s"), \
            reading(postgres_url, budget_s=1.0) as s:
        for _ in range(5):
            s.execute(text("SELECT pg_sleep(0.4)"))
    assert 0.95 < time.monotonic() - started < 1.6
    started = time.monotonic()
    with pytest.raises(ReadBudgetExceeded), reading(postgres_url, budget_s=0.2) as s:
        time.sleep(0.25)
        s.execute(text("SELECT pg_sleep(5)"))
    assert time.monotonic() - started < 0.5
    with reading(postgres_url) as s:  # the same pooled connection keeps no limit
        assert s.execute(text("SHOW statement_timeout")).scalar_one() == "0"
