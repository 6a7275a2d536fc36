"""Revoke through the service: what it wipes, hides, disconnects and records, and who may do it."""

import threading

import pytest
from sqlalchemy import func, select

from connmodel.errors import AlreadyRevoked, NotFound, PermissionDenied
from connmodel.models import AuditEvent, Connection, McpServer, Profile
from connmodel.services.connections import (
    ConnectionFilter,
    get_connection,
    list_connections,
    revoke_connection,
)
from connmodel.services.profiles import list_profiles
from connmodel.services.servers import list_servers
from connmodel.store import session


def _connection_of(url: str, admin, profile: str) -> Connection:
    with session(url) as s:
        pid = s.execute(select(Profile.id).where(Profile.name == profile)).scalar_one()
        return s.execute(select(Connection).where(Connection.profile_id == pid)).scalar_one()


def _events(url: str) -> list[AuditEvent]:
    with session(url) as s:
        return list(s.execute(select(AuditEvent).order_by(AuditEvent.id)).scalars())


def _servers(url: str) -> dict[str, tuple[str, str | None]]:
    with session(url) as s:
        return {m.name: (m.state, m.reason) for m in s.execute(select(McpServer)).scalars()}


def _viewer_may_not_revoke_and_the_attempt_is_audited(url: str, viewer, google: Connection) -> None:
    servers, events = _servers(url), _events(url)
    with pytest.raises(PermissionDenied) as info, session(url) as s:
        revoke_connection(s, actor=viewer, connection_id=google.id)
    assert str(info.value) == "victor (viewer) may not write: an admin may"
    assert _connection_of(url, viewer, "Google") == google
    assert _servers(url) == servers
    new_events = _events(url)[len(events):]
    assert [(e.actor, e.action, e.target, e.outcome) for e in new_events] == [
        ("victor", "denied", "revoke_connection",
         "refused: victor (viewer) may not write: an admin may")]


def test_a_refusal_names_the_roles_that_may():
    """A broker token reading was told "an admin may", though read and viewer may too."""
    from connmodel.permissions import Action, Actor, Role, require

    with pytest.raises(PermissionDenied, match="^token:brk \\(broker\\) may not read: an admin "
                                               "or a viewer may$"):
        require(Actor("token:brk", Role.BROKER), Action.READ)
    with pytest.raises(PermissionDenied, match="may not broker: a broker may$"):
        require(Actor("ann", Role.ADMIN), Action.BROKER)


def test_revoke_wipes_hides_disconnects_and_audits_once(demo_url, admin, viewer):
    google = _connection_of(demo_url, admin, "Google")
    assert google.credential_enc and google.credential_hint
    _viewer_may_not_revoke_and_the_attempt_is_audited(demo_url, viewer, google)
    servers_before = _servers(demo_url)
    events_before = _events(demo_url)

    with session(demo_url) as s:
        result = revoke_connection(s, actor=admin, connection_id=google.id)
    assert (result.id, result.profile, result.account) == (google.id, "Google", "user@example.com")
    assert result.disconnected_servers == ["Drive", "Gsuite"]

    with session(demo_url) as s:
        row = s.get(Connection, google.id)
        assert row is not None  # kept for the audit trail ...
        assert (row.credential_enc, row.credential_hint) == (None, None)  # ... without its secret
        assert row.revoked_by == "alice" and row.revoked_at is not None
        all_ids = [c.id for c in list_connections(s, actor=admin, limit=500).items]
        assert google.id not in all_ids and len(all_ids) == 5
        assert list_connections(s, actor=admin, where=ConnectionFilter(search="user@example")
                                ).items == []
        assert list_connections(s, actor=admin, where=ConnectionFilter(profile="Google")).total == 0
        counts = {p.name: p.counts for p in list_profiles(s, actor=admin).items}
        assert sum(counts["Google"].values()) == 0
        with pytest.raises(AlreadyRevoked, match=f"connection {google.id} was already revoked by alice"):
            get_connection(s, actor=admin, connection_id=google.id)
        listed = {x.name: x for x in list_servers(s, actor=admin, limit=100).items}

    servers_after = _servers(demo_url)
    for name in ("Drive", "Gsuite"):
        state, reason = servers_after[name]
        assert state == "disconnected"
        assert reason == (f"connection {google.id} of profile Google revoked by alice; "
                          "reconfigure to reconnect")
        assert listed[name].state == "disconnected" and listed[name].reason == reason
    others = {k: v for k, v in servers_after.items() if k not in ("Drive", "Gsuite")}
    assert others == {k: v for k, v in servers_before.items() if k in others}

    new_events = _events(demo_url)[len(events_before):]
    assert [(e.actor, e.action) for e in new_events] == [("alice", "revoke")]
    assert new_events[0].outcome.startswith("ok; disconnected: Drive, Gsuite")
    assert new_events[0].target == (
        f"connection {google.id} (Google / Google OAuth2 Provider / user@example.com)")

    with session(demo_url) as s:  # again, and an unknown id: refused, nothing written
        with pytest.raises(AlreadyRevoked,
                           match=rf"^connection {google.id} was already revoked by alice at \d{{4}}-"):
            revoke_connection(s, actor=admin, connection_id=google.id)
        with pytest.raises(NotFound, match="^no connection with id 999999$"):
            revoke_connection(s, actor=admin, connection_id=999_999)
    assert len(_events(demo_url)) == len(events_before) + 1
    assert _servers(demo_url) == servers_after


def test_concurrent_revokes_of_one_connection_give_one_revocation(demo_url, admin):
    with session(demo_url) as s:
        ids = [c.id for c in list_connections(s, actor=admin).items]
    events = len(_events(demo_url))
    for connection_id in ids:
        barrier = threading.Barrier(2)
        outcomes: list[str] = []

        def revoke(connection_id: int = connection_id, barrier=barrier, outcomes=outcomes) -> None:
            with session(demo_url) as s:
                s.execute(select(func.count()).select_from(Profile)).scalar_one()  # connect first
                barrier.wait(timeout=10)
                try:
                    revoke_connection(s, actor=admin, connection_id=connection_id)
                    outcomes.append("revoked")
                except AlreadyRevoked:
                    outcomes.append("already revoked")

        threads = [threading.Thread(target=revoke) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=30)
        assert sorted(outcomes) == ["already revoked", "revoked"]
    new_events = _events(demo_url)[events:]
    assert sorted(e.target.split()[1] for e in new_events) == sorted(str(i) for i in ids)
    assert {e.action for e in new_events} == {"revoke"}


def test_revoking_a_disabled_connection_takes_the_servers_its_disable_disconnected(demo_url,
                                                                                    admin):
    """Disabling a connection disconnects its profile's servers ("... enable it to reconnect").
    A revoke then took only connected servers: they kept telling people to Enable a revoked
    connection, and the confirmation (and the API's dry run) listed no server for it."""
    from connmodel.providers.lifecycle import disable_connection
    from connmodel.services.connections import revoke_many
    from connmodel.services.groups import GroupFilter, servers_affected

    google = _connection_of(demo_url, admin, "Google")
    hubspot = _connection_of(demo_url, admin, "Hubspot")
    with session(demo_url) as s:
        for conn in (google, hubspot):
            disable_connection(s, actor=admin, connection_id=conn.id)
    assert _servers(demo_url)["Drive"] == (
        "disconnected", f"connection {google.id} disabled by alice; enable it to reconnect")
    with session(demo_url) as s:
        by_id = servers_affected(s, actor=admin, connection_ids=[google.id])
        by_filter = servers_affected(s, actor=admin, where=GroupFilter(profile="Google"))
        others = servers_affected(s, actor=admin, connection_ids=[hubspot.id])
    assert [x.name for x in by_id] == ["Drive", "Gsuite"]
    # "Google" also names Google Dev, whose (live, enabled) connection's Calendar is connected
    assert [x.name for x in by_filter] == ["Calendar", "Drive", "Gsuite"]
    assert [x.name for x in others] == ["Hubspot CRM"]  # its own disable's servers only

    with session(demo_url) as s:
        done = revoke_connection(s, actor=admin, connection_id=google.id)
        bulk = revoke_many(s, actor=admin, connection_ids=[hubspot.id])
    assert done.disconnected_servers == ["Drive", "Gsuite"]
    assert bulk.revoked[0].disconnected_servers == ["Hubspot CRM"]
    servers = _servers(demo_url)
    assert servers["Drive"] == servers["Gsuite"] == (
        "disconnected", (f"connection {google.id} of profile Google revoked by alice; "
                         "reconfigure to reconnect"))
    assert servers["Hubspot CRM"][1].startswith(f"connection {hubspot.id} of profile Hubspot "
                                                "revoked by alice")
