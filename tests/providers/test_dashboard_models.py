"""The dashboard's provider view models on a real SQLite store and the local authlib server,
without a browser: New profile for every kind, the OAuth callback, and the View dialog's actions.
"""

import asyncio
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from authserver import CLIENT_ID, CLIENT_SECRET, USER_EMAIL, approve
from cryptography.fernet import Fernet
from sqlmodel import col, delete, select

from connmodel.errors import PermissionDenied
from connmodel.models import AuditEvent, McpServer, Profile, ProviderConfig
from connmodel.permissions import Actor, Role
from connmodel.services.connections import (
    ConnectionFilter,
    get_connection,
    list_connections,
    revoke_connection,
)
from connmodel.services.keys import secret_columns
from connmodel.services.profiles import create_provider_config, list_provider_configs
from connmodel.services.revocations import list_revocations
from connmodel.services.servers import add_server, list_servers
from connmodel.store import session
from dashboard.viewmodels.backend import Backend
from dashboard.viewmodels.providers import (
    CHOICES_LIMIT,
    ConnectionActionsModel,
    NewProfileModel,
    callback_uri,
    deliver_revocations_soon,
    finish_callback,
    is_callback,
)


def run(coro: Any) -> Any:
    """Await a view-model action in its own thread (the browser tests leave a loop running)."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


CALLBACK = callback_uri("http://127.0.0.1:5006", "/app")
API_KEY = "sk-live-dashboard-key-00007f3a"
HOSTILE = "<img src=x onerror=alert(1)>"


def only_connection(url: str, admin, profile: str):
    with session(url) as s:
        items = list_connections(s, actor=admin, where=ConnectionFilter(profile=profile)).items
        assert len(items) == 1
        return get_connection(s, actor=admin, connection_id=items[0].id)


def oauth_model(url: str, admin, authserver, **kw) -> NewProfileModel:
    return NewProfileModel(Backend(admin, url), profile_name="Local", kind="oauth2",
                           client_id=CLIENT_ID, client_secret=CLIENT_SECRET,
                           issuer=authserver.url, **kw)


def connect_oauth(url: str, admin, authserver):
    model = oauth_model(url, admin, authserver)
    assert run(model.submit(CALLBACK))
    result = finish_callback(Backend(admin, url), approve(model.redirect, redirect_uri=CALLBACK))
    assert result.ok, result.message
    return result


def test_callback_url_and_helpers():
    assert CALLBACK == "http://127.0.0.1:5006/app?page=connections&oauth=callback"
    assert is_callback({"oauth": "callback", "state": "s", "code": "c"})
    assert is_callback({"oauth": "callback", "error": "access_denied"})
    assert not is_callback({"page": "connections", "state": "s"})


def test_no_auth_profile_is_created_and_connected(sqlite_url, keyring, admin):
    model = NewProfileModel(Backend(admin, sqlite_url), profile_name="Calc", environment="staging")
    changes = []
    model.param.watch(changes.append, "changed")
    assert run(model.submit(CALLBACK))
    assert (model.message_kind, model.message) == (
        "success", "Profile Calc connected: Configured (Active).")
    assert changes and model.profile_name == "" and model.created == ""
    view = only_connection(sqlite_url, admin, "Calc")
    assert (view.environment, view.provider, view.status) == ("staging", "Calc No Authentication Provider", "Active")


def test_api_key_is_used_once_then_cleared_and_shown_masked(sqlite_url, keyring, admin):
    model = NewProfileModel(Backend(admin, sqlite_url), profile_name="Keyed", kind="api_key")
    cleared = []
    model.param.watch(cleared.append, "secrets_used")
    assert not run(model.submit(CALLBACK))  # no key: refused before anything is created
    assert model.message_kind == "error" and "key" in model.message.lower()
    assert model.created == ""
    model.api_key = API_KEY
    assert run(model.submit(CALLBACK))
    assert model.api_key == "" and len(cleared) == 2
    assert API_KEY not in model.message
    assert only_connection(sqlite_url, admin, "Keyed").config["credential"] == "••••7f3a"


def test_taken_name_and_bad_issuer_are_clear_errors_and_create_nothing(sqlite_url, keyring,
                                                                      admin):
    run(NewProfileModel(Backend(admin, sqlite_url), profile_name="Calc").submit(CALLBACK))
    taken = NewProfileModel(Backend(admin, sqlite_url), profile_name="Calc",
                            provider_name="Other")
    assert not run(taken.submit(CALLBACK))
    assert (taken.message_kind, taken.message) == ("error", "a profile named 'Calc' exists")
    bad = NewProfileModel(Backend(admin, sqlite_url), profile_name="Remote", kind="oauth2",
                          client_id="x", client_secret="s3cr3t-value", issuer="http://idp.example")
    assert not run(bad.submit(CALLBACK))
    assert "https" in bad.message and "s3cr3t" not in bad.message and bad.client_secret == ""
    with session(sqlite_url) as s:
        assert s.exec(select(Profile.name)).all() == ["Calc"]
        assert s.exec(select(ProviderConfig.name)).all() == ["Calc No Authentication Provider"]


def test_oauth_profile_connects_through_the_callback_once(sqlite_url, keyring, admin,
                                                         authserver):
    model = oauth_model(sqlite_url, admin, authserver)
    assert run(model.submit(CALLBACK))
    assert model.redirect.startswith(f"{authserver.url}/authorize?")
    assert "code_challenge_method=S256" in model.redirect and model.client_secret == ""
    params = approve(model.redirect, redirect_uri=CALLBACK)
    assert params["oauth"] == "callback"
    result = finish_callback(Backend(admin, sqlite_url), params)
    assert (result.ok, result.account) == (True, USER_EMAIL)
    replay = finish_callback(Backend(admin, sqlite_url), params)
    assert not replay.ok and replay.message.startswith("Not connected:")
    forged = finish_callback(Backend(admin, sqlite_url), {"state": "forged", "code": "x"})
    assert not forged.ok
    view = only_connection(sqlite_url, admin, "Local")
    assert (view.account, view.status) == (USER_EMAIL, "Active")


def test_denied_consent_is_a_message_and_no_connection(sqlite_url, keyring, admin, authserver):
    model = oauth_model(sqlite_url, admin, authserver)
    run(model.submit(CALLBACK))
    result = finish_callback(Backend(admin, sqlite_url),
                             approve(model.redirect, "deny", redirect_uri=CALLBACK))
    assert not result.ok and "access_denied" in result.message
    with session(sqlite_url) as s:
        assert list_connections(s, actor=admin, where=ConnectionFilter()).items == []


def test_view_actions_disable_enable_refresh_reauthorize(sqlite_url, keyring, admin, authserver):
    ident = connect_oauth(sqlite_url, admin, authserver).connection_id
    actions = ConnectionActionsModel(Backend(admin, sqlite_url))
    run(actions.disable(ident))
    view = only_connection(sqlite_url, admin, "Local")
    assert view.disabled and view.status_reason == "disabled by alice"
    run(actions.refresh_now(ident))
    assert actions.message_kind in ("warning", "error")
    run(actions.enable(ident))
    assert not only_connection(sqlite_url, admin, "Local").disabled
    run(actions.refresh_now(ident))
    assert (actions.message_kind, actions.message) == (
        "success", f"Refresh of connection {ident}: refreshed.")
    run(actions.reauthorize(ident, "Local", CALLBACK))
    result = finish_callback(Backend(admin, sqlite_url),
                             approve(actions.redirect, redirect_uri=CALLBACK))
    assert result.ok and result.connection_id == ident


def test_update_key_on_an_oauth_connection_is_refused(sqlite_url, keyring, admin, authserver):
    ident = connect_oauth(sqlite_url, admin, authserver).connection_id
    actions = ConnectionActionsModel(Backend(admin, sqlite_url))
    run(actions.update_key(ident, API_KEY))
    assert actions.message_kind == "error" and API_KEY not in actions.message


def test_viewer_cannot_create_a_profile(sqlite_url, keyring, viewer):
    model = NewProfileModel(Backend(viewer, sqlite_url), profile_name="Calc")
    assert not run(model.submit(CALLBACK))
    assert model.message_kind == "error" and model.created == ""


def test_revoke_is_told_to_the_provider_at_once(sqlite_url, keyring, admin, authserver):
    ident = connect_oauth(sqlite_url, admin, authserver).connection_id
    with session(sqlite_url) as s:
        revoke_connection(s, actor=admin, connection_id=ident)
    deliver_revocations_soon(Backend(admin, sqlite_url), [ident]).join(10)
    with session(sqlite_url) as s:
        rows = list_revocations(s, actor=admin, pending_only=False)
    assert [r.state for r in rows] == ["delivered"]


def test_view_actions_show_by_kind_and_not_to_viewers(sqlite_url, keyring, admin, viewer):
    from dashboard.viewmodels.actions import ActionsModel
    from dashboard.views.connection_actions import (
        ConnectionActionsBar,
        ConnectionDialogsWithActions,
    )

    keyed = NewProfileModel(Backend(admin, sqlite_url), profile_name="Keyed", kind="api_key",
                            api_key=API_KEY)
    run(keyed.submit(CALLBACK))
    ident = only_connection(sqlite_url, admin, "Keyed").id
    bars = {}
    for actor in (admin, viewer):
        bar = ConnectionActionsBar(actions=ActionsModel(Backend(actor, sqlite_url)))
        run(bar.actions.view(ident))
        bars[actor.name] = bar
    shown = bars["alice"]
    assert shown._row.visible and not bars["victor"]._row.visible
    assert (shown._update.visible, shown._reauthorize.visible, shown._enable.visible) == (
        True, False, False)
    # In the page's dialogs the bar is built when View first opens, for that connection.
    dialogs = ConnectionDialogsWithActions(actions=ActionsModel(Backend(admin, sqlite_url)))
    assert dialogs._bar is None and dialogs._slot.objects == []
    run(dialogs.actions.view(ident))
    bar = dialogs._bar
    assert bar is not None and len(dialogs._slot.objects) == 1
    assert (bar._update.visible, bar._reauthorize.visible, bar._enable.visible) == (
        True, False, False)


def test_explicit_endpoints_and_client_credentials(sqlite_url, keyring, admin, authserver):
    explicit = NewProfileModel(
        Backend(admin, sqlite_url), profile_name="Explicit", kind="oauth2", endpoints="explicit",
        client_id=CLIENT_ID, client_secret=CLIENT_SECRET, issuer="https://ignored.example",
        authorize_url=f"{authserver.url}/authorize", token_url=f"{authserver.url}/token",
        userinfo_url=f"{authserver.url}/userinfo")
    assert run(explicit.submit(CALLBACK)), explicit.message
    assert explicit.redirect.startswith(f"{authserver.url}/authorize?")
    machine = NewProfileModel(
        Backend(admin, sqlite_url), profile_name="Machine", kind="client_credentials",
        client_id=CLIENT_ID, client_secret=CLIENT_SECRET, issuer=authserver.url, scopes="")
    assert run(machine.submit(CALLBACK)), machine.message
    view = only_connection(sqlite_url, admin, "Machine")
    assert (view.account, view.status) == (f"client {CLIENT_ID}", "Active")


def test_dialog_clears_its_password_widgets_after_use(sqlite_url, keyring, admin):
    from dashboard.views.new_profile import NewProfileDialog

    dialog = NewProfileDialog(model=NewProfileModel(Backend(admin, sqlite_url)))
    form = dialog.form()
    form.kind.value = "api_key"
    dialog.model.profile_name = "Keyed"
    form.api_key.value = API_KEY
    form.secret.value = "unused-client-secret"
    run(dialog._run())
    assert (form.api_key.value, form.secret.value) == ("", "")
    assert only_connection(sqlite_url, admin, "Keyed").config["credential"] == "••••7f3a"
    run(dialog._run())  # an empty form: the error is shown in the dialog, escaped
    assert form.error.visible and "profile name" in form.error.text


def test_reusing_a_provider_config_connects_with_its_kind(sqlite_url, keyring, admin, authserver):
    run(NewProfileModel(Backend(admin, sqlite_url), profile_name="Keyed", kind="api_key",
                        api_key=API_KEY, provider_name="Shared keys").submit(CALLBACK))
    again = NewProfileModel(Backend(admin, sqlite_url))
    assert run(again.load_choices())
    again.param.update(profile_name="Keyed staging", environment="staging",
                       existing_provider="Shared keys", api_key="sk-live-other-key-00009999")
    assert run(again.submit(CALLBACK)), again.message
    assert only_connection(sqlite_url, admin, "Keyed staging").config["credential"] == "••••9999"
    oauth = oauth_model(sqlite_url, admin, authserver)
    run(oauth.submit(CALLBACK))
    reuse = NewProfileModel(Backend(admin, sqlite_url), profile_name="Local 2")
    run(reuse.load_choices())
    reuse.existing_provider = "Local OAuth2 Provider"
    assert reuse.chosen_kind() == "oauth2"
    assert run(reuse.submit(CALLBACK)) and reuse.redirect.startswith(authserver.url)


def _add_servers(url: str, admin, *names: str) -> None:
    """Registered MCP servers with no profile yet (what New profile can connect)."""
    with session(url) as s:
        for i, name in enumerate(names):
            add_server(s, actor=admin, name=name, url=f"http://127.0.0.1:9/mcp{i}")
        s.commit()


def _profiles_servers_events(url: str) -> tuple[list[str], list[tuple[str, int | None]], int]:
    with session(url) as s:
        return (sorted(s.exec(select(Profile.name)).all()),
                sorted(s.exec(select(McpServer.name, McpServer.profile_id)).all()),
                len(s.exec(select(AuditEvent.id)).all()))


def test_choices_list_the_provider_configs_and_servers_by_name(sqlite_url, keyring, admin,
                                                               viewer):
    with session(sqlite_url) as s:
        create_provider_config(s, actor=admin, name="Shared keys", kind="api_key")
        # names the services refuse today, written before they did: listed as they are
        s.add(ProviderConfig(name=HOSTILE, kind="none"))
        s.add(McpServer(name=HOSTILE, url="http://127.0.0.1:9/x", transport="streamable-http",
                        state="disconnected"))
        s.commit()
    _add_servers(sqlite_url, admin, "Drive")
    model = NewProfileModel(Backend(viewer, sqlite_url))  # reading them is a viewer's right too
    assert run(model.load_choices()) and model.choices_note == ""
    assert model.param.existing_provider.objects == {
        "— new provider config —": "", f"{HOSTILE} (no authentication)": HOSTILE,
        "Shared keys (API key)": "Shared keys"}
    assert model.param.servers.objects == [HOSTILE, "Drive"]
    assert model.existing_provider == "" and model.servers == []
    with session(sqlite_url) as s:
        page = list_provider_configs(s, actor=admin, limit=1)
        assert ([c.name for c in page.items], page.total) == ([HOSTILE], 2)
        with pytest.raises(PermissionDenied):  # a broker token may not list them
            list_provider_configs(s, actor=Actor("gateway", Role.BROKER))


def test_no_servers_yet_is_said_and_many_are_capped(sqlite_url, keyring, admin):
    model = NewProfileModel(Backend(admin, sqlite_url))
    run(model.load_choices())
    assert model.choices_note.startswith("No MCP servers yet: add them on My Servers")
    _add_servers(sqlite_url, admin, *(f"Server {i:03}" for i in range(CHOICES_LIMIT + 2)))
    run(model.load_choices())
    assert len(model.param.servers.objects) == CHOICES_LIMIT
    assert model.choices_note == (f"Listed: the first {CHOICES_LIMIT} of {CHOICES_LIMIT + 2} MCP "
                                  "servers, by name. Connect other servers from My Servers "
                                  "(Reconfigure).")


def test_chosen_servers_are_connected_to_the_new_profile(sqlite_url, keyring, admin):
    _add_servers(sqlite_url, admin, "Drive", "Gmail", "Calendar")
    model = NewProfileModel(Backend(admin, sqlite_url), profile_name="Calc")
    run(model.load_choices())
    model.servers = ["Gmail", "Drive"]
    assert run(model.submit(CALLBACK)), model.message
    assert model.servers == []  # the form is empty again
    with session(sqlite_url) as s:
        rows = {r.name: r for r in list_servers(s, actor=admin).items}
    assert [(n, r.profile, r.state) for n, r in sorted(rows.items())] == [
        ("Calendar", None, "disconnected"), ("Drive", "Calc", "connected"),
        ("Gmail", "Calc", "connected")]


def test_unknown_or_removed_choices_are_clear_errors_and_change_nothing(sqlite_url, keyring,
                                                                        admin):
    with session(sqlite_url) as s:
        create_provider_config(s, actor=admin, name="Gone soon", kind="none")
        create_provider_config(s, actor=admin, name="Kept", kind="none")
        s.commit()
    _add_servers(sqlite_url, admin, "Drive", "Old server")
    model = NewProfileModel(Backend(admin, sqlite_url), profile_name="Calc")
    run(model.load_choices())
    with pytest.raises(ValueError, match="does not accept 'No such provider'"):
        model.existing_provider = "No such provider"  # not one of the choices: refused
    with pytest.raises(ValueError, match="does not accept 'Nope'"):
        model.servers = ["Drive", "Nope"]
    assert (model.existing_provider, model.servers) == ("", [])

    model.param.update(existing_provider="Gone soon", servers=["Drive", "Old server"])
    with session(sqlite_url) as s:  # removed by someone else while the dialog is open
        s.execute(delete(McpServer).where(col(McpServer.name) == "Old server"))
        s.execute(delete(ProviderConfig).where(col(ProviderConfig.name) == "Gone soon"))
        s.commit()
    before = _profiles_servers_events(sqlite_url)
    assert not run(model.submit(CALLBACK))
    assert (model.message_kind, model.message) == (
        "error", ("provider config 'Gone soon' and MCP server 'Old server' no longer exist: "
                  "choose again (the lists are up to date now)."))
    assert _profiles_servers_events(sqlite_url) == before
    assert model.created == "" and model.profile_name == "Calc"
    assert (model.existing_provider, model.servers) == ("", ["Drive"])  # what still exists
    assert "Gone soon" not in model.param.existing_provider.objects.values()
    model.existing_provider = "Kept"
    assert run(model.submit(CALLBACK)), model.message  # chosen again: it works
    assert only_connection(sqlite_url, admin, "Calc").provider == "Kept"


def test_dialog_asks_only_for_the_reused_configs_key(sqlite_url, keyring, admin):
    from dashboard.views.new_profile import NewProfileDialog

    with session(sqlite_url) as s:
        create_provider_config(s, actor=admin, name="Shared keys", kind="api_key")
        create_provider_config(s, actor=admin, name="Open", kind="none")
        s.commit()
    _add_servers(sqlite_url, admin, "Drive")
    dialog = NewProfileDialog(model=NewProfileModel(Backend(admin, sqlite_url)))
    run(dialog._show(None))
    form = dialog.form()
    assert dialog._dialog.open
    assert list(form.existing.options) == [
        "— new provider config —", "Open (no authentication)", "Shared keys (API key)"]
    assert list(form.servers.options) == ["Drive"]

    def shown() -> tuple[bool, ...]:
        return (form.kind.visible, form.provider_name.visible, form.oauth.visible,
                form.api_key.visible)

    form.kind.value = "oauth2"
    assert shown() == (True, True, True, False)  # a new config: all its fields
    form.existing.value = "Shared keys"
    assert shown() == (False, False, False, True)  # only its API key
    form.existing.value = "Open"
    assert shown() == (False, False, False, False)
    form.existing.value = "Shared keys"
    dialog.model.profile_name = "Keyed"
    form.api_key.value = API_KEY
    form.servers.value = ["Drive"]
    run(dialog._run())
    assert not dialog._dialog.open and form.existing.value == "" and form.servers.value == []
    view = only_connection(sqlite_url, admin, "Keyed")
    assert (view.provider, view.config["credential"]) == ("Shared keys", "••••7f3a")
    assert [s.name for s in view.mcp_servers] == ["Drive"]
    with session(sqlite_url) as s:
        assert sorted(s.exec(select(ProviderConfig.name)).all()) == ["Open", "Shared keys"]


def _written(url: str) -> tuple[list[str], int, list[str]]:
    """What a connect or key update would move: every stored secret, the events, the profiles."""
    with session(url) as s:
        secrets = [v for _, c in secret_columns()
                   for v in s.execute(select(c).where(c.is_not(None))).scalars()]
        return secrets, len(s.exec(select(AuditEvent.id)).all()), \
            sorted(s.exec(select(Profile.name)).all())


def test_a_wrong_secret_key_is_a_clear_error_and_writes_nothing(store_url, keyring, admin,
                                                                  monkeypatch):
    first = NewProfileModel(Backend(admin, store_url), profile_name="Keyed", kind="api_key",
                            api_key=API_KEY)
    assert run(first.submit(CALLBACK))  # with the right key: the key-check token is written
    ident = only_connection(store_url, admin, "Keyed").id
    before = _written(store_url)
    monkeypatch.setenv("CONNMODEL_SECRET_KEY", Fernet.generate_key().decode())
    wrong = "the secret key from CONNMODEL_SECRET_KEY cannot decrypt the stored secrets"
    other = NewProfileModel(Backend(admin, store_url), profile_name="Other", kind="api_key",
                            api_key="sk-typed-with-a-wrong-key-0001")
    assert not run(other.submit(CALLBACK))
    assert other.message_kind == "error" and other.message.startswith(wrong)
    assert other.api_key == "" and "sk-typed" not in other.message
    actions = ConnectionActionsModel(Backend(admin, store_url))
    run(actions.update_key(ident, "sk-typed-with-a-wrong-key-0002"))
    assert actions.message_kind == "error" and actions.message.startswith(wrong)
    result = finish_callback(Backend(admin, store_url), {"state": "s", "code": "c"})
    assert not result.ok and result.message.startswith(f"Not connected: {wrong}")
    assert _written(store_url) == before
