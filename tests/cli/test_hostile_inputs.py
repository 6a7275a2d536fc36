"""Hostile CLI input: one clear line and a non-zero exit, never a traceback, nothing changed.

The issue-16 cases one by one (each failed on the old code), then a table of hostile values
(huge, negative, overflowing, non-UTF-8, nested cursors, SQL metacharacters...) put into every
option and argument of every command, in-process; a few real processes for argv bytes.
"""

import base64
import hashlib
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import typer
from sqlalchemy import select
from sqlmodel import SQLModel

from connmodel.cli import app, load_commands
from connmodel.store import get_engine, session

SCRIPT = Path(sys.executable).parent / "connmodel"
NOT_UTF8 = b"\xff\xfe".decode("utf-8", "surrogateescape")  # what Python makes of such argv bytes
NESTED = base64.urlsafe_b64encode(b"[" * 40_000 + b"]" * 40_000).decode()


def fingerprint(url: str) -> dict[str, str]:
    """A digest of every table (the audit trail apart: refusals may be audited) and the
    'ok' events, so any change shows."""
    engine = get_engine(url)
    meta = SQLModel.metadata
    found = {}
    with engine.connect() as conn:
        for table in meta.sorted_tables:
            rows = conn.execute(select(table).order_by(*table.primary_key.columns)).all()
            if table.name == "audit_event":
                rows = [r for r in rows if str(r.outcome).startswith("ok")]
            found[table.name] = hashlib.sha256(repr(rows).encode()).hexdigest()
    return found


@pytest.fixture
def demo_sqlite(sqlite_url, keyring, admin):
    from connmodel.services.demo import seed_demo

    with session(sqlite_url) as s:
        seed_demo(s, actor=admin, keyring=keyring)
    return sqlite_url


def _refused(cli, url, *argv, stdin=None) -> str:
    before = fingerprint(url)
    error = cli(*argv, stdin=stdin).one_line_error()
    assert fingerprint(url) == before, f"{argv} changed the store"
    return error


@pytest.mark.parametrize("argv", [
    ("check", "9223372036854775808"), ("refresh", "--id", "9" * 30),
    ("show", "9223372036854775808"), ("revoke", "0", "--yes"),
])
def test_overflowing_ids(demo_sqlite, cli, argv):
    error = _refused(cli, demo_sqlite, *argv, "-d", demo_sqlite)
    assert "is not in the range" in error or "Invalid value" in error, error


@pytest.mark.parametrize("argv", [
    ("connections", "--search", NOT_UTF8), ("connections", "--profile", NOT_UTF8),
    ("events", "--actor", NOT_UTF8), ("events", "--action", NOT_UTF8),
    ("events", "--target", NOT_UTF8),
    ("profile", "add", "x", "--provider", "No Authentication Provider", "--description", NOT_UTF8),
    ("server", "reconfigure", NOT_UTF8, "--profile", "Google"), ("webhook", "remove", NOT_UTF8),
    ("user", "passwd", NOT_UTF8), ("connect", NOT_UTF8),
])
def test_arguments_that_are_not_utf8(demo_sqlite, cli, argv):
    error = _refused(cli, demo_sqlite, *argv, "-d", demo_sqlite)
    assert error == f"connmodel: error: argument {argv.index(NOT_UTF8) + 1} (b'\\xff\\xfe') is " \
                    "not UTF-8 text; nothing was run"


@pytest.mark.parametrize("command", ["connections", "events", "servers", "profiles"])
def test_cursors_nested_forty_thousand_deep(demo_sqlite, cli, command):
    error = _refused(cli, demo_sqlite, command, "--after", NESTED, "-d", demo_sqlite)
    assert error.startswith("connmodel: error: ") and "cursor" in error


def test_revocations_as_json_with_a_queued_row(oauth_demo, cli):
    """Scripts read the queue as JSON (it failed: datetime not JSON serializable)."""
    url, cid = oauth_demo
    assert cli("revoke", str(cid), "--yes", "-d", url).code == 0
    listed = cli("revocations", "-d", url, "-f", "json")
    assert listed.code == 0, listed.err
    (row,) = listed.json
    assert row["connection_id"] == cid and row["created_at"].startswith("20")


@pytest.fixture
def oauth_demo(demo_sqlite, admin, keyring):
    """The demo store with Google given a revocation endpoint, so a revoke queues a row."""
    from connmodel.models import Connection, Profile, ProviderConfig

    with session(demo_sqlite) as s:
        provider = s.execute(select(ProviderConfig).join(
            Profile, Profile.provider_config_id == ProviderConfig.id).where(
            Profile.name == "Google")).scalar_one()
        provider.settings = {**provider.settings, "revocation_url": "http://127.0.0.1:9/revoke"}
        s.add(provider)
        cid = s.execute(select(Connection.id).join(Profile).where(
            Profile.name == "Google")).scalars().first()
        s.commit()
    return demo_sqlite, cid


def test_empty_database_option_is_refused(demo_sqlite, cli, tmp_path, monkeypatch):
    here = tmp_path / "here"
    here.mkdir()
    monkeypatch.chdir(here)
    for argv in (("connections", "-d", ""), ("rotate-key", "-d", " "), ("revoke", "1", "-d", "")):
        error = cli(*argv).one_line_error()
        assert "'--database' / '-d': is empty: give a database URL" in error, error
    assert list(here.iterdir()) == []  # no ./connmodel.db was made


def test_server_with_an_empty_profile_is_refused(demo_sqlite, cli):
    error = _refused(cli, demo_sqlite, "server", "add", "Fuzz", "--url", "http://127.0.0.1:9/mcp",
                     "--profile", "", "-d", demo_sqlite)
    assert error == "connmodel: error: profile name is empty"


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o666, 0o604])
def test_a_key_file_others_can_read_is_refused(demo_sqlite, cli, keyring, mode):
    key_file = Path(keyring.source)
    key_file.chmod(mode)
    error = _refused(cli, demo_sqlite, "rotate-key", "-d", demo_sqlite)
    assert error == (f"connmodel: error: the key file {key_file} is open to group or others "
                     f"(mode {mode:o}): run `chmod 600 {key_file}`")
    key_file.chmod(0o600)
    assert cli("rotate-key", "-d", demo_sqlite).code == 0
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600


# --- the table: every command, every option and argument, every hostile value ---

HOSTILE = {
    "huge": "9" * 40, "overflow": str(2**63), "negative": "-1", "not_utf8": NOT_UTF8,
    "sql": "'; DROP TABLE connection; --%_\\", "empty": "", "nul": "a\x00b", "long": "x" * 5000,
}
CURSORS = {"nested_cursor": NESTED, "brackets": "[" * 40_000}  # for --after only
# Commands that serve or loop until stopped; their options are parsed as the others are.
SERVING = {"api", "demo-server", "worker"}
NEVER_FUZZED = {("refresh", "watch")}  # a valid --watch runs forever
EXTRA = {"connect": ["--print-url"], "reauthorize": ["--print-url"],  # never listen
         "audit": ["-f", "json"]}  # the report without its plots
# Required parameters other than the one fuzzed, by name; any other takes "Hubspot".
FILLER = {"connection_id": "1", "connections": "1", "url": "http://127.0.0.1:9/mcp",
          "kind": "none", "client_id": "fuzz", "new_role": "viewer"}


def _commands() -> list[tuple[list[str], typer.core.TyperCommand]]:
    load_commands()

    def walk(command, path):
        if hasattr(command, "commands"):
            for name, sub in command.commands.items():
                yield from walk(sub, [*path, name])
        else:
            yield path, command

    return [(p, c) for p, c in walk(typer.main.get_command(app), []) if p[0] not in SERVING]


def _cases() -> list[tuple[list[str], str]]:
    """(argv without the database, value name) for each valued parameter and value."""
    cases = []
    for path, command in _commands():
        params = [p for p in command.params if not getattr(p, "is_flag", False)
                  and p.name not in ("database", "fmt") and (path[0], p.name) not in NEVER_FUZZED]
        for target in params:
            values = {**HOSTILE, **CURSORS} if target.name == "after" else HOSTILE
            for value_name, value in values.items():
                argv = [*path, *EXTRA.get(path[0], [])]
                for p in command.params:
                    if p is target:
                        given = value
                    elif p.required:
                        given = FILLER.get(p.name or "", "Hubspot")
                    else:
                        continue
                    argv += [given] if p.param_type_name == "argument" else [p.opts[0], given]
                cases.append((argv, value_name))
    return cases


def test_every_option_of_every_command_with_hostile_values(demo_sqlite, cli, tmp_path,
                                                           monkeypatch):
    """No traceback anywhere; a refusal is one line on stderr and changes nothing."""
    here = tmp_path / "here"  # a file an option names lands here
    here.mkdir()
    monkeypatch.chdir(here)
    cases = _cases()
    assert len(cases) > 500
    broken = []
    for argv, value_name in cases:
        before = fingerprint(demo_sqlite)
        where = f"connmodel {' '.join(a[:20] for a in argv)} ({value_name})"
        try:
            result = cli(*argv, "-d", demo_sqlite)
        except Exception as exc:  # noqa: BLE001 -- a traceback is what this test looks for
            broken.append(f"{where}: {type(exc).__name__}: {str(exc)[:200]}")
            continue
        if "Traceback" in result.out + result.err:
            broken.append(f"{where}: a traceback")
        elif result.code != 0 and not result.err.splitlines()[-1].strip().startswith("connmodel"):
            broken.append(f"{where}: {result.err[-200:]!r}")  # prompts may come before it
        elif result.code != 0 and fingerprint(demo_sqlite) != before:
            broken.append(f"{where}: failed and changed the store")
    assert not broken, "\n".join(broken)
    for value_name in ("sql", "like", "empty", "nested_cursor"):
        assert cli("-d", demo_sqlite, "--help").code in (0, 2), value_name


@pytest.mark.parametrize("argv", [
    [b"connections", b"--search", b"\xff\xfe"], [b"user", b"passwd", b"\xc3\x28"],
])
def test_argv_bytes_in_a_real_process(demo_sqlite, argv):
    env = {**os.environ, "CONNMODEL_ACTOR": "alice"}
    done = subprocess.run([os.fsencode(SCRIPT), *argv, b"-d", demo_sqlite.encode()],
                          check=False, capture_output=True, env=env, timeout=60)
    assert done.returncode == 2 and done.stdout == b""
    assert done.stderr.count(b"\n") == 1 and b"is not UTF-8 text; nothing was run" in done.stderr
