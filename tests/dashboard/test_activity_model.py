"""The Activity page's view model over a real store: filters, paging, CSV, escaping, the
filters in the URL, and events written elsewhere caught up.

Its reads are coroutines (a worker thread each): a test runs them on a loop of its own
(`run_async`) and awaits the re-read a filter change started (`settled`)."""

import csv
import io
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs

import panel as pn
from bokeh.document import Document
from panel.io.state import set_curdoc

from connmodel.changes import Change, read_change
from connmodel.permissions import Actor
from connmodel.services.events import record
from connmodel.store import session
from dashboard.components.event_table import event_rows
from dashboard.pages.activity import URL_KEYS
from dashboard.routing import sync_url
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


def _record(url: str, actor: Actor, action: str, *targets: str) -> None:
    with session(url) as s:
        for target in targets:
            record(s, actor=actor, action=action, target=target)
        s.commit()


async def _opened_at(model: ActivityModel, search: str, settled) -> tuple[bool, object]:
    """The page's URL binding as a session opened at `search` makes it, its reads awaited;
    returns whether the URL set a filter, and the session's location."""
    doc = Document()
    with set_curdoc(doc):
        location = pn.state.location
        location.search = search
        applied = sync_url(model, URL_KEYS)
    await settled()
    return applied, location


def test_filters_and_order_come_from_the_url_and_go_back_to_it(sqlite_url, admin, viewer,
                                                               run_async, settled):
    _record(sqlite_url, admin, "revoke", "connection 0", "connection 1")
    _record(sqlite_url, viewer, "revoke", "connection 2")
    _record(sqlite_url, admin, "user.add", "connection 3")
    model = ActivityModel(Backend(admin, sqlite_url))
    search = (f"?page=activity&who={admin.name}&action=revoke&target=connection"
              "&since=2000-01-01T00%3A00%3A00&until=2100-01-01T00:00Z&oldest=true")

    async def open_then_change() -> tuple[bool, object]:
        applied, location = await _opened_at(model, search, settled)
        assert [e.target for e in model.events] == ["connection 0", "connection 1"]
        model.param.update(action="user.add", oldest_first=False, until=None)
        await settled()
        return applied, location

    applied, location = run_async(open_then_change())
    assert applied
    assert (model.since, model.until) == (datetime(2000, 1, 1), None)
    assert [e.target for e in model.events] == ["connection 3"]
    assert parse_qs(location.search.lstrip("?")) == {  # type: ignore[attr-defined]
        "page": ["activity"], "who": [admin.name], "action": ["user.add"],
        "target": ["connection"], "since": ["2000-01-01T00:00:00"]}


def test_bad_values_in_the_url_are_ignored_or_refused_in_words(sqlite_url, admin, run_async,
                                                               settled):
    _record(sqlite_url, admin, "revoke", "connection 0")
    model = ActivityModel(Backend(admin, sqlite_url))
    applied, _ = run_async(_opened_at(
        model, "?page=activity&since=yesterday&until=2025-13-01&oldest=maybe"
               "&who=&action=no.such", settled))
    assert applied  # the unknown action is a filter, shown in the select: nothing matches
    assert (model.since, model.until, model.oldest_first) == (None, None, False)
    assert model.actions == ["", "revoke", "no.such"]
    assert (model.events, model.total, model.error) == ([], 0, "")

    model = ActivityModel(Backend(admin, sqlite_url))
    applied, _ = run_async(_opened_at(model, "?since=0001-01-01T00:00%2B01:00", settled))
    assert not applied and model.since is None  # out of range once in UTC: ignored

    model = ActivityModel(Backend(admin, sqlite_url))
    run_async(_opened_at(model, "?since=2030-01-01&until=2020-01-01", settled))
    assert "before it starts" in model.error and model.events == []
    model = ActivityModel(Backend(admin, sqlite_url))
    run_async(_opened_at(model, "?target=" + "x" * 5000, settled))
    assert "at most" in model.error


def test_an_action_the_trail_lacks_stays_choosable(sqlite_url, admin, run_async):
    """The select shows only its choices: an `?action=` missing from them fell back to "All
    actions" in the browser, and the filter with it."""
    _record(sqlite_url, admin, "check", "connection 0")
    model = ActivityModel(Backend(admin, sqlite_url), action="revoke")
    assert model.actions == ["", "revoke"]  # before any read: the view's first options
    run_async(model.refresh())
    assert model.actions == ["", "check", "revoke"] and model.events == []
    model.action = "check"
    run_async(model.refresh())
    assert model.actions == ["", "check"]


def test_events_written_elsewhere_are_caught_up_with_the_filters_and_rows_kept(
        sqlite_url, admin, monkeypatch, run_async):
    monkeypatch.setattr(activity, "PAGE_SIZE", 2)
    _record(sqlite_url, admin, "revoke", *(f"connection {i}" for i in range(5)))
    model = ActivityModel(Backend(admin, sqlite_url), action="revoke")
    run_async(model.refresh())
    run_async(model.load_more())
    assert len(model.events) == 4 and model.total == 5
    assert run_async(model.catch_up(read_change(sqlite_url))) is False  # nothing new: no read

    _record(sqlite_url, admin, "revoke", "connection 5")
    _record(sqlite_url, admin, "check", "connection 0")
    assert run_async(model.catch_up(read_change(sqlite_url))) is True
    assert model.action == "revoke" and model.total == 6
    assert [e.target for e in model.events] == [f"connection {i}" for i in (5, 4, 3, 2)]
    assert model.next_cursor is not None
    run_async(model.load_more())
    assert [e.target for e in model.events][4:] == ["connection 1", "connection 0"]


def test_an_unreachable_store_is_shown_and_left_when_it_is_back(sqlite_url, admin, run_async):
    _record(sqlite_url, admin, "revoke", "connection 0")
    model = ActivityModel(Backend(admin, sqlite_url))
    run_async(model.refresh())
    assert run_async(model.catch_up(Change(None, "cannot use the database"))) is False
    assert model.error == "cannot use the database"
    assert run_async(model.catch_up(read_change(sqlite_url))) is True
    assert model.error == "" and model.total == 1


def test_changes_coming_while_a_catch_up_reads_make_one_more_read(sqlite_url, admin, run_async,
                                                                  changes_while_held):
    model = ActivityModel(Backend(admin, sqlite_url))
    assert run_async(changes_while_held(model.catch_up, model.backend, "acall")) == 2
