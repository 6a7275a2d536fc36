"""The Activity page's view model over a real store: filters, paging, CSV, escaping.

Its reads are coroutines (a worker thread each): a test runs them on a loop of its own
(`run_async`) and awaits the re-read a filter change started (`settled`)."""

import csv
import io
from datetime import UTC, datetime, timedelta

from connmodel.services.events import record
from connmodel.store import session
from dashboard.components.event_table import event_rows
from dashboard.viewmodels import activity
from dashboard.viewmodels.activity import ActivityModel
from dashboard.viewmodels.backend import Backend

XSS = '"><script>alert(1)</script>'


def test_filters_paging_and_csv(sqlite_url, admin, viewer, monkeypatch, run_async, settled):
    monkeypatch.setattr(activity, "PAGE_SIZE", 2)
    with session(sqlite_url) as s:
        for i in range(3):
            record(s, actor=admin, action="revoke", target=f"connection {i}")
        record(s, actor=admin, action="user.add", target="=cmd|' /C calc'!A0")
        s.commit()
    model = ActivityModel(Backend(viewer, sqlite_url))
    assert model.events == [] and model.total == 0  # nothing read before `refresh` is awaited
    run_async(model.refresh())
    assert model.actions == ["", "revoke", "user.add"]
    assert model.total == 4 and len(model.events) == 2 and model.events[0].action == "user.add"
    run_async(model.load_more())
    run_async(model.load_more())
    assert [e.target for e in model.events][1:] == ["connection 2", "connection 1", "connection 0"]
    assert model.next_cursor is None

    async def set_then_settle(**values) -> None:
        model.param.update(**values)
        await settled()

    run_async(set_then_settle(action="revoke"))
    run_async(set_then_settle(target="2"))
    assert [e.target for e in model.events] == ["connection 2"]
    run_async(set_then_settle(action="user.add", target=""))
    rows = list(csv.reader(io.StringIO(run_async(model.csv_file()).getvalue().decode())))
    assert [r[3] for r in rows[1:]] == ["'=cmd|' /C calc'!A0"]

    run_async(set_then_settle(until=datetime.now(UTC) - timedelta(days=1)))
    assert model.events == [] and model.total == 0 and not model.error
    run_async(set_then_settle(since=datetime.now(UTC)))
    assert "before it starts" in model.error


def test_a_superseded_filter_never_shows_over_the_newer_one(sqlite_url, admin, run_async,
                                                            settled):
    """Filters set before any read is back: only the last one's page is shown."""
    with session(sqlite_url) as s:
        for i in range(3):
            record(s, actor=admin, action="revoke", target=f"connection {i}")
        s.commit()
    model = ActivityModel(Backend(admin, sqlite_url))
    shown = []
    model.param.watch(lambda e: shown.append([x.target for x in e.new]), "events")

    async def type_ahead() -> None:
        model.target = "connection"
        model.target = "1"
        model.target = "2"
        await settled()

    run_async(type_ahead())
    assert shown == [["connection 2"]]


def test_table_gets_plain_values_sorted_by_time_in_sql(sqlite_url, admin, monkeypatch, run_async,
                                                       settled):
    """Cells travel as the text itself (the browser writes them with textContent); a click on
    Time flips the SQL order, and "Load more" continues in that order."""
    monkeypatch.setattr(activity, "PAGE_SIZE", 2)
    with session(sqlite_url) as s:
        record(s, actor=admin.__class__(XSS, admin.role), action="revoke", target=XSS,
               outcome=XSS)
        for i in range(2):
            record(s, actor=admin, action="check", target=f"connection {i}")
        s.commit()
    model = ActivityModel(Backend(admin, sqlite_url))
    run_async(model.refresh())
    assert [e.target for e in model.events] == ["connection 1", "connection 0"]

    async def oldest_first() -> None:
        model.oldest_first = True
        await settled()

    run_async(oldest_first())
    assert event_rows(model.events)[0][1:] == [XSS, "revoke", XSS, XSS]
    run_async(model.load_more())
    assert [e.target for e in model.events] == [XSS, "connection 0", "connection 1"]


def test_shown_filters_are_one_event_filter_for_table_and_csv(store_url, admin, viewer, run_async,
                                                              settled):
    """Picker times come naive and are read as UTC; a padded actor name still matches."""
    with session(store_url) as s:
        record(s, actor=admin, action="revoke", target="connection 1")
        record(s, actor=viewer, action="revoke", target="connection 2")
        s.commit()
    model = ActivityModel(Backend(admin, store_url))
    hour_ago = datetime.now(UTC).replace(tzinfo=None) - timedelta(hours=1)

    async def set_then_settle(**values) -> None:
        model.param.update(**values)
        await settled()

    run_async(set_then_settle(who=f" {admin.name} ", since=hour_ago))
    assert not model.error and [e.target for e in model.events] == ["connection 1"]
    rows = list(csv.reader(io.StringIO(run_async(model.csv_file()).getvalue().decode())))
    assert [r[3] for r in rows[1:]] == ["connection 1"]
    run_async(set_then_settle(since=hour_ago + timedelta(hours=2)))
    assert model.events == [] and not model.error
