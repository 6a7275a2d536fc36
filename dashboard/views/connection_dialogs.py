"""The View dialog and the Revoke confirmation, bound to an `ActionsModel`.

What they show is built here as plain values (`detail_blocks`, `revoke_blocks`) and written
into the page as text by `Dialog`: no markup, so nothing to escape. The detail holds the
configuration already masked by the service: no secret reaches this module.
"""

from typing import Any

import panel as pn
import param
from panel.models.esm import DataEvent

from connmodel.models import ConnectionDetail
from dashboard.components.dialog import Dialog
from dashboard.viewmodels.actions import ActionsModel, RevokeRequest, connection_label

REVOKE_NOTE = ("Revoking a connection will disconnect all MCP servers using that profile. "
               "They will stop working until you reconfigure.")
Block = dict[str, Any]


def _when(value: Any) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value is not None else "–"


def detail_blocks(d: ConnectionDetail) -> list[Block]:
    """The View dialog's content: fields, hint, servers, masked configuration."""
    fields: list[list[Any]] = [
        ["Profile", d.profile], ["Environment", d.environment], ["Provider config", d.provider],
        ["Service", d.service], ["Account", d.account],
        ["Status", {"badge": d.status, "text": d.status_reason or ""}],
        ["Last checked", _when(d.checked_at)], ["Created", _when(d.created_at)],
        ["Expires", _when(d.expires_at)], ["Last used", _when(d.last_used_at)],
    ]
    return [
        {"heading": connection_label(d.profile, d.account)},
        {"fields": fields},
        *([{"note": d.hint}] if d.hint else []),
        {"subheading": "MCP servers using this connection"},
        {"list": [f"{s.name} ({s.state})" for s in d.mcp_servers],
         "empty": "No MCP server uses this profile."},
        {"subheading": "Configuration (secrets masked)"},
        {"table": [[k, v] for k, v in d.config.items()], "empty": "No settings"},
    ]


def gone_blocks(d: ConnectionDetail, why: str) -> list[Block]:
    """View's content once its connection was revoked elsewhere: what it was, and why it is
    no longer (no status, no servers, no actions: none of them holds now)."""
    return [{"heading": connection_label(d.profile, d.account)}, {"note": why},
            {"text": "It has left the listing; its MCP servers are disconnected until they are "
                     "reconfigured (My Servers)."}]


def revoke_blocks(r: RevokeRequest) -> list[Block]:
    """The confirmation's content: what is revoked, the servers that stop, the seed's note."""
    servers = [*r.servers, *(["… and more"] if r.more_servers else [])]
    listed: list[Block] = ([{"text": "These MCP servers will be disconnected:"},
                            {"list": servers}] if servers
                           else [{"text": "No connected MCP server uses this profile."}])
    return [{"heading": r.title}, *listed, {"note": REVOKE_NOTE}]


class ConnectionDialogs(pn.viewable.Viewer):
    """Two modal dialogs driven by the actions model: View and Revoke confirmation."""

    actions = param.ClassSelector(class_=ActionsModel, doc="The state the dialogs show.")

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        a = self.actions
        self._view = Dialog(label="Connection details", content_class="detail", max_width=600,
                            buttons=[{"label": "Close", "action": "close"}])
        self._revoke = Dialog(label="Confirm revocation", content_class="question", max_width=560,
                              buttons=[{"label": "Cancel", "action": "close", "autofocus": True},
                                       {"label": "Confirm revoke", "action": "confirm",
                                        "kind": "danger"}])
        self._revoke.on_msg(self._run)
        self._view.param.watch(self._view_closed, "open")
        self._revoke.param.watch(self._revoke_closed, "open")
        a.param.watch(self._show_detail, "detail")
        a.param.watch(self._show_gone, "gone")
        a.param.watch(self._show_pending, "pending")
        a.param.watch(self._show_progress, ["progress", "running"])

    def _show_detail(self, event: param.parameterized.Event) -> None:
        if event.new is not None:
            self._view.show(detail_blocks(event.new))
        else:
            self._view.open = False

    def _show_gone(self, event: param.parameterized.Event) -> None:
        if event.new and self.actions.detail is not None and self._view.open:
            self._view.show(gone_blocks(self.actions.detail, event.new))

    def _view_closed(self, event: param.parameterized.Event) -> None:
        if not event.new:
            self.actions.close_view()

    def _show_pending(self, event: param.parameterized.Event) -> None:
        if event.new is not None:
            self._revoke.total = max(event.new.count, 1)
            self._revoke.show(revoke_blocks(event.new))
        else:
            self._revoke.open = False

    def _revoke_closed(self, event: param.parameterized.Event) -> None:
        if not event.new and not self.actions.running:
            self.actions.cancel()

    def _show_progress(self, *_: param.parameterized.Event) -> None:
        self._revoke.param.update(progress=self.actions.progress, busy=self.actions.running)

    async def _run(self, event: DataEvent) -> None:
        if event.data == {"action": "confirm"}:
            await self.actions.confirm()  # each batch in a worker thread; progress shows between

    def __panel__(self) -> pn.viewable.Viewable:
        return pn.Column(self._view, self._revoke, height=0, margin=0)
