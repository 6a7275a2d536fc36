"""The View dialog and the Revoke confirmation, bound to an `ActionsModel`.

Every user-controlled value is passed through `esc` before it enters an HTML pane. The detail
holds the configuration already masked by the service: no secret reaches this module.
"""

import asyncio
from typing import Any

import panel as pn
import param
from panel.reactive import Reactive

from connmodel.models import ConnectionDetail
from dashboard.components.escaped_html import EscapedHTML
from dashboard.escaping import esc
from dashboard.viewmodels.actions import ActionsModel, RevokeRequest, connection_label

REVOKE_NOTE = ("Revoking a connection will disconnect all MCP servers using that profile. "
               "They will stop working until you reconfigure.")
_STYLE = """
.detail dl { display: grid; grid-template-columns: max-content 1fr; gap: 4px 16px; margin: 0; }
.detail dt { font-weight: 600; color: #57606a; }
.detail dd { margin: 0; }
.detail table { border-collapse: collapse; }
.detail td, .detail th { padding: 2px 12px 2px 0; text-align: left; vertical-align: top; }
.badge { border-radius: 10px; padding: 1px 8px; font-weight: 600; }
.badge.active { background: #dafbe1; color: #116329; }
.badge.inactive { background: #eaeef2; color: #57606a; }
.badge.error { background: #ffebe9; color: #a40e26; }
.note { background: #fff8c5; border-left: 4px solid #d4a72c; padding: 8px 12px; }
"""
_MODAL = """
.dialog-content { max-height: calc(100vh - 80px); overflow: auto; }
"""


def _when(value: Any) -> str:
    return esc(value.strftime("%Y-%m-%d %H:%M UTC")) if value is not None else "–"


def detail_html(d: ConnectionDetail) -> str:
    """The View panel's body: escaped fields, masked configuration, servers, hint."""
    fields = [
        ("Profile", esc(d.profile)), ("Environment", esc(d.environment)),
        ("Provider config", esc(d.provider)), ("Service", esc(d.service)),
        ("Account", esc(d.account)),
        ("Status", f'<span class="badge {esc(d.status.lower())}">{esc(d.status)}</span> '
                   + esc(d.status_reason or "")),
        ("Last checked", _when(d.checked_at)), ("Created", _when(d.created_at)),
        ("Expires", _when(d.expires_at)), ("Last used", _when(d.last_used_at)),
    ]
    rows = "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in fields)
    config = "".join(f"<tr><th scope='row'>{esc(k)}</th><td>{esc(v)}</td></tr>"
                     for k, v in d.config.items()) or "<tr><td>No settings</td></tr>"
    servers = "".join(f"<li>{esc(s.name)} <small>({esc(s.state)})</small></li>"
                      for s in d.mcp_servers) or "<li>No MCP server uses this profile.</li>"
    hint = f'<p class="note">{esc(d.hint)}</p>' if d.hint else ""
    return (f'<div class="detail"><h2>{esc(connection_label(d.profile, d.account))}</h2>'
            f"<dl>{rows}</dl>{hint}<h3>MCP servers using this connection</h3><ul>{servers}</ul>"
            f"<h3>Configuration (secrets masked)</h3><table>{config}</table></div>")


def revoke_html(r: RevokeRequest) -> str:
    """The confirmation's body: what is revoked, the servers that stop, the seed's note."""
    servers = "".join(f"<li>{esc(name)}</li>" for name in r.servers)
    if r.more_servers:
        servers += "<li>… and more</li>"
    listed = (f"<p>These MCP servers will be disconnected:</p><ul>{servers}</ul>" if servers
              else "<p>No connected MCP server uses this profile.</p>")
    return f"<h2>{esc(r.title)}</h2>{listed}<p class='note'>{esc(REVOKE_NOTE)}</p>"


class Dialog(pn.Modal):
    """A Modal whose opening and closing from Python is not echoed back to Python.

    Panel's layouts apply a property inside a document hold, so Bokeh reports the change to
    Panel's own listener after Panel stopped expecting it: every open and close came back as
    if the browser had sent it (busy counter, `edit_readonly` over `pn.state`, a param update:
    a third of a View click's CPU). Without a change to the children, no hold is needed.
    """

    def _update_model(self, events: dict[str, Any], msg: dict[str, Any], root: Any, model: Any,
                      doc: Any, comm: Any) -> None:
        if "objects" in msg:
            super()._update_model(events, msg, root, model, doc, comm)
        else:
            Reactive._update_model(self, events, msg, root, model, doc, comm)


class ConnectionDialogs(pn.viewable.Viewer):
    """Two modal dialogs driven by the actions model: View and Revoke confirmation."""

    actions = param.ClassSelector(class_=ActionsModel, doc="The state the dialogs show.")

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        a = self.actions
        self._detail = EscapedHTML(stylesheets=[_STYLE], sizing_mode="stretch_width")
        close = pn.widgets.Button(label="Close", color="default")
        close.on_click(lambda _: a.close_view())
        self._view = Dialog(self._detail, close, width=600, name="Connection details",
                              stylesheets=[_MODAL])
        self._question = EscapedHTML(stylesheets=[_STYLE], sizing_mode="stretch_width")
        cancel = pn.widgets.Button(label="Cancel", color="default")
        cancel.on_click(lambda _: a.cancel())
        self._confirm = pn.widgets.Button(label="Confirm revoke", color="danger")
        self._confirm.on_click(self._run)
        self._progress = pn.indicators.Progress(value=0, max=1, visible=False,
                                                sizing_mode="stretch_width")
        self._revoke = Dialog(self._question, self._progress, pn.Row(cancel, self._confirm),
                                width=560, name="Confirm revocation", stylesheets=[_MODAL])
        self._view.param.watch(self._view_closed, "open")
        self._revoke.param.watch(self._revoke_closed, "open")
        a.param.watch(self._show_detail, "detail")
        a.param.watch(self._show_pending, "pending")
        a.param.watch(self._show_progress, ["progress", "running"])

    def _show_detail(self, event: param.parameterized.Event) -> None:
        if event.new is not None:
            self._detail.object = detail_html(event.new)
        self._view.open = event.new is not None

    def _view_closed(self, event: param.parameterized.Event) -> None:
        if not event.new:
            self.actions.close_view()

    def _show_pending(self, event: param.parameterized.Event) -> None:
        if event.new is not None:
            self._question.object = revoke_html(event.new)
            self._progress.param.update(max=max(event.new.count, 1), value=0)
        self._revoke.open = event.new is not None

    def _revoke_closed(self, event: param.parameterized.Event) -> None:
        if not event.new and not self.actions.running:
            self.actions.cancel()

    def _show_progress(self, *_: param.parameterized.Event) -> None:
        self._progress.param.update(value=min(self.actions.progress, self._progress.max),
                                    visible=self.actions.running)
        self._confirm.disabled = self.actions.running

    async def _run(self, _: Any) -> None:
        for _step in self.actions.confirm_steps():
            await asyncio.sleep(0)

    def __panel__(self) -> pn.viewable.Viewable:
        return pn.Column(self._view, self._revoke, height=0, margin=0)
