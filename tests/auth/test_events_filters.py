"""Listing the audit trail by target text and time range, in SQL on both stores."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import select

from connmodel.errors import InvalidInput
from connmodel.models import AuditEvent
from connmodel.services.events import event_actions, export_events_csv, list_events, record

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
    targets = [e.target for e in list_events(db, actor=viewer, target="hubspot").items]
    assert targets == ["HUBSPOT profile", "connection 1 (Hubspot)"]
    assert [e.target for e in list_events(db, actor=viewer, target="50%_").items] == ["user 50%_off"]
    assert list_events(db, actor=viewer, target="   ").total == 5


def test_since_inclusive_until_exclusive_paged_and_combined(db, admin):
    _seed(db, admin)
    page = list_events(db, actor=admin, since=T0 + timedelta(hours=1),
                       until=T0 + timedelta(hours=4), limit=2)
    assert [e.target for e in page.items] == ["user 50xyoff", "user 50%_off"]
    assert page.total == 3
    rest = list_events(db, actor=admin, since=T0 + timedelta(hours=1),
                       until=T0 + timedelta(hours=4), cursor=page.next_cursor, limit=2)
    assert [e.target for e in rest.items] == ["connection 2 (Slack)"]
    assert rest.next_cursor is None
    both = list_events(db, actor=admin, action="revoke", target="slack")
    assert [e.target for e in both.items] == ["connection 2 (Slack)"]
    assert event_actions(db, actor=admin) == ["revoke", "user.add"]


def test_export_follows_the_new_filters(db, admin):
    _seed(db, admin)
    lines = list(export_events_csv(db, actor=admin, target="user", until=T0 + timedelta(hours=3)))
    assert len(lines) == 2 and "50%_off" in lines[1]


def test_bad_ranges_and_overlong_targets_are_refused(db, admin):
    with pytest.raises(InvalidInput, match="ends .* before it starts"):
        list_events(db, actor=admin, since=T0, until=T0)
    with pytest.raises(InvalidInput, match="at most"):
        list_events(db, actor=admin, target="x" * 201)
