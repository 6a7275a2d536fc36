"""A disabled connection's hint says to enable it; an expired one keeps the seed's advice.

Both are Inactive: the hint follows the connection's `disabled_by` marker, never its reason text,
in every place a hint is read (a listing page, the cards' first pages, View).
"""

from sqlalchemy import select

from connmodel.models import Connection, Profile
from connmodel.providers.lifecycle import disable_connection, enable_connection
from connmodel.services.connections import ConnectionFilter, get_connection, list_connections
from connmodel.services.groups import GroupFilter, first_pages
from connmodel.status import disabled_hint
from connmodel.store import session

# The seed page's Troubleshooting table, word for word.
SEED_INACTIVE = "Token may have expired, re-authorize"
SEED_ERROR = "Re-authenticate or check credentials"


def _hints(url: str, admin) -> tuple[dict[str, str], dict[str, str]]:
    """Hint by profile, from the connections listing and from the cards' first pages."""
    with session(url) as s:
        listed = {c.profile: c.hint for c in list_connections(s, actor=admin, limit=50).items}
        ids = list(s.execute(select(Profile.id)).scalars())
        pages = first_pages(s, actor=admin, where=GroupFilter(), profile_ids=ids)
    cards = {c.profile: c.hint for page in pages.values() for c in page.items}
    return listed, cards


def test_disabled_and_expired_inactive_connections_get_their_own_hints(demo_url, admin):
    with session(demo_url) as s:
        [hubspot] = list_connections(s, actor=admin,
                                     where=ConnectionFilter(profile="Hubspot")).items
        disable_connection(s, actor=admin, connection_id=hubspot.id)
        view = get_connection(s, actor=admin, connection_id=hubspot.id)
    assert (view.status, view.status_reason) == ("Inactive", f"disabled by {admin.name}")
    assert view.hint == (f"Disabled, not expired: Enable it to use it again (View → Enable, "
                         f"or: connmodel enable {hubspot.id})")  # its own id, no markup
    with session(demo_url) as s:
        [dev] = list_connections(s, actor=admin, where=ConnectionFilter(profile="Google Dev")).items
    expected = {"Noauth": "", "Google": "", "Hubspot": disabled_hint(hubspot.id),
                "Google Dev": disabled_hint(dev.id),  # the demo's connection disabled by "admin"
                "Hubspot Sandbox": SEED_INACTIVE,  # Inactive: token expired
                "GitHub Staging": SEED_ERROR}
    listed, cards = _hints(demo_url, admin)
    assert listed == expected and cards == expected

    with session(demo_url) as s:
        enable_connection(s, actor=admin, connection_id=hubspot.id)
        assert get_connection(s, actor=admin, connection_id=hubspot.id).hint == ""
    listed, cards = _hints(demo_url, admin)
    assert listed["Hubspot"] == cards["Hubspot"] == ""


def test_an_inactive_reason_that_only_reads_like_disabled_keeps_the_seed_hint(demo_url, admin):
    """An expiry whose provider message starts 'disabled by' is still an expiry."""
    with session(demo_url) as s:
        [sandbox] = list_connections(s, actor=admin,
                                     where=ConnectionFilter(profile="Hubspot Sandbox")).items
        row = s.get_one(Connection, sandbox.id)
        row.status_reason = "disabled by the provider: trial ended"
        s.commit()
        assert get_connection(s, actor=admin, connection_id=sandbox.id).hint == SEED_INACTIVE
    listed, cards = _hints(demo_url, admin)
    assert listed["Hubspot Sandbox"] == cards["Hubspot Sandbox"] == SEED_INACTIVE


def test_the_demos_connections_were_not_used_before_they_existed(demo_url):
    """Every demo row read "Last used 19:32, Created 21:32"."""
    with session(demo_url) as s:
        rows = s.execute(select(Connection.created_at, Connection.last_used_at)).all()
    assert rows and all(used is None or used >= created for created, used in rows)
