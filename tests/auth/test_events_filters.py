"""Listing the audit trail through an `EventFilter` (actor, action, target text, time range),
in SQL on both stores."""

import string
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


TARGETS = ["connection 7 (Google / Google OAuth2 Provider / ada@example.com)",
           "connection 8 (Hubspot / API Key / Configured)", "user Ünïcødé 🔑 added",
           "user ünïcødé lower", 'profile "quoted" <b>markup</b>', "server 50%_off (http://x)",
           "connection 70 (Google / Google OAuth2 Provider / bob@example.com)"]


def _trail(db, admin) -> list[AuditEvent]:
    """Forty-two events: each target six times, by two actors and three actions."""
    for i in range(6):
        for target in TARGETS:
            record(db, actor=admin if i % 2 else viewer_named("bob"),
                   action=("revoke", "connection.refresh", "user.add")[i % 3], target=target)
    db.commit()
    return list(db.exec(select(AuditEvent).order_by(AuditEvent.id.desc())).all())


def viewer_named(name: str):
    from connmodel.permissions import Actor, Role
    return Actor(name, Role.VIEWER)


def _every_page(db, actor, where: EventFilter, limit: int = 4) -> tuple[list[int], tuple]:
    page = list_events(db, actor=actor, where=where, limit=limit)
    counted, ids = (page.total, page.total_exact), [e.id for e in page.items]
    while page.next_cursor:
        page = list_events(db, actor=actor, where=where, cursor=page.next_cursor, limit=limit)
        ids += [e.id for e in page.items]
    return ids, counted


@pytest.mark.parametrize("cap, recent", [(10_000, 20_000), (5, 20_000), (5, 3)])
def test_a_target_search_lists_what_a_substring_test_of_every_event_finds(db, admin,
                                                                           monkeypatch, cap,
                                                                           recent):
    """Through the text index of targets (migration 0019) or not: a rare needle's hits, a
    common one's (more than the cap: 5 here) walked in the index's order, a needle too short
    for trigrams, one beyond ASCII, LIKE's wildcards, quotes and markup; alone and with an
    actor, an action or a time; every page in order (newest first and oldest first), and
    the count exact up to the cap, "at least" beyond. A common needle's page is looked for
    among the `recent` newest events first, then along the text index."""
    from connmodel.services import events

    monkeypatch.setattr(events, "COUNT_CAP", cap)
    monkeypatch.setattr(events, "RECENT_WALKED", recent)
    trail = _trail(db, admin)
    since = trail[20].at
    for needle in ["ada@example", "connection 7", "Google", "ex", "Ünïcødé", "ünï", "50%_",
                   '"quoted"', "<b>markup", "nothing-here", "CONNECTION"]:
        for others in ({}, {"who": "bob"}, {"action": "revoke"}, {"since": since}):
            where = EventFilter(target=needle, **others)
            expected = [e.id for e in trail if _holds(db, e.target, needle)
                        and _matches(e, others)]
            ids, counted = _every_page(db, admin, where)
            assert ids == expected, (needle, others)
            assert counted in {(len(expected), True), (cap, False)}, (needle, others)
            assert counted[1] or len(expected) > cap, (needle, others)
            oldest = list_events(db, actor=admin, where=where, oldest_first=True, limit=50)
            assert [e.id for e in oldest.items] == expected[::-1][:50]


def _holds(db, target: str, needle: str) -> bool:
    """ILIKE's test: PostgreSQL folds every letter's case, SQLite's LIKE only ASCII's."""
    if db.get_bind().dialect.name == "postgresql":
        return needle.lower() in target.lower()
    ascii_lower = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)
    return needle.translate(ascii_lower) in target.translate(ascii_lower)


def _matches(event: AuditEvent, others: dict) -> bool:
    return (event.actor == others.get("who", event.actor)
            and event.action == others.get("action", event.action)
            and event.at >= others.get("since", event.at))


def test_sqlite_reads_a_targets_hits_through_its_text_index(sqlite_url, admin,
                                                                          monkeypatch, executed):
    """A needle with more events than the cap, alone, is read from the text index newest hit
    first and stopped at the page: ORDER BY its rowid once (twice, FTS5 could not walk in
    order, and every hit was sorted: 0.9 s for a needle in most of 1.3 million events)."""

    from connmodel.services import events
    from connmodel.store import session

    monkeypatch.setattr(events, "COUNT_CAP", 5)
    monkeypatch.setattr(events, "RECENT_WALKED", 2)  # the newest hold less than a page
    with session(sqlite_url) as s:
        _trail(s, admin)
    with session(sqlite_url) as s, executed(sqlite_url, "SELECT audit_event_fts.rowid,") as seen:
        page = list_events(s, actor=admin, where=EventFilter(target="Google"), limit=3)
        assert (page.total, page.total_exact) == (5, False)
        [(statement, params)] = seen
        plan = " ".join(row[3] for row in s.connection().exec_driver_sql(
            f"EXPLAIN QUERY PLAN {statement}", params).all())
    assert "audit_event_fts VIRTUAL TABLE" in plan and "TEMP B-TREE" not in plan, plan
    # A rare needle: its hits' ids, read by primary key (it scanned the trail: 1.2 s at 1.3M).
    monkeypatch.setattr(events, "COUNT_CAP", 10_000)
    with session(sqlite_url) as s, executed(sqlite_url, "SELECT audit_event.id,") as seen:
        page = list_events(s, actor=admin, where=EventFilter(target="ada@example"), limit=3)
        assert (page.total, page.total_exact, len(page.items)) == (6, True, 3)
        statement, params = seen[0]
        plan = " ".join(row[3] for row in s.connection().exec_driver_sql(
            f"EXPLAIN QUERY PLAN {statement}", params).all())
    assert "SCAN audit_event " not in f"{plan} ", plan


def test_an_events_target_is_clipped_to_what_the_trail_holds(db, admin, keyring):
    """A valid 1,999-character URL made `server add`'s event text longer than its column:
    PostgreSQL refused the whole change ("value too long"). A refused 3,000-character profile
    name was kept whole in its failure event and filled the Activity page."""
    from connmodel.providers.setup import new_profile
    from connmodel.services.servers import add_server

    url = "http://h/" + "u" * 1990
    add_server(db, actor=admin, name="Big", url=url)
    db.commit()
    [added] = list_events(db, actor=admin, where=EventFilter(action="server.add")).items
    assert len(added.target) == 2000 and added.target.endswith("u…")
    assert added.target.startswith("server Big (http://h/uu")
    with pytest.raises(InvalidInput, match="at most 100"):
        new_profile(db, actor=admin, keyring=keyring, name="n" * 3000, provider="Nope")
    [refused] = list_events(db, actor=admin, where=EventFilter(action="profile.create")).items
    assert refused.outcome.startswith("failed: ") and refused.target == "profile " + "n" * 191 + "…"
