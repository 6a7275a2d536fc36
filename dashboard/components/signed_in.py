"""The header's "Signed in as NAME (role)" and, with local users, the "Sign out" link.

The name comes from the sign-in (a local user or the OpenID Connect subject), so it is escaped.
Sign out is offered in local mode only: with `none` there is nobody to sign out, and with OIDC
the identity provider owns the session.
"""

import os

import panel as pn

from connmodel.permissions import Actor
from dashboard import auth
from dashboard.escaping import esc

CSS = """
.signed-in { color: #fff; font-size: 14px; white-space: nowrap; }
.signed-in a { color: #fff; margin-left: 12px; text-decoration: underline; }
"""


def signed_in_html(actor: Actor | None, mode: str) -> str:
    """The header text for `actor` under sign-in `mode` (local, oidc, none)."""
    if actor is None:
        return ""
    link = f' <a href="{auth.logout_url}">Sign out</a>' if mode == "local" else ""
    return (f'<span class="signed-in" role="status">Signed in as <strong>{esc(actor.name)}'
            f"</strong> ({esc(actor.role)}){link}</span>")


def signed_in(actor: Actor | None) -> pn.pane.HTML:
    """The header pane for this browser session."""
    mode = os.environ.get("CONNMODEL_DASHBOARD_AUTH", "local")
    return pn.pane.HTML(signed_in_html(actor, mode), stylesheets=[CSS], align="center",
                        margin=(0, 16))
