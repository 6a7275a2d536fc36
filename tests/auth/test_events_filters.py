"""Listing the audit trail through an `EventFilter` (actor, action, target text, time range),
in SQL on both stores."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import select

from connmodel.errors import InvalidInput
from connmodel.models import AuditEvent
from connmodel.services.events import (
    EventFilter,
    event_actions,
    export_events_csv,
    list_events,
    record,
)

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _seed(db, admin) -> None:
    for i, target in enumerate(["connection 1 (Hubspot)", "connection 2 (Slack)", "user 50%_off",
                                "user 50xyoff", "HUBSPOT profile"]):
        record(db, actor=admin, action="revoke" if i < 2 else "user.add", target=target)
    db.flush()
    for i, event in enumerate(db.exec(select(AuditEvent).order_by(AuditEvent.id)).all()):
        event.at = T0 + timedelta(hours=i)
    db.commit()


def test_target_substring_is_case_insensitive_and_wildcards_are_literal(db, admin, viewer):
    _seed(db, admin)
    targets = [e.target for e in list_events(db, actor=viewer, where=EventFilter(target="hubspot")).items]
    assert targets == ["HUBSPOT profile", "connection 1 (Hubspot)"]
    assert [e.target for e in list_events(db, actor=viewer, where=EventFilter(target="50%_")).items] == ["user 50%_off"]
    assert list_events(db, actor=viewer, where=EventFilter(target="   ")).total == 5


def test_since_inclusive_until_exclusive_paged_and_combined(db, admin):
    _seed(db, admin)
    window = EventFilter(since=T0 + timedelta(hours=1), until=T0 + timedelta(hours=4))
    page = list_events(db, actor=admin, where=window, limit=2)
    assert [e.target for e in page.items] == ["user 50xyoff", "user 50%_off"]
    assert page.total == 3
    rest = list_events(db, actor=admin, where=window, cursor=page.next_cursor, limit=2)
    assert [e.target for e in rest.items] == ["connection 2 (Slack)"]
    assert rest.next_cursor is None
    both = list_events(db, actor=admin, where=EventFilter(action="revoke", target="slack"))
    assert [e.target for e in both.items] == ["connection 2 (Slack)"]
    assert event_actions(db, actor=admin) == ["revoke", "user.add"]


def test_export_follows_the_new_filters(db, admin):
    _seed(db, admin)
    where = EventFilter(target="user", until=T0 + timedelta(hours=3))
    lines = list(export_events_csv(db, actor=admin, where=where))
    assert len(lines) == 2 and "50%_off" in lines[1]


def test_bad_ranges_and_overlong_targets_are_refused(db, admin):
    with pytest.raises(InvalidInput, match="ends .* before it starts"):
        list_events(db, actor=admin, where=EventFilter(since=T0, until=T0))
    with pytest.raises(InvalidInput, match="at most"):
        list_events(db, actor=admin, where=EventFilter(target="x" * 201))


def test_naive_times_are_utc_and_blank_fields_do_not_filter(db, admin, viewer):
    _seed(db, admin)
    naive = EventFilter(since=datetime(2026, 1, 1, 3), until=datetime(2026, 1, 1, 5))
    assert [e.target for e in list_events(db, actor=viewer, where=naive).items] == [
        "HUBSPOT profile", "user 50xyoff"]
    blank = EventFilter(who="", action="", target="", since=None, until=None)
    assert list_events(db, actor=viewer, where=blank).total == 5


def test_who_is_the_exact_actor_name_spaces_trimmed(db, admin, viewer):
    _seed(db, admin)
    record(db, actor=viewer, action="revoke", target="connection 3")
    db.commit()
    mine = list_events(db, actor=viewer, where=EventFilter(who=f"  {viewer.name} "))
    assert [(e.actor, e.target) for e in mine.items] == [(viewer.name, "connection 3")]
    assert list_events(db, actor=viewer, where=EventFilter(who=viewer.name[:-1])).total == 0
