"""`connmodel token add|list|revoke` and `connmodel api`'s refusal to serve tokens in clear text."""

import hashlib

from sqlalchemy import select

from connmodel.models import ApiToken, AuditEvent
from connmodel.store import session


def test_a_token_is_printed_once_stored_as_a_hash_listed_and_revoked(cli, sqlite_url):
    added = cli("token", "add", "gateway", "--scope", "Broker", "--expires", "30", "-d", sqlite_url)
    assert added.code == 0, added.err
    token = added.out.strip()
    assert token.startswith("cmt_") and len(token) > 40 and "shown once" in added.err
    with session(sqlite_url) as s:
        row = s.scalars(select(ApiToken)).one()
        assert row.token_hash == hashlib.sha256(token.encode()).hexdigest()
        assert (row.scope, row.created_by) == ("broker", "alice") and row.expires_at
    listed = cli("token", "list", "-d", sqlite_url, "-f", "json")
    assert [t["name"] for t in listed.json] == ["gateway"]
    assert token not in listed.out and row.token_hash not in listed.out
    assert cli("token", "add", "gateway", "-d", sqlite_url).one_line_error().endswith(
        "a token named 'gateway' exists: revoke it or choose another name")
    assert cli("token", "revoke", "gateway", "-d", sqlite_url).out == \
        "token gateway (broker) revoked\n"
    assert "already revoked by alice" in cli("token", "revoke", "gateway", "-d",
                                             sqlite_url).one_line_error()
    assert cli("token", "list", "-d", sqlite_url, "-f", "json").json == []
    assert len(cli("token", "list", "--revoked", "-d", sqlite_url, "-f", "json").json) == 1
    # "revoke it" was the remedy offered for a name a revoked token keeps
    assert cli("token", "add", "gateway", "-d", sqlite_url).one_line_error().endswith(
        "a revoked token was named 'gateway' (its events keep the name): choose another name")
    with session(sqlite_url) as s:
        actions = [e.action for e in s.scalars(select(AuditEvent).order_by(AuditEvent.id))]
    assert actions == ["token.add", "token.revoke"]


def test_bad_token_input_is_one_line_and_changes_nothing(cli, sqlite_url):
    assert "unknown scope 'root'" in cli("token", "add", "x", "--scope", "root", "-d",
                                         sqlite_url).one_line_error()
    assert "between 1 and 3650" in cli("token", "add", "x", "--expires", "0", "-d",
                                       sqlite_url).one_line_error()
    assert "no token named 'x'" in cli("token", "revoke", "x", "-d", sqlite_url).one_line_error()
    # the limit of a token's name (60), not of other names (100): a 70-character one was told
    # "at most 60" only after a 101-character one was told "at most 100"
    for length in (61, 101):
        assert cli("token", "add", "t" * length, "-d", sqlite_url).one_line_error().endswith(
            f"token name is {length} characters long: at most 60")
    with session(sqlite_url) as s:
        assert s.scalars(select(ApiToken)).all() == []


def test_api_refuses_clear_text_beyond_loopback(cli, sqlite_url, tmp_path):
    refused = cli("api", "--host", "0.0.0.0", "-d", sqlite_url).one_line_error()
    assert "refusing to serve API tokens in clear text on 0.0.0.0" in refused
    assert "--behind-proxy" in refused
    half = cli("api", "--host", "10.1.2.3", "--ssl-certfile", str(tmp_path / "c.pem"), "-d",
               sqlite_url).one_line_error()
    assert "both --ssl-certfile and --ssl-keyfile" in half
