"""`connection_count` (migration 0009's triggers) stays equal to counting the live rows."""

from datetime import UTC, datetime

from sqlalchemy import delete, func, insert, select, update

from connmodel.models import Connection, ConnectionCount
from connmodel.services.connections import revoke_connection, revoke_many
from connmodel.services.generate import generate
from connmodel.store import session

NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)


def _counted(url: str) -> dict[tuple[int, str], int]:
    with session(url) as s:
        rows = s.execute(select(Connection.profile_id, Connection.status, func.count())
                         .where(Connection.revoked_at.is_(None))  # type: ignore[union-attr]
                         .group_by(Connection.profile_id, Connection.status)).all()
    return {(p, st): n for p, st, n in rows}


def _kept(url: str) -> dict[tuple[int, str], int]:
    with session(url) as s:
        rows = s.execute(select(ConnectionCount.profile_id, ConnectionCount.status,
                                ConnectionCount.n)).all()
    return {(p, st): n for p, st, n in rows if n}


def test_counts_follow_inserts_updates_revocations_and_deletes(store_url, admin, keyring):
    with session(store_url) as s:
        generate(s, actor=admin, connections=600, profiles=4, seed=3, keyring=keyring, now=NOW)
    assert _kept(store_url) == _counted(store_url) != {}
    with session(store_url) as s:
        ids = list(s.execute(select(Connection.id).order_by(Connection.id).limit(60)).scalars())
        profiles = sorted(set(s.execute(select(Connection.profile_id)).scalars()))
    with session(store_url) as s:  # status changes, one to the same status, a profile move
        s.execute(update(Connection).where(Connection.id.in_(ids[:10]))  # type: ignore[union-attr]
                  .values(status="Error"))
        s.execute(update(Connection).where(Connection.id == ids[10]).values(status="Active"))
        s.execute(update(Connection).where(Connection.id == ids[11])
                  .values(profile_id=profiles[-1], status="Inactive"))
        s.execute(update(Connection).where(Connection.id == ids[12])  # not counted columns
                  .values(account="moved@example.com"))
        s.commit()
    assert _kept(store_url) == _counted(store_url)
    with session(store_url) as s:
        revoke_connection(s, actor=admin, connection_id=ids[20])
    with session(store_url) as s:
        revoke_many(s, actor=admin, connection_ids=ids[21:40])
    assert _kept(store_url) == _counted(store_url)
    with session(store_url) as s:  # a revoked row changed moves no count; one row added
        s.execute(update(Connection).where(Connection.id == ids[20]).values(status="Error"))
        s.execute(insert(Connection).values(profile_id=profiles[0], service="API Key",
                                            account="new@example.com", status="Error",
                                            created_at=NOW))
        s.commit()
    assert _kept(store_url) == _counted(store_url)
    with session(store_url) as s:  # and deleted again
        s.execute(delete(Connection).where(Connection.account == "new@example.com"))
        s.commit()
    assert _kept(store_url) == _counted(store_url)
