"""The read commands on both stores: profiles, connections, show, servers, events.

Read-only tests share one demo store per module and store kind (`seeded_url`); tests that add
rows get their own (`demo_url`).
"""

import re

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import insert, select

from connmodel.models import Connection, Profile, utcnow
from connmodel.paging import COUNT_CAP
from connmodel.permissions import Actor
from connmodel.secrets import KeyRing
from connmodel.services.demo import DEMO_SECRETS, seed_demo
from connmodel.store import session

SEED_PROFILES = {
    "Noauth": ("No Authentication Provider", "Configured", "Active"),
    "Hubspot": ("API Key Authentication Provider", "Configured", "Active"),
    "Google": ("Google OAuth2 Provider", "user@example.com", "Active"),
}


@pytest.fixture(scope="module")
def seeded_url(module_store_url) -> str:
    """The demo data, seeded once for this module's read-only tests (by 'alice')."""
    with session(module_store_url) as s:
        seed_demo(s, actor=Actor("alice"), keyring=KeyRing((Fernet.generate_key(),), "test"))
    return module_store_url


def _add_connections(url: str, profile: str, n: int) -> None:
    """n more live connections of `profile`, inserted in bulk (the service path is tested elsewhere)."""
    with session(url) as s:
        pid = s.execute(select(Profile.id).where(Profile.name == profile)).scalar_one()
        now = utcnow()
        s.execute(insert(Connection), [
            {"profile_id": pid, "service": "API Key Authentication Provider",
             "account": f"bulk{i}@example.com", "status": "Active", "created_at": now}
            for i in range(n)
        ])
        s.commit()


def test_profiles_json_has_the_seed_page_cards(seeded_url, cli):
    cards = {c["name"]: c for c in cli("profiles", "-d", seeded_url, "-f", "json").json["items"]}
    for name, (service, account, status) in SEED_PROFILES.items():
        card = cards[name]
        assert card["description"] == "Connections in this profile"
        assert card["provider"] == service
        (conn,) = card["connections"]
        assert set(conn) == {"id", "service", "account", "status", "status_reason"}
        assert (conn["service"], conn["account"], conn["status"]) == (service, account, status)
    assert cards["GitHub Staging"]["connections"][0]["status"] == "Error"
    assert cards["GitHub Staging"]["connections"][0]["status_reason"].startswith("invalid_grant")
    assert {c["environment"] for c in cards.values()} == {"dev", "staging", "production"}


def test_profiles_table_reads_like_the_page(seeded_url, cli):
    result = cli("profiles", "-d", seeded_url)
    assert result.code == 0
    assert "Hubspot · production · API Key Authentication Provider — Connections in this profile" \
        in result.out
    assert re.search(r"│ \d+ +│ Google OAuth2 Provider +│ user@example\.com +│ Active", result.out)
    assert "1 connection (1 Error)" in result.out


def test_a_big_profile_shows_its_first_connections_and_its_counts(demo_url, cli):
    _add_connections(demo_url, "Hubspot", 30)
    card = next(c for c in cli("profiles", "-d", demo_url, "-f", "json", "--limit", "5").json["items"]
                if c["name"] == "Hubspot")
    assert len(card["connections"]) == 5 and card["total"] == 31
    assert card["counts"] == {"Active": 31, "Inactive": 0, "Error": 0}
    assert "first 5 of 31 connections (31 Active)" in cli("profiles", "-d", demo_url, "-n", "5").out
    only_counts = cli("profiles", "-d", demo_url, "-f", "json", "--limit", "0").json["items"]
    assert all(c["connections"] == [] for c in only_counts)


def test_profiles_are_paged_by_name(seeded_url, cli):
    """A gateway with thousands of profiles gets them a page at a time, walked with --after."""
    first = cli("profiles", "-d", seeded_url, "-f", "json", "--limit-profiles", "4", "-n", "0").json
    assert first["total"] == 6 and first["total_exact"] and len(first["items"]) == 4
    rest = cli("profiles", "-d", seeded_url, "-f", "json", "--limit-profiles", "4",
               "--after", first["next_cursor"]).json
    assert rest["next_cursor"] is None and len(rest["items"]) == 2
    names = [c["name"] for c in first["items"] + rest["items"]]
    assert names == sorted(names) and set(SEED_PROFILES) <= set(names)
    table = cli("profiles", "-d", seeded_url, "--limit-profiles", "4").out
    assert f"4 shown of 6 profiles; next page: --after {first['next_cursor']}" in table


def test_connections_filters_sorts_and_pages(seeded_url, cli):
    page = cli("connections", "-d", seeded_url, "-f", "json").json
    assert set(page) == {"items", "next_cursor", "total", "total_exact"}
    assert page["total"] == 6 and page["total_exact"] and page["next_cursor"] is None

    errors = cli("connections", "-d", seeded_url, "-f", "json", "--status", "error").json
    assert [c["profile"] for c in errors["items"]] == ["GitHub Staging"]
    prod = cli("connections", "-d", seeded_url, "-f", "json", "-e", "production").json
    assert {c["profile"] for c in prod["items"]} == {"Hubspot", "Google"}
    found = cli("connections", "-d", seeded_url, "-f", "json", "--search", "example.com").json
    assert {c["account"] for c in found["items"]} == {
        "user@example.com", "ci-bot@example.com", "dev@example.com"}
    desc = cli("connections", "-d", seeded_url, "-f", "json", "--sort", "-account").json
    accounts = [c["account"] for c in desc["items"]]
    assert accounts == sorted(accounts, reverse=True)

    seen, after = [], []
    while True:
        page = cli("connections", "-d", seeded_url, "-f", "json", "--limit", "4", *after).json
        seen += [c["id"] for c in page["items"]]
        if not page["next_cursor"]:
            break
        after = ["--after", page["next_cursor"]]
    assert len(seen) == len(set(seen)) == 6


def test_connections_table_prints_count_and_next_cursor(seeded_url, cli):
    result = cli("connections", "-d", seeded_url, "--limit", "2")
    assert result.code == 0
    assert "│ Noauth " in result.out and "│ Hubspot " in result.out
    footer = result.out.strip().splitlines()[-1]
    cursor = re.fullmatch(r"2 shown of 6 connections; next page: --after (\S+)", footer).group(1)
    rest = cli("connections", "-d", seeded_url, "--after", cursor).out
    assert "│ Google " in rest and "│ Noauth " not in rest


def test_count_is_capped_at_ten_thousand(demo_url, cli):
    _add_connections(demo_url, "Noauth", COUNT_CAP + 1)
    page = cli("connections", "-d", demo_url, "-f", "json", "--profile", "Noauth").json
    assert (page["total"], page["total_exact"]) == (COUNT_CAP, False)
    footer = cli("connections", "-d", demo_url, "-p", "Noauth").out.strip().splitlines()[-1]
    assert footer.startswith("50 shown of at least 10,000 connections; next page: --after ")


def test_show_masks_every_secret_and_lists_servers(seeded_url, cli):
    google = cli("connections", "-d", seeded_url, "-f", "json", "-p", "Google").json["items"][0]
    result = cli("show", str(google["id"]), "-d", seeded_url, "-f", "json")
    detail = result.json
    assert {"id", "profile", "service", "account", "status", "config", "mcp_servers"} <= set(detail)
    assert (detail["profile"], detail["account"]) == ("Google", "user@example.com")
    assert detail["config"]["client_secret"] == "••••"
    assert detail["config"]["credential"].startswith("••••")
    assert [s["name"] for s in detail["mcp_servers"]] == ["Drive", "Gsuite"]
    table = cli("show", str(google["id"]), "-d", seeded_url).out
    assert "Google OAuth2 Provider (oauth2)" in table and "│ Drive " in table
    for secret in DEMO_SECRETS:
        assert secret not in result.out and secret not in table


def test_servers_and_events(seeded_url, cli):
    servers = cli("servers", "-d", seeded_url, "-f", "json").json
    calculator = next(s for s in servers["items"] if s["name"] == "Calculator")
    assert {"name", "url", "profile", "state", "reason"} <= set(calculator)
    assert (calculator["profile"], calculator["state"]) == ("Noauth", "connected")
    assert "│ Calculator " in cli("servers", "-d", seeded_url).out

    events = cli("events", "-d", seeded_url, "-f", "json", "--limit", "3").json
    assert len(events["items"]) == 3 and events["next_cursor"]
    first = events["items"][0]
    assert {"at", "actor", "action", "target", "outcome"} <= set(first)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", first["at"])
    profile_events = cli("events", "-d", seeded_url, "-f", "json", "--action", "profile.create",
                         "--actor", "alice").json
    assert profile_events["total"] == 6
    assert cli("events", "-d", seeded_url, "--actor", "nobody").out.strip().endswith(
        "0 shown of 0 events")


def _field(table: str, name: str) -> str | None:
    """The value `show` prints for a field."""
    for line in table.splitlines():
        cells = [c.strip() for c in line.split("│")]
        if len(cells) == 4 and cells[1] == name:
            return cells[2]
    return None


def test_show_tells_to_enable_a_disabled_connection_and_to_reauthorize_an_expired_one(demo_url,
                                                                                       cli):
    listed = cli("connections", "-d", demo_url, "-f", "json").json["items"]
    ids = {c["profile"]: str(c["id"]) for c in listed}
    assert cli("disable", ids["Hubspot"], "-d", demo_url).code == 0
    disabled = cli("show", ids["Hubspot"], "-d", demo_url).out
    assert (_field(disabled, "Status"), _field(disabled, "Reason")) == ("Inactive",
                                                                        "disabled by alice")
    assert _field(disabled, "Hint") == ("Disabled, not expired: Enable it to use it again "
                                        f"(View → Enable, or: connmodel enable {ids['Hubspot']})")
    expired = cli("show", ids["Hubspot Sandbox"], "-d", demo_url).out  # Inactive: token expired
    assert _field(expired, "Hint") == "Token may have expired, re-authorize"
    error = cli("show", ids["GitHub Staging"], "-d", demo_url).out
    assert _field(error, "Hint") == "Re-authenticate or check credentials"
    demo_disabled = cli("show", ids["Google Dev"], "-d", demo_url, "-f", "json").json
    assert demo_disabled["hint"].startswith("Disabled, not expired: Enable it")
    assert cli("enable", ids["Hubspot"], "-d", demo_url).code == 0
    assert _field(cli("show", ids["Hubspot"], "-d", demo_url).out, "Hint") == "–"  # Active
