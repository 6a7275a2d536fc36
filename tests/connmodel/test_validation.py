"""Bad names and URLs are refused with a clear message, and nothing is written."""

import threading
import time

import pytest
from sqlalchemy import func, select, text

from connmodel.errors import AlreadyExists, InvalidInput
from connmodel.models import NAME_MAX, AuditEvent, McpServer, Profile
from connmodel.permissions import Actor, Role
from connmodel.services.connections import create_connection
from connmodel.services.profiles import create_profile, create_provider_config
from connmodel.services.servers import add_server
from connmodel.store import flush_unique, session


def _counts(url: str) -> tuple[int, int, int]:
    with session(url) as s:
        return tuple(  # type: ignore[return-value]
            s.execute(select(func.count()).select_from(m)).scalar_one()
            for m in (Profile, McpServer, AuditEvent)
        )


@pytest.fixture(scope="module")
def store(module_store_url) -> tuple[str, int]:
    """One store per kind for the module: (url, provider config id), with a profile "Noauth" and
    a server "Calculator". The tests write nothing (they assert so) but one uniquely named profile.
    """
    admin = Actor("alice", Role.ADMIN)
    with session(module_store_url) as s:
        config = create_provider_config(s, actor=admin, name="No Authentication Provider",
                                        kind="none")
        create_profile(s, actor=admin, name="Noauth", provider_config_id=config.id or 0)
        add_server(s, actor=admin, name="Calculator", url="http://127.0.0.1:8101/mcp",
                   profile="Noauth")
        s.commit()
        return module_store_url, config.id or 0


@pytest.mark.parametrize("name, message", [
    ("", "profile name is empty"),
    ("   \t  ", "profile name is empty"),
    ("x" * 10_240, f"profile name is 10240 characters long: at most {NAME_MAX}"),
    ("x" * (NAME_MAX + 1), f"profile name is {NAME_MAX + 1} characters long: at most {NAME_MAX}"),
    ("Hub\x00spot", "profile name may not contain control characters"),
    ("Hub\nspot", "profile name may not contain control characters"),
    ("Hub\x1b[31mspot", "profile name may not contain control characters"),
    ("Hub\u202espot", "profile name may not contain control characters"),
    ("<script>alert(1)</script>", "profile name may not contain '<' or '>' (markup is not a name)"),
    ("<img src=x onerror=alert(1)>", "profile name may not contain '<' or '>'"),
])
def test_bad_profile_name_is_refused_and_nothing_written(store, admin, name, message):
    url, provider_id = store
    before = _counts(url)
    with session(url) as s, pytest.raises(InvalidInput) as info:
        create_profile(s, actor=admin, name=name, provider_config_id=provider_id)
    assert str(info.value).startswith(message)
    assert len(str(info.value)) < 200
    assert _counts(url) == before


def test_longest_name_is_accepted_and_trimmed(store, admin):
    url, provider_id = store
    with session(url) as s:
        profile = create_profile(s, actor=admin, name=f"  {'n' * NAME_MAX}  ",
                                 provider_config_id=provider_id)
        s.commit()
    assert profile.name == "n" * NAME_MAX


def test_duplicate_profile_and_server_names(store, admin):
    url, provider = store
    before = _counts(url)
    with session(url) as s:
        for name in ("Noauth", "  Noauth  "):
            with pytest.raises(AlreadyExists, match="^a profile named 'Noauth' exists$"):
                create_profile(s, actor=admin, name=name, provider_config_id=provider)
        with pytest.raises(AlreadyExists, match="^a server named 'Calculator' exists$"):
            add_server(s, actor=admin, name="Calculator", url="http://127.0.0.1:9/mcp")
        with pytest.raises(InvalidInput, match="server name may not contain '<' or '>'"):
            add_server(s, actor=admin, name="<b>Calc</b>", url="http://127.0.0.1:9/mcp")
        # what a writer that raced past the name check meets: the unique index, as AlreadyExists
        s.add(Profile(name="Noauth", provider_config_id=provider))
        with pytest.raises(AlreadyExists, match="^a profile named 'Noauth' exists$"):
            flush_unique(s, "a profile named 'Noauth' exists")
    assert _counts(url) == before


def test_unknown_provider_config_and_environment(store, admin):
    url, provider_id = store
    with session(url) as s:
        with pytest.raises(InvalidInput, match="no provider config with id 999"):
            create_profile(s, actor=admin, name="X", provider_config_id=999)
        with pytest.raises(InvalidInput, match="unknown environment 'prod': choose one of dev"):
            create_profile(s, actor=admin, name="X", provider_config_id=provider_id,
                           environment="prod")


@pytest.mark.parametrize("url, message", [
    ("ftp://files.example/mcp", "malformed URL 'ftp://files.example/mcp': an MCP server URL is"),
    ("javascript:alert(1)", "malformed URL 'javascript:alert(1)'"),
    ("mcp.example.com/mcp", "malformed URL 'mcp.example.com/mcp'"),
    ("http:///mcp", "malformed URL 'http:///mcp'"),
    ("https://", "malformed URL 'https://'"),
    ("", "malformed URL ''"),
    ("http://[::1/mcp", "malformed URL"),
    ("https://mcp.example/" + "a" * 10_000, "URL is longer than 2000 characters"),
])
def test_bad_server_url_is_refused_and_nothing_written(store, admin, url, message):
    before = _counts(store[0])
    with session(store[0]) as s, pytest.raises(InvalidInput) as info:
        add_server(s, actor=admin, name="Calculator", url=url)
    assert str(info.value).startswith(message)
    assert len(str(info.value)) < 200
    assert _counts(store[0]) == before


def _wait_for_a_blocked_writer(url: str) -> None:
    """Poll PostgreSQL until some session of this database waits on a lock."""
    deadline = time.monotonic() + 10
    with session(url) as s:
        while time.monotonic() < deadline:
            waiting = s.execute(text(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )).scalar_one()
            s.rollback()
            if waiting:
                return
            time.sleep(0.02)
    raise AssertionError("the second writer never blocked")


@pytest.mark.postgres
def test_two_admins_creating_the_same_name_at_once(postgres_url, admin):
    """The second insert passes the name check, then meets the first on the unique index."""
    with session(postgres_url) as s:
        provider = create_provider_config(s, actor=admin, name="P", kind="none").id or 0
        s.commit()
    outcome: list[BaseException] = []

    def second() -> None:
        try:
            with session(postgres_url) as s:
                create_profile(s, actor=admin, name="Twin", provider_config_id=provider)
                s.commit()
        except BaseException as exc:  # noqa: BLE001  (reported to the test thread)
            outcome.append(exc)

    with session(postgres_url) as first:
        create_profile(first, actor=admin, name="Twin", provider_config_id=provider)
        thread = threading.Thread(target=second)
        thread.start()
        _wait_for_a_blocked_writer(postgres_url)
        first.commit()
    thread.join(timeout=20)
    assert len(outcome) == 1 and isinstance(outcome[0], AlreadyExists), outcome
    assert str(outcome[0]) == "a profile named 'Twin' exists"
    with session(postgres_url) as s:
        names = s.execute(select(Profile.name).where(Profile.name == "Twin")).scalars().all()
        events = s.execute(select(AuditEvent.target).where(AuditEvent.action == "profile.create")
                           ).scalars().all()
    assert names == ["Twin"] and events == ["profile Twin (dev)"]


@pytest.mark.parametrize("kwargs, message", [
    ({"account": "a" * 321}, "account is 321 characters long: at most 320"),
    ({"account": "ana\x00@example.com"}, "account may not contain control characters"),
    ({"account": "ok", "status_reason": "r" * 2001},
     "status reason is 2001 characters long: at most 2000"),
])
def test_bad_connection_text_is_refused_on_both_stores(store, admin, kwargs, message):
    url, _ = store
    before = _counts(url)
    with session(url) as s, pytest.raises(InvalidInput, match=f"^{message}$"):
        profile = s.execute(select(Profile.id).where(Profile.name == "Noauth")).scalar_one()
        create_connection(s, actor=admin, profile_id=profile, **kwargs)
    assert _counts(url) == before


@pytest.mark.postgres
def test_a_value_too_long_for_its_column_is_invalid_input(postgres_url):
    """The store's safety net for any path that skipped validation (PostgreSQL checks lengths)."""
    with pytest.raises(InvalidInput, match=r"^a value is too long to store \(value too long for "
                                           r"type character varying\(60\)\)$"), \
            session(postgres_url) as s:
        s.execute(text("INSERT INTO meta (key, value) VALUES (:k, 'v')"), {"k": "k" * 61})
