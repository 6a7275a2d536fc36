"""New profile, Connect, Re-authorize, Update key, Disable / Enable, Refresh now, OAuth callback.

The models call `connmodel.providers` services through the session's `Backend`; no Panel here.
Secrets typed into the dialog (client secret, API key) are handed to a service once and then
cleared from the model (`NewProfileModel.secrets_used` tells the view to clear its widgets); they
never appear in a message. Outcomes are plain text in `message` (the view escapes them);
`redirect` holds the provider URL the browser must open for an OAuth2 flow.
"""

import asyncio
import logging
import threading
from collections.abc import Mapping, Sequence
from typing import Any

import param

from connmodel.errors import ConnModelError
from connmodel.models import ProviderConfigPublic, ServerRow
from connmodel.paging import Page
from connmodel.providers import authorization, callback, connect, lifecycle, refresh, revocations
from connmodel.providers.endpoints import check_url
from connmodel.providers.setup import NewProvider, new_profile
from connmodel.secrets import KeyRing
from connmodel.services.keys import checked_keyring
from connmodel.services.profiles import default_provider_name, list_provider_configs
from connmodel.services.servers import list_servers
from connmodel.status import ProviderKind
from connmodel.store import session
from connmodel.validation import clean_name
from dashboard.viewmodels.backend import Backend

log = logging.getLogger(__name__)

KINDS = {"No authentication": ProviderKind.NONE.value, "API key": ProviderKind.API_KEY.value,
         "OAuth2 (browser sign-in)": ProviderKind.OAUTH2.value,
         "OAuth2 client credentials (machine)": ProviderKind.CLIENT_CREDENTIALS.value}
ENDPOINTS = {"Issuer URL (discovery)": "issuer", "Google preset": "google",
             "Explicit endpoints": "explicit"}
NEW_PROVIDER = "— new provider config —"
KIND_NAMES = {ProviderKind.NONE.value: "no authentication", ProviderKind.API_KEY.value: "API key",
              ProviderKind.OAUTH2.value: "OAuth2",
              ProviderKind.CLIENT_CREDENTIALS.value: "OAuth2 client credentials"}
CHOICES_LIMIT = 500
CALLBACK_FLAG = "oauth"
CALLBACK_VALUE = "callback"
CALLBACK_KEYS = ("code", "state", "error", "error_description", "iss", "scope",
                 "session_state", CALLBACK_FLAG)


def keyring(url: str | None) -> KeyRing:
    """The key ring, read per use so a rotated key file is picked up, and proven against the
    store at `url` (its key-check token) before anything is written with it: a missing or wrong
    key raises a clear SecretKeyError instead of storing a secret nobody can decrypt."""
    with session(url) as s:
        ring = checked_keyring(s)
        s.commit()  # the first check on a database writes the key-check token
    return ring


def callback_uri(origin: str, pathname: str) -> str:
    """The redirect URI the provider sends the browser back to: this app, Connections page."""
    return f"{origin}{pathname}?page=connections&{CALLBACK_FLAG}={CALLBACK_VALUE}"


def is_callback(query: Mapping[str, str]) -> bool:
    return query.get(CALLBACK_FLAG) == CALLBACK_VALUE and ("state" in query or "error" in query)


def choices_note(configs: Page[ProviderConfigPublic], servers: Page[ServerRow]) -> str:
    """What the dialog says under its choices when they are not the whole story."""
    notes = []
    if not servers.items:
        notes.append("No MCP servers yet: add them on My Servers, then connect them there "
                     "(Reconfigure).")
    more = [f"the first {len(p.items)} of {p.total}{'' if p.total_exact else '+'} {what}"
            for p, what in ((configs, "provider configs"), (servers, "MCP servers"))
            if p.next_cursor is not None]
    if more:
        notes.append(f"Listed: {' and '.join(more)}, by name.")
    if servers.next_cursor is not None:
        notes.append("Connect other servers from My Servers (Reconfigure).")
    return " ".join(notes)


class Outcome(param.Parameterized):
    """The common outcome fields: a plain-text message, its kind, and a redirect URL."""

    message = param.String(default="", doc="The outcome to show (plain text, escape it).")
    message_kind = param.Selector(objects=["info", "success", "warning", "error"],
                                  default="info")
    redirect = param.String(default="", doc="A provider authorization URL to open.")
    changed = param.Event(doc="Fires when listings must be re-read.")

    def __init__(self, backend: Backend, **params: Any) -> None:
        super().__init__(**params)
        self.backend = backend

    def _tell(self, text: str, kind: str) -> None:
        self.message = ""  # the same outcome twice in a row still notifies
        self.param.update(message_kind=kind, message=text)

    async def _call(self, service: Any, **kwargs: Any) -> Any:
        """Call a service with the key ring in a worker thread (it may wait up to 10 s on a
        provider; the server's other sessions keep running); a ConnModelError becomes an error
        message (None). Parameters change only here, on the event loop, after the call."""
        def keyed() -> Any:
            return self.backend.call(service, keyring=keyring(self.backend.url), **kwargs)

        try:
            return await asyncio.to_thread(keyed)
        except ConnModelError as exc:
            self._tell(str(exc), "error")
            return None


class NewProfileModel(Outcome):
    """The New profile dialog: profile fields, how it authenticates, then connect."""

    profile_name = param.String(default="", doc="Profile name.")
    environment = param.Selector(objects=["dev", "staging", "production"], default="dev")
    description = param.String(default="", doc="What the admin writes; empty is fine.")
    provider_name = param.String(default="", doc="Name of the new provider config.")
    existing_provider = param.Selector(
        objects={NEW_PROVIDER: ""}, default="", check_on_set=True,
        doc="Reuse this provider config (by name), one of those load_choices() read; empty: "
            "a new one from the fields below.")
    kind = param.Selector(objects=list(KINDS.values()), default=ProviderKind.NONE.value)
    endpoints = param.Selector(objects=list(ENDPOINTS.values()), default="issuer")
    client_id = param.String(default="")
    client_secret = param.String(default="", doc="Cleared after each attempt.")
    scopes = param.String(default="openid email")
    issuer = param.String(default="")
    authorize_url = param.String(default="")
    token_url = param.String(default="")
    revocation_url = param.String(default="")
    userinfo_url = param.String(default="")
    api_key = param.String(default="", doc="Cleared after each attempt.")
    servers = param.ListSelector(default=[], objects=[], check_on_set=True,
                                 doc="MCP servers to connect, among those load_choices() read.")
    provider_kinds = param.Dict(default={}, doc="Kind of each provider config in the choices.")
    choices_note = param.String(default="", doc="Says when not every server or config is listed.")
    created = param.String(default="", doc="Name of the profile created but not yet connected: "
                                           "its name, environment and provider are fixed.")
    secrets_used = param.Event(doc="Fires after a secret was used: the view clears its widgets.")

    def _read_choices(self) -> tuple[Page[ProviderConfigPublic], Page[ServerRow]]:
        """The provider configs and MCP servers to choose from, the first CHOICES_LIMIT of each
        by name, through the services (which check the actor may read them). No param changes:
        it may run in a worker thread."""
        return (self.backend.read(list_provider_configs, limit=CHOICES_LIMIT),
                self.backend.read(list_servers, limit=CHOICES_LIMIT))

    def _show_choices(self, configs: Page[ProviderConfigPublic], servers: Page[ServerRow]) -> None:
        """Offer these choices; a chosen config or server no longer among them is dropped."""
        kinds = {c.name: c.kind for c in configs.items}
        names = [s.name for s in servers.items]
        self.param.existing_provider.objects = {
            NEW_PROVIDER: "", **{f"{c.name} ({KIND_NAMES.get(c.kind, c.kind)})": c.name
                                for c in configs.items}}
        self.param.servers.objects = names
        self.param.update(
            provider_kinds=kinds,
            existing_provider=self.existing_provider if self.existing_provider in kinds else "",
            servers=[s for s in self.servers if s in names],
            choices_note=choices_note(configs, servers))

    async def load_choices(self) -> bool:
        """Read (in a worker thread) and offer the choices, when the dialog opens and before
        each submit; False, with the reason in `message`, if the read failed."""
        try:
            pages = await asyncio.to_thread(self._read_choices)
        except ConnModelError as exc:
            self._tell(str(exc), "error")
            return False
        self._show_choices(*pages)
        return True

    @property
    def default_provider_name(self) -> str:
        """The new provider config's name when the form gives none ("PROFILE" standing for a
        profile name not typed yet: creating refuses an empty one first)."""
        return default_provider_name(self.profile_name.strip() or "PROFILE", self.kind)

    def chosen_kind(self) -> str:
        """How the profile will authenticate: the reused provider config's kind, or `kind`."""
        if self.existing_provider:
            return self.provider_kinds.get(self.existing_provider, self.kind)
        return self.kind

    async def _still_there(self) -> bool:
        """Re-read the choices; a chosen config or server removed since is a clear error."""
        chosen, servers = self.existing_provider, list(self.servers)
        if not await self.load_choices():
            return False
        gone = ([f"provider config {chosen!r}"] if chosen and chosen not in self.provider_kinds
                else []) + [f"MCP server {s!r}" for s in servers if s not in self.servers]
        if gone:
            self._tell(f"{' and '.join(gone)} no longer exist{'s' if len(gone) == 1 else ''}: "
                       "choose again (the lists are up to date now).", "error")
        return not gone

    def _provider(self) -> str | NewProvider:
        if self.existing_provider:
            return self.existing_provider
        oauth = self.kind in (ProviderKind.OAUTH2.value, ProviderKind.CLIENT_CREDENTIALS.value)
        explicit = oauth and self.endpoints == "explicit"
        return NewProvider(
            name=self.provider_name.strip() or self.default_provider_name,
            kind=self.kind,
            client_id=self.client_id.strip() if oauth else "",
            client_secret=(self.client_secret or None) if oauth else None,
            scopes=self.scopes if oauth else None,
            preset="google" if oauth and self.endpoints == "google" else None,
            issuer=self.issuer.strip() or None if oauth and self.endpoints == "issuer" else None,
            authorize_url=self.authorize_url.strip() or None if explicit else None,
            token_url=self.token_url.strip() or None if explicit else None,
            revocation_url=self.revocation_url.strip() or None if explicit else None,
            userinfo_url=self.userinfo_url.strip() or None if explicit else None)

    def _forget_secrets(self) -> None:
        self.param.update(client_secret="", api_key="")
        self.secrets_used = True

    def _check_before_creating(self, redirect_uri: str) -> None:
        """Raise what connecting would refuse in the form's own values (an empty or malformed
        API key, a bad redirect URI) while nothing is created yet: a profile made before such a
        refusal would keep the name and environment typed first, whatever the form says later.
        The name is checked first, as the form lists it (creating checks it again)."""
        if not self.created:
            clean_name(self.profile_name, "profile name")
        kind = self.chosen_kind()
        if kind == ProviderKind.API_KEY.value:
            connect.check_api_key(self.api_key)
        elif kind == ProviderKind.OAUTH2.value:
            check_url(redirect_uri, "redirect URI")

    async def submit(self, redirect_uri: str) -> bool:
        """Create the profile (once), then connect it; True when done or redirecting.

        The chosen config and servers are checked against a fresh read first, and the form's
        own values as the connect will, so a refusal they foresee creates nothing. A failure
        after the profile was created (a provider refused) says so: `created` then names it,
        and the fields it fixed no longer count (the view locks them)."""
        try:
            ok = await self._create_and_connect(redirect_uri)
        finally:
            self._forget_secrets()
        if not ok and self.created:
            self._tell(f"Profile {self.created} was created; connecting it failed: "
                       f"{self.message}", "error")
        return ok

    async def _create_and_connect(self, redirect_uri: str) -> bool:
        if not await self._still_there():
            return False
        try:
            self._check_before_creating(redirect_uri)
        except ConnModelError as exc:
            self._tell(str(exc), "error")
            return False
        if not self.created:
            profile = await self._call(new_profile, name=self.profile_name,
                                       environment=self.environment,
                                       description=self.description,
                                       provider=self._provider())
            if profile is None:
                return False
            self.created = profile.name
            self.changed = True
        return await self._connect(redirect_uri)

    async def _connect(self, redirect_uri: str) -> bool:
        servers = list(self.servers)
        kind = self.chosen_kind()
        if kind == ProviderKind.OAUTH2.value:
            start = await self._call(authorization.begin_authorization, profile=self.created,
                               redirect_uri=redirect_uri, servers=servers)
            if start is None:
                return False
            self._tell(f"Profile {self.created} created; opening the provider to sign in.",
                       "info")
            self.redirect = start.url
            return True
        conn = await self._call(connect.connect_profile, profile=self.created,
                          api_key=self.api_key if kind == ProviderKind.API_KEY.value else None,
                          servers=servers)
        if conn is None:
            return False
        self._tell(f"Profile {self.created} connected: {conn.account} ({conn.status}).",
                   "success")
        self.changed = True
        self.reset()
        return True

    def cancel(self) -> str:
        """Back to an empty form (the dialog closed); returns what the admin must still be
        told: a profile created but not connected stays (the Connections page lists it)."""
        left = f"Profile {self.created} was created but is not connected." if self.created else ""
        self.reset()
        return left

    def reset(self) -> None:
        """Back to an empty form (after success, and through `cancel`)."""
        self.param.update({name: self.param[name].default for name in
                           ("profile_name", "description", "provider_name", "existing_provider",
                            "client_id", "issuer", "authorize_url", "token_url", "revocation_url",
                            "userinfo_url", "servers", "created", "client_secret", "api_key")})


class ConnectionActionsModel(Outcome):
    """The View dialog's actions on one connection."""

    async def reauthorize(self, connection_id: int, profile: str, redirect_uri: str) -> None:
        start = await self._call(authorization.begin_authorization, profile=profile,
                           redirect_uri=redirect_uri, connection_id=connection_id)
        if start is not None:
            self._tell("Opening the provider to re-authorize.", "info")
            self.redirect = start.url

    async def update_key(self, connection_id: int, api_key: str) -> None:
        if await self._call(connect.update_key, connection_id=connection_id, api_key=api_key):
            self._tell(f"Connection {connection_id}: key updated, Active.", "success")
            self.changed = True

    async def _toggle(self, service: Any, connection_id: int, verb: str) -> None:
        try:
            result = await self.backend.acall(service, connection_id=connection_id)
        except ConnModelError as exc:
            self._tell(str(exc), "error")
            return
        self._tell(f"Connection {connection_id} {verb}: {result.status}"
                   + (f" ({result.status_reason})" if result.status_reason else "") + ".",
                   "success")
        self.changed = True

    async def disable(self, connection_id: int) -> None:
        await self._toggle(lifecycle.disable_connection, connection_id, "disabled")

    async def enable(self, connection_id: int) -> None:
        await self._toggle(lifecycle.enable_connection, connection_id, "enabled")

    async def refresh_now(self, connection_id: int) -> None:
        outcome = await self._call(refresh.refresh_connection, connection_id=connection_id)
        if outcome is None:
            return
        good = outcome.result == "refreshed"
        text = f"Refresh of connection {connection_id}: {outcome.result}"
        self._tell(text + (f" ({outcome.message})" if outcome.message else "") + ".",
                   "success" if good else "warning")
        self.changed = True


def finish_callback(backend: Backend, params: Mapping[str, str | Sequence[str]]
                    ) -> callback.CallbackResult:
    """The dashboard's OAuth callback: never raises; a missing key is an unsuccessful result."""
    try:
        ring = keyring(backend.url)
    except ConnModelError as exc:
        return callback.CallbackResult(False, f"Not connected: {exc}")
    with session(backend.url) as s:
        return callback.handle_callback(s, actor=backend.actor, keyring=ring, params=params)


def deliver_revocations_soon(backend: Backend, connection_ids: Sequence[int]) -> threading.Thread:
    """Tell the provider about just-revoked tokens at once, off the UI thread."""

    def run() -> None:
        try:
            ring = keyring(backend.url)
            for ident in connection_ids:
                backend.call(revocations.deliver_due, keyring=ring, connection_id=ident)
        except ConnModelError as exc:
            log.warning("provider revocation not delivered yet: %s", exc)

    thread = threading.Thread(target=run, name="connmodel-revoke-now", daemon=True)
    thread.start()
    return thread
