"""`connmodel user role|disable|enable`: the services' set_role / set_disabled from a terminal,
and what they do to a sign-in that is open (issue 16: demotion and disabling end write power)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import func, select

from connmodel.errors import SignInEnded
from connmodel.models import AuditEvent
from connmodel.permissions import Action, require
from connmodel.services import users
from connmodel.store import session

PASSWORD = "correct horse battery staple"
SCRIPT = Path(sys.executable).parent / "connmodel"


def _signed_in(url: str, name: str):
    with session(url) as s:
        return users.actor_for_token(s, users.sign_in(s, name=name, password=PASSWORD,
                                                      address="cli-test"))


def test_role_disable_and_enable_end_and_restore_write_power(cli, sqlite_url):
    for name, role in (("ann", "admin"), ("root", "ADMIN")):
        added = cli("user", "add", name, "--role", role, "--password-prompt", "-d", sqlite_url,
                    stdin=f"{PASSWORD}\n{PASSWORD}\n")
        assert added.code == 0, added.err
        assert f"user {name} added (admin)" in added.out  # as stored: it echoed "(ADMIN)"
    ann = _signed_in(sqlite_url, "ann")

    demoted = cli("user", "role", "ann", "Viewer", "-d", sqlite_url)
    assert demoted.code == 0, demoted.err
    assert demoted.out == "ann is now viewer; open pages follow at their next write\n"
    with pytest.raises(SignInEnded, match="ann is now a viewer"), session(sqlite_url) as s:
        require(ann, Action.WRITE, s)
    assert cli("user", "role", "ann", "admin", "-d", sqlite_url).code == 0
    with session(sqlite_url) as s:
        require(ann, Action.WRITE, s)  # the same open sign-in writes again

    disabled = cli("user", "disable", "ann", "-d", sqlite_url)
    assert disabled.out == "ann disabled; their open pages can no longer change anything\n"
    with pytest.raises(SignInEnded, match="ann is no longer signed in"), session(sqlite_url) as s:
        require(ann, Action.WRITE, s)
    assert [r["disabled"] for r in cli("user", "list", "-d", sqlite_url, "-f", "json").json
            if r["name"] == "ann"] == [True]
    assert cli("user", "enable", "ann", "-d", sqlite_url).out == \
        "ann enabled; they may sign in again\n"
    with pytest.raises(SignInEnded, match="ann is no longer signed in"), session(sqlite_url) as s:
        require(ann, Action.WRITE, s)  # enabling again does not revive the pages it ended
    assert _signed_in(sqlite_url, "ann").role == "admin"
    with session(sqlite_url) as s:
        events = [(e.actor, e.action, e.target) for e in s.scalars(
            select(AuditEvent).where(AuditEvent.action.like("user.%")).order_by(AuditEvent.id))]
    assert events[2:] == [("alice", "user.role", "user ann (viewer)"),
                          ("alice", "user.role", "user ann (admin)"),
                          ("alice", "user.disable", "user ann"),
                          ("alice", "user.enable", "user ann")]


def test_refusals_are_one_line_and_change_nothing(cli, sqlite_url):
    assert cli("user", "add", "ann", "--role", "admin", "-d", sqlite_url).code == 0
    before = cli("user", "list", "-d", sqlite_url, "-f", "json").json
    for verb in (["role", "ann", "viewer"], ["disable", "ann"]):  # a refusal of state: exit 1
        result = cli("user", *verb, "-d", sqlite_url)
        assert result.one_line_error() == (
            "connmodel: error: ann is the last enabled admin: add another admin first")
        assert result.code == 1, verb
    assert cli("user", "role", "ann", "root", "-d", sqlite_url).one_line_error().endswith(
        "unknown role 'root': choose admin or viewer")
    for verb in (["role", "nobody", "viewer"], ["disable", "nobody"], ["enable", "nobody"]):
        assert cli("user", *verb, "-d", sqlite_url).one_line_error().endswith(
            "no user named 'nobody'")
    assert cli("user", "list", "-d", sqlite_url, "-f", "json").json == before


def _user_events(url: str) -> int:
    with session(url) as s:
        return s.scalar(select(func.count()).select_from(AuditEvent)
                        .where(AuditEvent.action.like("user.%")))


def test_enabling_an_enabled_user_or_disabling_a_disabled_one_changes_nothing(cli, sqlite_url):
    """`user enable NAME` of an enabled user wrote a user.enable event (and a second disable a
    second user.disable): it is a state conflict, refused as enabling an enabled connection is."""
    for name, role in (("ann", "viewer"), ("root", "admin")):
        assert cli("user", "add", name, "--role", role, "-d", sqlite_url).code == 0
    before = _user_events(sqlite_url)
    enabled = cli("user", "enable", "ann", "-d", sqlite_url)
    assert enabled.one_line_error() == "connmodel: error: ann is already enabled"
    assert enabled.code == 1
    assert cli("user", "disable", "ann", "-d", sqlite_url).code == 0
    disabled = cli("user", "disable", "ann", "-d", sqlite_url)
    assert disabled.one_line_error() == "connmodel: error: ann is already disabled"
    assert disabled.code == 1
    assert _user_events(sqlite_url) == before + 1  # the one real change


@pytest.mark.parametrize("command", [["add", "carol"], ["passwd", "carol"]])
def test_a_piped_password_is_read_without_getpass(sqlite_url, command):
    """`printf '%s\\n' "$PW" | connmodel user add NAME --password-prompt` went through getpass,
    which printed GetPassWarning and "Password input may be echoed" on every run."""
    env = {**os.environ, "CONNMODEL_ACTOR": "alice"}
    if command[0] == "passwd":
        subprocess.run([SCRIPT, "user", "add", "carol", "-d", sqlite_url], check=True, env=env,
                       capture_output=True, timeout=60)
    done = subprocess.run([SCRIPT, "user", *command, "--password-prompt", "-d", sqlite_url],
                          check=False, text=True, input=f"{PASSWORD}\n", capture_output=True,
                          timeout=60, env=env)
    assert (done.returncode, done.stderr) == (0, "password: \n"), done.stderr
    assert _signed_in(sqlite_url, "carol").name == "carol"
