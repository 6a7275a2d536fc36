"""Bad input never gives a traceback: one line on stderr, a non-zero exit, and nothing changed."""

import base64
import json
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select

from connmodel.models import Profile, ProviderConfig
from connmodel.services.connections import create_connection
from connmodel.services.keys import secret_columns
from connmodel.store import session

NOAUTH = "No Authentication Provider"
HTML = "<img src=x onerror=alert(1)>"
RICH = "[bold]x[/bold]"


def _cursor(payload: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")


BAD_READS = [
    (["show", "999999"], "connmodel: error: no connection with id 999999"),
    (["show", "abc"], "connmodel show: error: Invalid value for 'connection_id'"),
    (["show", "99999999999999999999999"], "connmodel show: error: Invalid value"),
    (["connections", "--after", "not a cursor"], "connmodel: error: malformed cursor"),
    (["connections", "--after", _cursor([None, 2**70])], "connmodel: error: malformed cursor"),
    (["connections", "--sort", "account", "--after", _cursor([5, 1])],
     "connmodel: error: malformed cursor"),
    (["events", "--after", "%%%"], "connmodel: error: malformed cursor"),
    (["servers", "--after", _cursor("x")], "connmodel: error: malformed cursor"),
    (["profiles", "--after", "not a cursor"], "connmodel: error: malformed cursor"),
    (["profiles", "--limit-profiles", "0"],
     "connmodel: error: profiles per page must be between 1 and 500, not 0"),
    (["connections", "--status", "Broken"],
     "connmodel: error: unknown status 'Broken': choose one of Active, Inactive, Error"),
    (["connections", "--sort", "password"], "connmodel: error: unknown sort field 'password'"),
    (["connections", "--environment", "prod"],
     "connmodel: error: unknown environment 'prod': choose one of dev, staging, production"),
    (["profiles", "--environment", "prod"], "connmodel: error: unknown environment 'prod'"),
    (["connections", "--profile", ""], "connmodel: error: profile name is empty"),
    (["connections", "--profile", "x" * 10_000],
     "connmodel: error: profile name is 10000 characters long: at most 100"),
    (["connections", "--profile", RICH], f"connmodel: error: no profile named '{RICH}'"),
    (["connections", "--limit", "0"], "connmodel: error: limit must be between 1 and 500"),
    (["connections", "--search", "s" * 10_000],
     "connmodel: error: search text is 10000 characters: at most 200"),
    (["profiles", "--limit", "501"], "connmodel: error: limit must be between 0 and 500"),
    (["servers", "--state", "asleep"], "connmodel: error: unknown state 'asleep'"),
    (["connections", "--format", "xml"], "connmodel connections: error: Invalid value for"),
    (["nonsense"], "connmodel: error: No such command 'nonsense'."),
]

BAD_WRITES = [
    (["revoke", "999999", "--yes"], "connmodel: error: no connection with id 999999"),
    (["revoke", "0", "--yes"], "connmodel revoke: error: Invalid value for 'connection_id'"),
    (["profile", "add", "", "--provider", NOAUTH], "connmodel: error: profile name is empty"),
    (["profile", "add", "p" * 10_000, "--provider", NOAUTH],
     "connmodel: error: profile name is 10000 characters long: at most 100"),
    (["profile", "add", HTML, "--provider", NOAUTH],
     "connmodel: error: profile name may not contain '<' or '>'"),
    (["profile", "add", "Noauth", "--provider", NOAUTH],
     "connmodel: error: a profile named 'Noauth' exists"),
    (["profile", "add", "New", "--provider", "Nope"],
     "connmodel: error: no provider config named 'Nope' (known: API Key Authentication Provider"),
    (["profile", "add", "New", "--provider", NOAUTH, "--environment", "prod"],
     "connmodel profile add: error: Invalid value for '--environment'"),
    (["profile", "add", "New", "--provider", NOAUTH, "--description", "d" * 3000],
     "connmodel: error: description is 3000 characters long"),
    (["provider", "add", "", "--kind", "none"], "connmodel: error: provider config name is empty"),
    (["provider", "add", "OAuth", "--kind", "oauth2"],
     "connmodel provider add: error: Invalid value for '--kind'"),
]


def _snapshot(cli, url: str) -> tuple[int, int, int]:
    """What any change would move: events, profiles, live connections."""
    events = cli("events", "-d", url, "-f", "json").json["total"]
    profiles = cli("profiles", "-d", url, "-f", "json", "-n", "0").json["total"]
    connections = cli("connections", "-d", url, "-f", "json").json["total"]
    return events, profiles, connections


def test_bad_input_is_one_line_and_changes_nothing(demo_url, cli):
    before = _snapshot(cli, demo_url)
    for argv, message in BAD_READS + BAD_WRITES:
        error = cli(*argv, "-d", demo_url).one_line_error()
        assert error.startswith(message), (argv[:3], error)
        assert len(error) < 400
    assert _snapshot(cli, demo_url) == before


def test_markup_in_names_is_shown_literally(demo_url, cli, admin):
    assert cli("profile", "add", RICH, "--provider", NOAUTH, "-d", demo_url).code == 0
    with session(demo_url) as s:
        pid = s.execute(select(Profile.id).where(Profile.name == RICH)).scalar_one()
        conn = create_connection(s, actor=admin, profile_id=pid, account=HTML,
                                 status="Error", status_reason="[red]boom[/red] <b>401</b>")
        s.commit()
    cards = cli("profiles", "-d", demo_url)
    assert f"{RICH} · dev · {NOAUTH} — Connections in this profile" in cards.out
    assert f"│ {HTML} │ Error  │ [red]boom[/red] <b>401</b> │" in cards.out
    listing = cli("connections", "-d", demo_url, "-p", RICH)
    assert f"│ {RICH} │" in listing.out and f"│ {HTML} │" in listing.out
    detail = cli("show", str(conn.id), "-d", demo_url)
    assert f"│ Account         │ {HTML}" in detail.out
    item = cli("connections", "-d", demo_url, "-f", "json", "-p", RICH).json["items"][0]
    assert (item["profile"], item["account"]) == (RICH, HTML)


@pytest.mark.parametrize("url, message", [
    ("postgresql://postgres@127.0.0.1:1/x",
     "connmodel: error: cannot use the database postgresql+psycopg://postgres@127.0.0.1:1/x: "),
    ("not a url", "connmodel: error: malformed database URL"),
    ("postgresql://u:pw@host:port/x", "connmodel: error: malformed database URL"),
    ("mysql://u@h/x", "connmodel: error: unsupported database"),
])
def test_unusable_database_url(cli, url, message, tmp_path, monkeypatch):
    key_file = tmp_path / "absent.key"
    monkeypatch.setenv("CONNMODEL_KEY_FILE", str(key_file))
    for argv in (["connections"], ["profiles"], ["revoke", "1", "--yes"], ["init"], ["events"],
                 ["servers"], ["show", "1"], ["profile", "add", "P", "--provider", NOAUTH]):
        error = cli(*argv, "-d", url).one_line_error()
        assert error.startswith(message), (argv, error)
    assert not key_file.exists()  # init made no key for a database it could not use


def test_a_database_that_is_not_connmodel(cli, tmp_path):
    (tmp_path / "other.db").touch()
    error = cli("connections", "-d", f"sqlite:///{tmp_path / 'other.db'}").one_line_error()
    assert error.endswith("is not a connmodel database at the current schema "
                          "(no such table: connection): run `connmodel init`")


def test_missing_secret_key(cli, store_url, tmp_path, monkeypatch):
    monkeypatch.setenv("CONNMODEL_KEY_FILE", str(tmp_path / "absent.key"))
    for argv in (["demo"], ["rotate-key"]):
        error = cli(*argv, "-d", store_url).one_line_error()
        assert error.startswith("connmodel: error: no secret key: set CONNMODEL_SECRET_KEY or "
                                "run `connmodel init`")
    assert cli("profiles", "-d", store_url, "-f", "json").json["items"] == []
    assert cli("events", "-d", store_url, "-f", "json").json["total"] == 0


def _secrets(url: str) -> list[str]:
    with session(url) as s:
        return [v for _, c in secret_columns()
                for v in s.execute(select(c).where(c.is_not(None))).scalars()]


# Every command that writes (or sends) a secret with the key proves the key first. Connection 2
# of the demo is Hubspot's (API key); prompts read KEYED_STDIN.
KEYED_COMMANDS = (["demo"], ["rotate-key"], ["init"], ["webhook", "add", "http://127.0.0.1:9/hook"],
                  ["webhook", "deliver"], ["generate", "-n", "20", "-p", "2"],
                  ["connect", "Hubspot Sandbox"], ["update-key", "2"], ["reauthorize", "2"],
                  ["provider", "add-oauth", "Local", "--client-id", "cid",
                   "--authorize-url", "http://127.0.0.1:9/authorize",
                   "--token-url", "http://127.0.0.1:9/token"],
                  ["refresh", "--nice", "0"], ["refresh", "--id", "3"],
                  ["revocations", "--deliver"], ["check", "--all"])
KEYED_STDIN = "sk-typed-with-a-wrong-key-0001\n"


def _provider_configs(url: str) -> int:
    with session(url) as s:
        return len(s.execute(select(ProviderConfig.id)).all())


def _state(cli, url: str) -> tuple[list[str], int, int, int]:
    """What a keyed command would move: the secrets, events, live connections, provider configs."""
    return (_secrets(url), cli("events", "-d", url, "-f", "json").json["total"],
            cli("connections", "-d", url, "-f", "json").json["total"],
            _provider_configs(url))


def test_wrong_or_malformed_secret_key(demo_url, cli, keyring, monkeypatch):
    before = _state(cli, demo_url)
    key_file = keyring.source
    monkeypatch.setenv("CONNMODEL_WEBHOOK_SECRET", "a webhook signing secret")
    monkeypatch.setenv("CONNMODEL_SECRET_KEY", Fernet.generate_key().decode())
    for argv in KEYED_COMMANDS:
        error = cli(*argv, "-d", demo_url, stdin=KEYED_STDIN).one_line_error()
        assert "secret key from CONNMODEL_SECRET_KEY cannot decrypt" in error, (argv, error)
    monkeypatch.setenv("CONNMODEL_SECRET_KEY", "not-a-key")
    error = cli("rotate-key", "-d", demo_url).one_line_error()
    assert error == ("connmodel: error: the secret key in CONNMODEL_SECRET_KEY is not a Fernet "
                     "key (32 url-safe base64 bytes)")
    assert _state(cli, demo_url) == before
    assert Path(key_file).read_text().strip() == keyring.keys[0].decode()


def test_demo_refuses_a_wrong_key_even_before_any_secret_exists(cli, store_url, keyring,
                                                                 monkeypatch):
    assert cli("init", "-d", store_url).code == 0  # writes the key check token
    monkeypatch.setenv("CONNMODEL_WEBHOOK_SECRET", "a webhook signing secret")
    monkeypatch.setenv("CONNMODEL_SECRET_KEY", Fernet.generate_key().decode())
    for argv in KEYED_COMMANDS:
        assert "cannot decrypt" in cli(*argv, "-d", store_url,
                                       stdin=KEYED_STDIN).one_line_error(), argv
    assert cli("profiles", "-d", store_url, "-f", "json").json["items"] == []
    assert _provider_configs(store_url) == 0
    assert cli("webhook", "list", "-d", store_url, "-f", "json").json == []
    assert _secrets(store_url) == []
    monkeypatch.delenv("CONNMODEL_SECRET_KEY")
    assert cli("demo", "-d", store_url).code == 0
    assert cli("webhook", "add", "http://127.0.0.1:9/hook", "-d", store_url).code == 0


def test_init_will_not_make_a_new_key_for_a_database_with_secrets(demo_url, cli, tmp_path,
                                                                   monkeypatch):
    monkeypatch.setenv("CONNMODEL_KEY_FILE", str(tmp_path / "new.key"))
    error = cli("init", "-d", demo_url).one_line_error()
    assert "this database holds secrets but no key is configured" in error
    assert not (tmp_path / "new.key").exists()




# --- a tester's findings: each failed on the old code ---

@pytest.mark.parametrize("argv", [["connect", "Noauth"], ["connect", "Hubspot"],
                                  ["reauthorize", "2"]])
def test_print_url_is_only_for_an_oauth_profile(demo_url, cli, argv):
    """`connect Noauth --print-url` connected at once (and Hubspot's asked for a key): there
    is no URL to print without an authorization-code flow."""
    before = _snapshot(cli, demo_url)
    result = cli(*argv, "--print-url", "-d", demo_url, stdin=KEYED_STDIN)
    error = result.one_line_error()
    assert result.code == 2 and error.startswith("connmodel: error: --print-url is only for "
                                                 "OAuth2 (authorization code) profiles;"), error
    assert error.endswith(": leave --print-url out")
    assert _snapshot(cli, demo_url) == before


@pytest.mark.parametrize("option", ["--state", "--code"])
@pytest.mark.parametrize("value", ["", " "])
def test_an_empty_state_or_code_is_refused(demo_url, cli, option, value):
    """An empty --state or --code (a script's unset variable) started the browser flow."""
    before = _snapshot(cli, demo_url)
    result = cli("connect", "Google", option, value, "--timeout", "1", "-d", demo_url)
    assert result.one_line_error() == (
        f"connmodel connect: error: Invalid value for '{option}': is empty: give the "
        f"{option[2:]} the flow printed, or leave the option out")
    assert result.code == 2 and result.out == ""
    assert _snapshot(cli, demo_url) == before


def test_state_and_code_finish_a_flow_only_together(demo_url, cli):
    """--state alone spent the flow's state (and audited a refusal) for want of a code."""
    before = _snapshot(cli, demo_url)
    for argv in (["--state", "s"], ["--code", "c"]):
        error = cli("connect", "Google", *argv, "-d", demo_url).one_line_error()
        assert error == ("connmodel: error: --state and --code finish a printed flow together: "
                         "give both")
    assert _snapshot(cli, demo_url) == before


OAUTH = ["provider", "add-oauth", "Mine", "--client-id", "cid"]


@pytest.mark.parametrize("argv, first, second", [
    ([*OAUTH, "--google", "--token-url", "https://auth.example/token"], "--google",
     "--token-url"),
    ([*OAUTH, "--google", "--issuer", "https://auth.example"], "--google", "--issuer"),
    ([*OAUTH, "--client-credentials", "--google"], "--google", "--client-credentials"),
    (["check", "1", "--all", "--no-deliver"], "--all", "connection ids"),
    (["check", "--all", "--profile", "Noauth", "--no-deliver"], "--all", "--profile"),
    (["connect", "Google", "--print-url", "--state", "s", "--code", "c"], "--print-url",
     "--state"),
    ([*OAUTH, "--client-credentials", "--authorize-url", "https://auth.example/authorize",
      "--token-url", "https://auth.example/token"], "--client-credentials", "--authorize-url"),
    # discovery ran and the explicit endpoint was dropped without a word
    ([*OAUTH, "--issuer", "http://127.0.0.1:9/", "--authorize-url",
      "https://auth.example/authorize"], "--issuer", "--authorize-url"),
    ([*OAUTH, "--issuer", "http://127.0.0.1:9/", "--revocation-url",
      "https://auth.example/revoke"], "--issuer", "--revocation-url"),
    ([*OAUTH, "--issuer", "https://auth.example", "--authorize-url",
      "https://auth.example/authorize", "--token-url", "https://auth.example/token"],
     "--issuer", "--authorize-url"),
])
def test_conflicting_options_are_a_usage_error(demo_url, cli, argv, first, second):
    """Options that contradict each other were accepted, one silently winning (--google over
    the endpoints given, a Google client-credentials provider, `check 1 --all` checking all)."""
    before = _snapshot(cli, demo_url)
    result = cli(*argv, "-d", demo_url, stdin="a-client-secret\n")
    assert result.one_line_error() == (f"connmodel: error: {first} cannot be used with "
                                       f"{second}: give one or the other")
    assert result.code == 2
    assert _snapshot(cli, demo_url) == before


def test_an_option_without_the_one_it_qualifies_is_a_usage_error(demo_url, cli):
    """`connect Google --redirect-uri X` listened on its own loopback URI, ignoring X."""
    before = _snapshot(cli, demo_url)
    result = cli("connect", "Google", "--redirect-uri", "https://app.example/callback",
                 "--timeout", "1", "-d", demo_url)
    assert result.one_line_error() == ("connmodel: error: --redirect-uri only applies with "
                                       "--print-url: add --print-url or leave --redirect-uri out")
    assert (result.code, result.out) == (2, "")
    assert _snapshot(cli, demo_url) == before


def test_state_conflicts_exit_1_as_already_revoked_does(demo_url, cli):
    """Enabling an enabled connection, disabling a disabled one and the like exited 2, the code
    of malformed input, where an already revoked connection exits 1. Connection 6 of the demo
    is Google Dev's, disabled; connection 1 Noauth's."""
    before = _snapshot(cli, demo_url)
    for argv, message in [
        (["enable", "1"], "connection 1 is not disabled"),
        (["disable", "6"], "connection 6 is already disabled"),
        (["reauthorize", "6", "--print-url"], "connection 6 is disabled: enable it first"),
        (["server", "reconfigure", "Drive", "--profile", "Google Dev"],
         ("profile 'Google Dev' has only a disabled connection (6, disabled by admin): "
          "enable it first")),
    ]:
        result = cli(*argv, "-d", demo_url)
        assert result.one_line_error() == f"connmodel: error: {message}", argv
        assert result.code == 1, argv
    assert _snapshot(cli, demo_url) == before


@pytest.mark.parametrize("argv", [
    ["connections"], ["servers"], ["check"], ["revoke-matching", "--yes"],
    ["server", "add", "Z", "--url", "http://127.0.0.1:9/mcp"], ["server", "reconfigure", "Drive"],
])
@pytest.mark.parametrize("value", ["", "  "])
def test_an_empty_profile_option_is_one_error_everywhere(demo_url, cli, argv, value):
    """`-p ""` was refused three ways (and `servers` listed every server): one message now."""
    before = _snapshot(cli, demo_url)
    result = cli(*argv, "-p", value, "-d", demo_url)
    assert result.one_line_error() == "connmodel: error: profile name is empty", argv
    assert result.code == 2
    assert _snapshot(cli, demo_url) == before


def test_servers_of_an_unknown_profile_is_an_error(demo_url, cli):
    """`servers -p Nope` listed nothing and exited 0, where `connections -p Nope` fails."""
    for command in ("servers", "connections"):
        result = cli(command, "-p", "Nope", "-d", demo_url)
        assert result.one_line_error() == "connmodel: error: no profile named 'Nope'", command
        assert result.code == 1


@pytest.mark.parametrize("connection_id, message", [
    ("999", "no connection with id 999"),
    ("3", ("Update key is for providers of kind api_key; 'Google OAuth2 Provider' is of kind "
           "oauth2")),
])
def test_update_key_checks_the_connection_before_asking_for_the_key(demo_url, cli,
                                                                    connection_id, message):
    """The key was asked for (and read) before the id was found to be wrong."""
    result = cli("update-key", connection_id, "-d", demo_url, stdin=KEYED_STDIN)
    assert result.err == f"connmodel: error: {message}\n"  # no "new API key:" prompt first


MISSING = ("the database file {} does not exist: run `connmodel init` to create it, or check "
           "--database and $CONNMODEL_DATABASE_URL")


def test_a_missing_sqlite_file_is_reported_and_not_created(cli, tmp_path, monkeypatch):
    """A read-only command pointed at a path with no database left an empty file (and its
    -wal and -shm) behind, then said it was not a connmodel database. Only init creates one."""
    here = tmp_path / "here"
    here.mkdir()
    monkeypatch.chdir(here)
    path = here / "typo.db"
    for argv in (["connections"], ["profiles"], ["show", "1"], ["servers"], ["events"],
                 ["revoke", "1", "--yes"], ["demo"], ["user", "list"]):
        result = cli(*argv, "-d", f"sqlite:///{path}")
        assert result.one_line_error() == f"connmodel: error: {MISSING.format(path)}", argv
        assert result.code == 2
    assert cli("connections").one_line_error() == (  # the default, ./connmodel.db
        f"connmodel: error: {MISSING.format('connmodel.db')}")
    assert list(here.iterdir()) == []
    assert cli("init", "-d", f"sqlite:///{path}").code == 0
    assert cli("connections", "-d", f"sqlite:///{path}", "-f", "json").json["total"] == 0
