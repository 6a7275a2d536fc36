"""New profile's retry after a failure, through its view model and its form, on a real SQLite
store without a browser: what can be refused is refused before anything is created; a profile
created before a provider refused is said so, and its fields stop taking edits."""

from servers import free_port
from sqlmodel import select

from connmodel.models import Profile, ProviderConfig
from connmodel.services.connections import ConnectionFilter, list_connections
from connmodel.store import session
from dashboard.viewmodels.backend import Backend
from dashboard.viewmodels.providers import NewProfileModel, callback_uri
from dashboard.views.new_profile import NewProfileDialog

CALLBACK = callback_uri("http://127.0.0.1:5006", "/app")
API_KEY = "sk-live-twilio-00007f3a"


def created(url: str) -> tuple[list[tuple[str, str]], list[str]]:
    """The profiles (name, environment) and provider configs in the store."""
    with session(url) as s:
        return (sorted((p.name, p.environment) for p in s.exec(select(Profile)).all()),
                sorted(s.exec(select(ProviderConfig.name)).all()))


def unreachable_machine(url: str, admin) -> NewProfileModel:
    """A client-credentials profile whose token endpoint nothing answers: created, then its
    connect fails at the provider, the one refusal no check can foresee."""
    return NewProfileModel(
        Backend(admin, url), profile_name="Machine", environment="production",
        kind="client_credentials", endpoints="explicit", client_id="machine-client",
        client_secret="machine-secret", scopes="",
        token_url=f"http://127.0.0.1:{free_port()}/token")


def test_an_empty_or_blank_key_creates_nothing_and_the_retry_uses_the_edited_form(
        sqlite_url, keyring, admin, run_async):
    model = NewProfileModel(Backend(admin, sqlite_url), profile_name="Twilio Live",
                            environment="production", kind="api_key")
    assert not run_async(model.submit(CALLBACK))
    assert (model.message_kind, model.message) == ("error", "the API key is empty")
    assert model.created == ""
    model.api_key = "   "
    assert not run_async(model.submit(CALLBACK))
    assert model.message == "the API key is empty"
    assert created(sqlite_url) == ([], [])
    model.param.update(profile_name="Twilio Real", environment="staging", api_key=API_KEY)
    assert run_async(model.submit(CALLBACK)), model.message
    assert model.message == "Profile Twilio Real connected: Configured (Active)."
    assert created(sqlite_url) == ([("Twilio Real", "staging")], ["Twilio Real API Key Authentication Provider"])


def test_a_key_typed_before_choosing_no_authentication_is_not_sent(sqlite_url, keyring, admin,
                                                                   run_async):
    model = NewProfileModel(Backend(admin, sqlite_url), profile_name="Calc", kind="api_key",
                            api_key=API_KEY)
    model.kind = "none"
    assert run_async(model.submit(CALLBACK)), model.message
    assert model.message == "Profile Calc connected: Configured (Active)."


def test_a_provider_refusal_after_creating_says_so_and_cancel_tells_what_stays(
        sqlite_url, keyring, admin, run_async):
    model = unreachable_machine(sqlite_url, admin)
    assert not run_async(model.submit(CALLBACK))
    assert model.message_kind == "error"
    assert model.message.startswith("Profile Machine was created; connecting it failed: "
                                    "client credentials token: cannot reach the provider")
    assert model.created == "Machine"
    assert not run_async(model.submit(CALLBACK))  # a retry connects the same profile, says so
    assert model.message.startswith("Profile Machine was created; connecting it failed: ")
    assert created(sqlite_url) == ([("Machine", "production")], ["Machine OAuth2 Client Credentials Provider"])
    assert model.cancel() == "Profile Machine was created but is not connected."
    assert (model.created, model.profile_name) == ("", "")
    assert model.cancel() == ""  # nothing created since: nothing to tell
    with session(sqlite_url) as s:
        assert list_connections(s, actor=admin,
                                where=ConnectionFilter(profile="Machine")).items == []


def test_the_dialog_locks_what_the_created_profile_fixed_until_it_closes(
        sqlite_url, keyring, admin, run_async):
    dialog = NewProfileDialog(model=unreachable_machine(sqlite_url, admin))
    run_async(dialog._show(None))
    form = dialog.form()
    run_async(dialog._run())
    assert form.error.text.startswith("Profile Machine was created; connecting it failed: ")
    assert dialog._dialog.open and not dialog._dialog.busy
    fixed = [form.name, form.environment, form.description, form.existing, form.kind,
             form.provider_name, *form.oauth_fields]
    assert all(w.disabled for w in fixed)
    assert not form.api_key.disabled and not form.servers.disabled
    dialog._dialog.open = False  # Escape or Cancel in the browser
    assert not any(w.disabled for w in fixed) and form.error.text == ""
