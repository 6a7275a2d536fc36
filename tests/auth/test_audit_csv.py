"""The audit trail's CSV export: every event, safe to open in a spreadsheet."""

import csv
import io

from connmodel.permissions import Actor, Role
from connmodel.services.events import EventFilter, export_events_csv, record


def test_export_pages_through_every_event_and_neutralises_formulas(db, admin):
    hostile = ["=HYPERLINK(\"http://evil\")", "+1+1", "-2", "@SUM(A1)", "\tx", "plain"]
    for i, target in enumerate(hostile * 3):
        record(db, actor=Actor(target if i % 2 else "alice", Role.ADMIN), action="revoke",
               target=target, outcome="ok")
    db.commit()
    text = "".join(export_events_csv(db, actor=admin, page_size=4))
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == ["at", "actor", "action", "target", "outcome"]
    assert len(rows) == 1 + len(hostile) * 3
    for row in rows[1:]:
        for cell in row:
            assert not cell.startswith(("=", "+", "-", "@", "\t")), cell
    assert sorted({r[3] for r in rows[1:]}) == sorted(
        ["'" + t if t[0] in "=+-@\t" else t for t in hostile])


def test_export_respects_filters_and_viewers_may_export(db, admin, viewer):
    record(db, actor=admin, action="revoke", target="connection 1")
    record(db, actor=admin, action="user.add", target="user bob")
    db.commit()
    rows = list(csv.reader(io.StringIO("".join(
        export_events_csv(db, actor=viewer, where=EventFilter(action="revoke"))))))
    assert [r[3] for r in rows[1:]] == ["connection 1"]
