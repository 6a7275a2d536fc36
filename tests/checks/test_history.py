"""The check history notebooks chart: every check stored, paged newest first, counted per day."""

from datetime import timedelta

from sqlalchemy import select

from checks.conftest import connect
from connmodel.checks import CheckRequest, prune_history, run_checks
from connmodel.checks.history import check_history, daily_checks
from connmodel.models import CheckResult, utcnow
from connmodel.store import session


def test_history_pages_counts_and_prunes(store_url, admin, viewer, keyring, fleet):
    with session(store_url) as s:
        conn = connect(s, actor=admin, keyring=keyring, profile="Noauth", kind="none",
                       servers={"Calculator": fleet.url("calculator"),
                                "Web page": fleet.url("plain")})
    for _ in range(2):
        run_checks(store_url, actor=admin, keyring=keyring, request=CheckRequest(ids=(conn.id,)))
    with session(store_url) as s:
        first = check_history(s, actor=viewer, connection_id=conn.id, limit=3)
        rest = check_history(s, actor=viewer, connection_id=conn.id, cursor=first.next_cursor)
        rows = first.items + rest.items
        assert first.total == 4 and len(rows) == 4 and rest.next_cursor is None
        assert [r.at for r in rows] == sorted((r.at for r in rows), reverse=True)
        assert {(r.server, r.status) for r in rows} == {("Calculator", "Active"),
                                                       ("Web page", "Error")}
        [error, active] = sorted(daily_checks(s, actor=viewer), key=lambda d: d.status)[::-1]
        assert (active.status, active.checks, active.day) == ("Active", 2, utcnow().date())
        assert (error.status, error.checks, error.reachable) == ("Error", 2, True)
        old = s.execute(select(CheckResult).order_by(CheckResult.id)).scalars().first()
        old.at = utcnow() - timedelta(days=45)
        s.commit()
        assert prune_history(s) == 1
        assert check_history(s, actor=viewer).total == 3
