"""Revoke through the service on both stores: what an admin sees before and after."""

import pytest

from connmodel.errors import AlreadyRevoked, NotFound
from connmodel.services.connections import ConnectionFilter, list_connections, revoke_connection
from connmodel.services.servers import list_servers
from connmodel.store import session


def test_revoke_removes_connection_and_disconnects_profile_servers(demo_url, admin):
    with session(demo_url) as s:
        google = list_connections(s, actor=admin, where=ConnectionFilter(profile="Google")).items[0]
        result = revoke_connection(s, actor=admin, connection_id=google.id)
        assert result.disconnected_servers == ["Drive", "Gsuite"]
    with session(demo_url) as s:
        assert list_connections(s, actor=admin, where=ConnectionFilter(profile="Google")).items == []
        states = {x.name: x.state for x in list_servers(s, actor=admin, profile="Google").items}
        assert states == {"Drive": "disconnected", "Gsuite": "disconnected"}
        with pytest.raises(AlreadyRevoked):
            revoke_connection(s, actor=admin, connection_id=google.id)
        with pytest.raises(NotFound):
            revoke_connection(s, actor=admin, connection_id=999_999)
