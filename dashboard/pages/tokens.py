"""Gateway → API tokens: who can call `connmodel api`, with what scope, last used when; Revoke.

Names and creators are user text: every cell travels as a plain value (`TextTable`). No token or
hash is ever read.
"""

from typing import Any

import panel as pn
from panel.viewable import Viewable

from connmodel.models import ApiTokenPublic
from dashboard.changes import follow_changes
from dashboard.components.labelled_checkbox import LabelledCheckbox
from dashboard.components.notice import Notice
from dashboard.components.text_table import TextTable
from dashboard.components.theme import MARKDOWN_CSS
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


COLUMNS = ["Name", "Scope", "Created by", "Created", "Expires", "Last used", "Revoked"]


def token_rows(tokens: list[ApiTokenPublic]) -> list[list[str]]:
    """The cells of each token (never the token or its hash: ApiTokenPublic has neither)."""
    return [[t.name, t.scope, t.created_by, _when(t.created_at), _when(t.expires_at),
             _when(t.last_used_at),
             f"{_when(t.revoked_at)} by {t.revoked_by}" if t.revoked_at else "–"]
            for t in tokens]


class TokensView(pn.viewable.Viewer):
    def __init__(self, model: TokensModel, **params: Any) -> None:
        super().__init__(**params)
        self.model = model

    def __panel__(self) -> Viewable:
        m = self.model
        shown = LabelledCheckbox(label="Show revoked", value=m.include_revoked)
        shown.param.watch(lambda e: setattr(m, "include_revoked", e.new), "value")
        table = TextTable(columns=COLUMNS, empty="No API token.", caption="API tokens",
                          sizing_mode="stretch_width")
        outcome = Notice(sizing_mode="stretch_width")

        def show(*_: Any) -> None:
            table.rows = token_rows(m.tokens)
            outcome.param.update(text=m.message, kind="error" if m.error else "info")

        m.param.watch(show, ["tokens", "message", "error"])
        show()
        parts: list[Any] = [pn.pane.Markdown(INTRO, stylesheets=[MARKDOWN_CSS]), shown, table]
        if m.can_revoke:
            parts.extend(self._revoke_controls())
        parts.append(outcome)
        return pn.Column(*parts, sizing_mode="stretch_width")

    def _revoke_controls(self) -> list[Viewable]:
        """Choose a live token, Revoke, then Confirm revoke or Cancel: nothing to click while
        there is nothing to revoke, and nothing changed before the confirmation."""
        m = self.model
        choose = pn.widgets.Select(name="Token", width=200)
        revoke = pn.widgets.Button(name="Revoke token", button_type="danger", align="end")
        question = Notice(kind="warning", sizing_mode="stretch_width")
        confirm = pn.widgets.Button(name="Confirm revoke", button_type="danger")
        cancel = pn.widgets.Button(name="Cancel")
        asking = pn.Row(confirm, cancel, visible=False)

        def show(*_: Any) -> None:
            live = m.live_names
            choose.param.update(options=["", *live], value=m.chosen if m.chosen in live else "",
                                disabled=not live)
            revoke.disabled = not m.chosen or bool(m.confirming)
            question.text = (f"Revoke API token {m.confirming}? Every request with it is "
                             "refused from then on; this cannot be undone."
                             if m.confirming else "")
            asking.visible = bool(m.confirming)

        async def on_confirm(_: Any) -> None:
            await m.revoke()

        choose.param.watch(lambda e: setattr(m, "chosen", e.new or ""), "value")
        m.param.watch(show, ["tokens", "chosen", "confirming"])
        revoke.on_click(lambda _: m.ask_revoke())
        confirm.on_click(on_confirm)
        cancel.on_click(lambda _: m.cancel_revoke())
        show()
        return [pn.Row(choose, revoke), question, asking]


def build(backend: Backend) -> Viewable:
    """The page shown under Gateway → API tokens (its list read in a worker thread once the
    page is served, and again whenever the store changes elsewhere)."""
    model = TokensModel(backend)
    pn.state.execute(model.refresh)
    follow_changes(backend.url, model.catch_up)
    return TokensView(model)
