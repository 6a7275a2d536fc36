"""Gateway → API tokens: who can call `connmodel api`, with what scope, last used when; Revoke.

Names and creators are user text: every cell goes through `esc`. No token or hash is ever read.
"""

from typing import Any

import panel as pn
from panel.viewable import Viewable

from connmodel.models import ApiTokenPublic
from dashboard.escaping import esc, esc_md
from dashboard.pages.activity import TABLE_CSS
from dashboard.viewmodels.backend import Backend
from dashboard.viewmodels.tokens import TokensModel

KEY = "tokens"
TITLE = "API tokens"
GROUP = "Gateway"
INTRO = """# API tokens
Tokens of the HTTP API and the credential broker (`connmodel api`). A token is shown once, when
`connmodel token add NAME --scope read|admin|broker` issues it; here you see who has one and
revoke it. Times are UTC."""


def _when(value: Any) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value else "–"


def tokens_table(tokens: list[ApiTokenPublic]) -> str:
    """The tokens as an HTML table; every text is escaped."""
    if not tokens:
        return "<p>No API token.</p>"
    rows = "".join(
        f"<tr><td>{esc(t.name)}</td><td>{esc(t.scope)}</td><td>{esc(t.created_by)}</td>"
        f"<td>{_when(t.created_at)}</td><td>{_when(t.expires_at)}</td>"
        f"<td>{_when(t.last_used_at)}</td>"
        f"<td>{esc(f'{_when(t.revoked_at)} by {t.revoked_by}') if t.revoked_at else '–'}</td></tr>"
        for t in tokens)
    return ("<table class='activity'><thead><tr><th>Name</th><th>Scope</th><th>Created by</th>"
            "<th>Created</th><th>Expires</th><th>Last used</th><th>Revoked</th></tr></thead>"
            f"<tbody>{rows}</tbody></table>")


class TokensView(pn.viewable.Viewer):
    def __init__(self, model: TokensModel, **params: Any) -> None:
        super().__init__(**params)
        self.model = model

    def __panel__(self) -> Viewable:
        m = self.model
        shown = pn.widgets.Checkbox.from_param(m.param.include_revoked, name="Show revoked")
        parts: list[Any] = [pn.pane.Markdown(INTRO), shown,
                            pn.pane.HTML(pn.bind(tokens_table, m.param.tokens),
                                         stylesheets=[TABLE_CSS], sizing_mode="stretch_width")]
        if m.can_revoke:
            choose = pn.widgets.Select(name="Token", options=["", *m.live_names], width=200)
            choose.param.watch(lambda e: setattr(m, "chosen", e.new or ""), "value")
            m.param.watch(lambda _: setattr(choose, "options", ["", *m.live_names]), "tokens")
            revoke = pn.widgets.Button(name="Revoke token", button_type="danger", align="end")
            revoke.on_click(lambda _: m.revoke())
            parts.append(pn.Row(choose, revoke))
        parts.append(pn.pane.Markdown(pn.bind(
            lambda text, bad: f"**{esc_md(text)}**" if bad else esc_md(text),
            m.param.message, m.param.error)))
        return pn.Column(*parts, sizing_mode="stretch_width")


def build(backend: Backend) -> Viewable:
    """The page shown under Gateway → API tokens."""
    return TokensView(TokensModel(backend))
