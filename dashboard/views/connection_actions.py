"""The View dialog's provider actions: Re-authorize, Refresh now, Update key, Disable / Enable.

Which buttons show depends on the connection shown (its provider kind and whether it is
disabled). After an action the detail is read again and the page's listing refreshed; the
outcome is shown, as text, under the buttons. The new API key's widget is cleared after use.
"""

import inspect
from typing import Any

import panel as pn
import param

from connmodel.models import ConnectionDetail
from connmodel.status import ProviderKind
from dashboard.components.notice import Notice
from dashboard.components.redirect import Redirect
from dashboard.viewmodels.actions import ActionsModel
from dashboard.viewmodels.providers import ConnectionActionsModel
from dashboard.views.connection_dialogs import ConnectionDialogs
from dashboard.views.new_profile import redirect_uri

OAUTH = (ProviderKind.OAUTH2.value, ProviderKind.CLIENT_CREDENTIALS.value)


class ConnectionActionsBar(pn.viewable.Viewer):
    """Buttons for the connection in `actions.detail`; invisible when nothing is shown."""

    actions = param.ClassSelector(class_=ActionsModel, doc="The View dialog's state.")

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self.model = ConnectionActionsModel(self.actions.backend)
        m = self.model
        self._reauthorize = self._button("Re-authorize", lambda d: m.reauthorize(
            d.id, d.profile, redirect_uri()))
        self._refresh = self._button("Refresh now", lambda d: m.refresh_now(d.id))
        self._disable = self._button("Disable", lambda d: m.disable(d.id))
        self._enable = self._button("Enable", lambda d: m.enable(d.id))
        self._key = pn.widgets.PasswordInput(label="New API key", placeholder="the replacement key",
                                             width=220)
        self._update = self._button("Update key", self._update_key)
        self._outcome = Notice(sizing_mode="stretch_width")
        self._redirect = Redirect()
        m.param.watch(lambda e: setattr(self._redirect, "url", e.new), "redirect")
        m.param.watch(self._show_outcome, "message")
        m.param.watch(self._after_change, "changed")
        self.actions.param.watch(lambda e: self.show(e.new), "detail")
        self.actions.param.watch(self._gone, "gone")
        self._shown: int | None = None
        # Visible for writers once and for all: it lives in the View dialog, hidden when closed.
        self._row = pn.FlexBox(self._reauthorize, self._refresh, self._key, self._update,
                               self._disable, self._enable, align_items="flex-end",
                               visible=self.actions.backend.can_write)

    def _button(self, label: str, run: Any) -> pn.widgets.Button:
        button = pn.widgets.Button(label=label, color="default", variant="outline", align="end")

        async def click(_: Any) -> None:
            if self.actions.detail is not None:
                result = run(self.actions.detail)
                if inspect.isawaitable(result):
                    await result

        button.on_click(click)
        return button

    async def _update_key(self, detail: ConnectionDetail) -> None:
        try:
            await self.model.update_key(detail.id, self._key.value or "")
        finally:
            self._key.value = ""

    def show(self, d: ConnectionDetail | None) -> None:
        """The buttons for connection `d` (None: the dialog closed)."""
        if d is None or d.id != self._shown:
            self._outcome.text = ""
        self._shown = d.id if d is not None else None
        if d is None:  # the dialog closes: the buttons stay as they are until the next View
            return
        off = d.disabled
        self._reauthorize.visible = d.provider_kind == ProviderKind.OAUTH2.value and not off
        self._refresh.visible = d.provider_kind in OAUTH and not off
        self._key.visible = self._update.visible = d.provider_kind == ProviderKind.API_KEY.value \
            and not off
        self._disable.visible = not off
        self._enable.visible = off

    def _gone(self, event: param.parameterized.Event) -> None:
        """A connection revoked elsewhere has no action left."""
        if event.new:
            for widget in (self._reauthorize, self._refresh, self._key, self._update,
                           self._disable, self._enable):
                widget.visible = False

    def _show_outcome(self, *_: Any) -> None:
        self._outcome.param.update(text=self.model.message, kind=self.model.message_kind)

    async def _after_change(self, *_: Any) -> None:
        detail = self.actions.detail
        if detail is not None:
            await self.actions.view(detail.id)  # re-read: status, reason, expiry
        self.actions.changed = True

    def __panel__(self) -> pn.viewable.Viewable:
        return pn.Column(self._row, self._outcome, self._redirect, sizing_mode="stretch_width")


class ConnectionDialogsWithActions(ConnectionDialogs):
    """The page's View / Revoke dialogs, with the provider actions under View's details.

    The actions are built when View first opens (13 of the page's models and ~25 ms of each
    session's first screen, for a dialog many sessions never open).
    """

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self._bar: ConnectionActionsBar | None = None
        self._slot = pn.Column(sizing_mode="stretch_width", margin=0)
        self._view.objects = [self._slot]

    def _show_detail(self, event: param.parameterized.Event) -> None:
        if event.new is not None and self._bar is None:
            self._bar = ConnectionActionsBar(actions=self.actions)
            self._bar.show(event.new)  # it missed this View: it watches the next ones
            self._slot.objects = [self._bar]
        super()._show_detail(event)
