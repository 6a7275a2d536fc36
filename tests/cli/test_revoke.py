"""`connmodel revoke`: the confirmation, the second revoke, and two processes revoking at once."""

import os
import subprocess
import sys
from pathlib import Path

from connmodel.status import REVOKE_NOTE

SCRIPT = Path(sys.executable).parent / "connmodel"


def _google_id(cli, url: str) -> int:
    return cli("connections", "-d", url, "-f", "json", "-p", "Google").json["items"][0]["id"]


def _revoke_events(cli, url: str) -> int:
    return cli("events", "-d", url, "-f", "json", "--action", "revoke").json["total"]


def test_confirmed_revoke_names_the_connection_and_the_servers(demo_url, cli):
    cid = _google_id(cli, demo_url)
    result = cli("revoke", str(cid), "-d", demo_url, stdin="y\n")
    assert result.code == 0, result.err
    assert f"Revoke connection {cid}: Google / Google OAuth2 Provider / user@example.com" \
        in result.err  # the question on stderr, the outcome alone on stdout
    assert REVOKE_NOTE in result.err
    assert "Servers that will be disconnected: Drive, Gsuite" in result.err
    assert result.out == (f"revoked connection {cid} (Google / Google OAuth2 Provider / "
                          "user@example.com); disconnected: Drive, Gsuite\n")

    assert cli("connections", "-d", demo_url, "-f", "json", "-p", "Google").json["items"] == []
    servers = cli("servers", "-d", demo_url, "-f", "json", "-p", "Google").json["items"]
    assert {s["state"] for s in servers} == {"disconnected"}
    assert all(f"connection {cid}" in s["reason"] for s in servers)

    again = cli("revoke", str(cid), "-d", demo_url, "--yes")
    assert f"connection {cid} was already revoked by alice" in again.one_line_error()
    assert cli("revoke", str(cid), "-d", demo_url, stdin="y\n").code == 1
    assert _revoke_events(cli, demo_url) == 1


def _last_error(result) -> str:
    """The refusal after a question (both on stderr; a piped answer is not echoed, so on the
    question's line): exit 1, no traceback, nothing on stdout."""
    assert (result.code, result.out) == (1, ""), result.out
    assert "Traceback" not in result.err
    return result.err.strip().splitlines()[-1].rpartition("[y/N]: ")[2]


def test_declined_or_unanswered_prompt_changes_nothing(demo_url, cli):
    cid = _google_id(cli, demo_url)
    declined = cli("revoke", str(cid), "-d", demo_url, stdin="n\n")
    assert _last_error(declined) == "connmodel: not revoked, nothing changed"
    unanswered = cli("revoke", str(cid), "-d", demo_url, stdin="")
    assert _last_error(unanswered) == "connmodel: aborted, nothing changed"
    assert _google_id(cli, demo_url) == cid
    assert _revoke_events(cli, demo_url) == 0


def test_revoke_json(demo_url, cli):
    """With or without --yes, stdout is the JSON alone (the question went to stdout: piped
    into a JSON reader, an answered prompt broke it)."""
    cid = _google_id(cli, demo_url)
    expected = {"id": cid, "profile": "Google", "account": "user@example.com",
                "service": "Google OAuth2 Provider", "disconnected_servers": ["Drive", "Gsuite"]}
    assert cli("revoke", str(cid), "-d", demo_url, "-y", "-f", "json").json == expected
    hubspot = cli("connections", "-d", demo_url, "-f", "json", "-p", "Hubspot").json["items"][0]
    asked = cli("revoke", str(hubspot["id"]), "-d", demo_url, "-f", "json", stdin="y\n")
    assert asked.json["disconnected_servers"] == ["Hubspot CRM"], asked.out


def test_a_disabled_connections_revoke_names_the_servers_its_disable_disconnected(demo_url,
                                                                                   cli):
    """The question listed only connected servers: "none" for a disabled connection, whose
    revoke then disconnected (and re-reasoned) Drive and Gsuite."""
    cid = _google_id(cli, demo_url)
    assert cli("disable", str(cid), "-d", demo_url).code == 0
    declined = cli("revoke", str(cid), "-d", demo_url, stdin="n\n")
    assert "Servers that will be disconnected: Drive, Gsuite" in declined.err
    assert _last_error(declined) == "connmodel: not revoked, nothing changed"


def test_two_processes_revoking_at_once_give_one_revocation(demo_url, cli):
    """Both `connmodel revoke ID --yes` start together: one wins, one is told, one event."""
    cid = _google_id(cli, demo_url)
    command = [str(SCRIPT), "revoke", str(cid), "--yes", "-d", demo_url]
    env = {**os.environ, "CONNMODEL_ACTOR": "alice"}
    procs = [subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env=env) for _ in range(2)]
    outputs = [p.communicate(timeout=150) for p in procs]  # reads the pipes while they run
    outcomes = sorted((p.returncode, *out) for p, out in zip(procs, outputs, strict=True))
    (won, won_out, _), (lost, _, lost_err) = outcomes
    assert (won, lost) == (0, 1)
    assert won_out.startswith(f"revoked connection {cid} (Google")
    assert lost_err.startswith(f"connmodel: error: connection {cid} was already revoked")
    assert "Traceback" not in lost_err
    assert _revoke_events(cli, demo_url) == 1


def test_revoke_matching_asks_then_revokes_every_match(demo_url, cli):
    staging = cli("connections", "-d", demo_url, "-f", "json", "-e", "staging").json["total"]
    declined = cli("revoke-matching", "-e", "staging", "-d", demo_url, stdin="n\n")
    assert f"Revoke {staging} connections matching this filter?" in declined.err
    assert ("Servers that will be disconnected: GitHub Issues, Hubspot Sandbox CRM"
            in declined.err)
    assert _last_error(declined) == "connmodel: not revoked, nothing changed"
    done = cli("revoke-matching", "-e", "staging", "-d", demo_url, "-f", "json", stdin="y\n")
    assert done.code == 0, done.err
    assert (done.json["revoked"], done.json["appeared"]) == (2, 0)
    assert cli("connections", "-d", demo_url, "-f", "json", "-e", "staging").json["total"] == 0
    assert _revoke_events(cli, demo_url) == staging == 2
    none = cli("revoke-matching", "-e", "staging", "-d", demo_url)
    assert none.out == "No connection matches this filter. Nothing changed.\n"


def test_revoke_matching_refuses_no_or_empty_filter(demo_url, cli):
    assert cli("revoke-matching", "-d", demo_url, "--yes").one_line_error() == (
        "connmodel: error: give at least one of --status, --environment, --profile, --search")
    assert cli("revoke-matching", "-q", " ", "-d", demo_url, "--yes").one_line_error() == (
        "connmodel: error: --search is empty")
    assert _revoke_events(cli, demo_url) == 0
