"""The Connections page's "New profile" button and dialog, and the OAuth callback's banner.

The dialog asks for the profile (name, environment, description), how it authenticates (an
existing provider config chosen from a list, or a new one: none, API key, OAuth2 with an
issuer / the Google preset / explicit endpoints, client credentials) and which registered MCP
servers to connect (a multiple choice); "Create and connect" creates the provider config and
profile in one transaction, then connects (OAuth2: the browser goes to the provider's consent
page and comes back to this page). Password widgets are cleared after every attempt; once the
profile exists, the fields it fixed are locked until the dialog closes. It is a `Dialog`, as
View and Revoke are: Escape closes it, focus stays inside, and goes back to New profile after.
"""

import json
from collections.abc import Awaitable, Callable
from typing import Any

import panel as pn
import param
from panel.models.esm import DataEvent

from dashboard import oauth_callback
from dashboard.components.dialog import Dialog
from dashboard.components.notice import Notice
from dashboard.components.redirect import Redirect
from dashboard.components.status_line import StatusLine
from dashboard.components.toasts import Toasts
from dashboard.design import PLUS_ICON
from dashboard.viewmodels.actions import ActionsModel
from dashboard.viewmodels.backend import Backend
from dashboard.viewmodels.providers import (
    ENDPOINTS,
    KINDS,
    NewProfileModel,
    callback_uri,
    deliver_revocations_soon,
)

_INTRO = [{"heading": "New profile"},
          {"text": "A profile is a named use of a provider config; connect it to the MCP servers "
                   "that should use it. Reuse an existing provider config and only its API key "
                   "(if it has one) is asked."}]
_BUTTONS = [{"label": "Cancel", "action": "close"},
            {"label": "Create and connect", "action": "create", "kind": "primary"}]
_WRAP = "label { white-space: normal; }"  # a long label wraps in a narrow dialog
OAUTH_KINDS = ("oauth2", "client_credentials")


def redirect_uri() -> str:
    """This app's callback URL as the browser sees it (scheme, host, port, path)."""
    loc = pn.state.location
    if loc is None:
        return ""
    protocol = (loc.protocol or "http:").rstrip(":")
    port = f":{loc.port}" if loc.port else ""
    return callback_uri(f"{protocol}://{loc.hostname}{port}", loc.pathname or "/")


class NewProfileForm:
    """The dialog's fields, built when the dialog is first opened: ~20 widgets that every
    Connections page would otherwise build, send and render hidden (a quarter of the page's
    server time: its HTML took 436-518 ms with them, 340-352 ms without)."""

    def __init__(self, model: NewProfileModel) -> None:
        m = self.model = model
        text = pn.widgets.TextInput.from_param
        self.secret = pn.widgets.PasswordInput(label="Client secret",
                                               placeholder="empty for a public client")
        self.api_key = pn.widgets.PasswordInput(label="API key", placeholder="never shown again")
        self.secret.param.watch(lambda e: setattr(m, "client_secret", e.new), "value")
        self.api_key.param.watch(lambda e: setattr(m, "api_key", e.new), "value")
        m.param.watch(self._clear_secrets, "secrets_used")
        self.kind = pn.widgets.Select(label="Authentication", options=KINDS, value=m.kind)
        self.kind.link(m, value="kind")
        # Native <select>s: their options are text nodes. Not MultiChoice: Bokeh 3.10 renders
        # its labels with Choices.js, whose `allowHTML` defaults to true (innerHTML).
        self.existing = pn.widgets.Select.from_param(
            m.param.existing_provider, label="Provider config (a new one, or reuse one)",
            description="Reuse how an existing provider config authenticates: then only its "
                        "API key, if it has one, is asked.",
            sizing_mode="stretch_width", stylesheets=[_WRAP])
        self.servers = pn.widgets.MultiSelect.from_param(
            m.param.servers, options=[], size=5, sizing_mode="stretch_width",
            label="MCP servers to connect (optional; Ctrl/⌘-click for several)",
            description="Registered servers (My Servers) that will use this profile.",
            stylesheets=[_WRAP])
        note = StatusLine(object=m.choices_note, sizing_mode="stretch_width")
        m.param.watch(lambda e: setattr(note, "object", e.new), "choices_note")
        endpoints = pn.widgets.RadioButtonGroup(
            options=ENDPOINTS, value=m.endpoints, color="primary", variant="outline",
            sizing_mode="stretch_width", stylesheets=[".bk-btn-group { flex-wrap: wrap; }"])
        endpoints.link(m, value="endpoints")
        self._issuer = text(m.param.issuer, label="Issuer URL",
                            placeholder="https://accounts.example.com")
        explicit = [text(m.param.authorize_url, label="Authorization endpoint"),
                    text(m.param.token_url, label="Token endpoint"),
                    text(m.param.revocation_url, label="Revocation endpoint (optional)"),
                    text(m.param.userinfo_url, label="Userinfo endpoint (optional)")]
        self._explicit = pn.Column(*explicit)
        client_id = text(m.param.client_id, label="Client ID",
                         placeholder="client id from the provider")
        scopes = text(m.param.scopes, label="Scopes", placeholder="openid email")
        self.oauth_fields = [client_id, self.secret, scopes, endpoints, self._issuer, *explicit]
        self.oauth = pn.Column(client_id, self.secret, scopes, endpoints, self._issuer,
                               self._explicit)
        self.provider_name = text(m.param.provider_name, label="New provider config name",
                                  sizing_mode="stretch_width")  # room for its default
        self.name = text(m.param.profile_name, label="Profile name", placeholder="e.g. Drive")
        self.environment = pn.widgets.Select.from_param(m.param.environment, label="Environment")
        self.description = text(m.param.description, label="Description (optional)",
                                placeholder="what these connections are for")
        self.error = Notice(kind="error", sizing_mode="stretch_width")
        self.objects = [self.name, self.environment, self.description, self.existing, self.kind,
                        self.provider_name, self.oauth, self.api_key, self.servers, note]
        self._fixed = [self.name, self.environment, self.description, self.existing, self.kind,
                       self.provider_name, *self.oauth_fields]
        m.param.watch(self._show_kind, ["kind", "endpoints", "existing_provider"])
        m.param.watch(self._show_default_name, ["kind", "profile_name"])
        m.param.watch(self._lock, "created")
        self._show_kind()
        self._show_default_name()

    def _show_kind(self, *_: Any) -> None:
        """A reused provider config hides the new one's fields; its kind decides the key."""
        m = self.model
        new = not m.existing_provider
        self.kind.visible = self.provider_name.visible = new
        self.oauth.visible = new and m.kind in OAUTH_KINDS
        self._issuer.visible = m.endpoints == "issuer"
        self._explicit.visible = m.endpoints == "explicit"
        self.api_key.visible = m.chosen_kind() == "api_key"

    def _show_default_name(self, *_: Any) -> None:
        """The config's name if left empty, as its connections' Service will show it."""
        self.provider_name.placeholder = f"default: {self.model.default_provider_name}"

    def _lock(self, *_: Any) -> None:
        """A created profile keeps the name, environment and provider it was created with:
        their fields stop taking edits (only the key and servers still count for connecting)."""
        for widget in self._fixed:
            widget.disabled = bool(self.model.created)

    def _clear_secrets(self, *_: Any) -> None:
        self.secret.value = ""
        self.api_key.value = ""


class NewProfileDialog(pn.viewable.Viewer):
    """The button that opens the dialog, the dialog, and the redirect to the provider."""

    model = param.ClassSelector(class_=NewProfileModel, doc="The form state and outcome.")

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self._form: NewProfileForm | None = None
        self._toasts = Toasts()
        self._slot = pn.Column(sizing_mode="stretch_width", margin=0)
        self._error_slot = pn.Column(sizing_mode="stretch_width", margin=0)  # beside the buttons
        self._dialog = Dialog(label="New profile", content=json.dumps(_INTRO), buttons=_BUTTONS,
                              max_width=560, objects=[self._slot], status=[self._error_slot])
        self._dialog.on_msg(self._message)
        self._dialog.param.watch(self._closed, "open")
        self._open = pn.widgets.Button(label="New profile", color="primary", icon=PLUS_ICON,
                                       icon_size="14px")
        self._open.on_click(self._show)
        self._redirect = Redirect()
        self.model.param.watch(lambda e: setattr(self._redirect, "url", e.new), "redirect")

    def form(self) -> NewProfileForm:
        """The dialog's fields, built (and added to the dialog) the first time; its error
        shows above the buttons, which stay in sight however long the form is."""
        if self._form is None:
            self._form = NewProfileForm(self.model)
            self._slot.objects = self._form.objects
            self._error_slot.objects = [self._form.error]
        return self._form

    async def _show(self, _: Any) -> None:
        """(Re)read what the dialog offers to reuse and connect, then open it (its lists then
        do not change under the pointer)."""
        form = self.form()
        form.error.text = "" if await self.model.load_choices() else self.model.message
        self._dialog.open = True

    def _closed(self, event: param.parameterized.Event) -> None:
        """Closed (Cancel, Escape, or after success): an empty form next time, and a toast if
        a profile was left created but not connected."""
        if event.new:
            return
        self.form().error.text = ""
        left = self.model.cancel()
        if left:
            self._toasts.show(left, "warning")

    async def _message(self, event: DataEvent) -> None:
        if event.data == {"action": "create"}:
            await self._run()

    async def _run(self) -> None:
        """Create and connect; the dialog is busy meanwhile (buttons disabled, Escape ignored).
        A double click's second "create" comes before the browser has disabled the buttons: it
        is dropped here, or it tried to create again and audited a failure."""
        if self._dialog.busy:
            return
        form = self.form()
        self._dialog.busy = True
        try:
            ok = await self.model.submit(redirect_uri())
        finally:
            self._dialog.busy = False
        m = self.model
        if ok and not m.redirect:
            self._dialog.open = False
            self._toasts.show(m.message, "success")
        form.error.text = "" if ok else m.message

    def __panel__(self) -> pn.viewable.Viewable:
        return pn.Row(self._open, self._dialog, self._redirect, self._toasts)


def provider_tools(backend: Backend, on_change: Callable[[], Awaitable[None]],
                   actions: ActionsModel) -> pn.viewable.Viewable:
    """What the Connections page adds: the callback's outcome (if any) and New profile.
    `on_change` re-reads the page's listing (a coroutine).

    Also tells providers at once about tokens the page's Revoke just revoked (in a thread;
    the worker's queue retries if the provider is down). Token refresh is the worker's.
    """
    model = NewProfileModel(backend)

    async def changed(_: Any) -> None:
        await on_change()

    model.param.watch(changed, "changed")
    actions.param.watch(lambda e: e.new and deliver_revocations_soon(backend, e.new), "revoked")
    return pn.Column(oauth_callback.banner(backend, on_change), NewProfileDialog(model=model),
                     sizing_mode="stretch_width")
