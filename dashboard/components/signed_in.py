"""The header's "Signed in as NAME (role)" and the "Sign out" link.

The name comes from the sign-in (a local user or the OpenID Connect subject): it travels as a
plain value and is written with `textContent`. Sign out is offered with local users and OIDC
(it ends the console's session; the identity provider's own session is the provider's); with
`none` there is nobody to sign out.
"""

import os
from typing import Any, ClassVar

import param

from connmodel.permissions import Actor
from dashboard import auth
from dashboard.components.base import ConsoleComponent


def signed_in_data(actor: Actor | None, mode: str) -> dict[str, Any]:
    """What the header shows for `actor` under sign-in `mode` (local, oidc, none)."""
    if actor is None:
        return {"name": "", "role": "", "logout": ""}
    return {"name": actor.name, "role": str(actor.role),
            "logout": auth.logout_url if mode in ("local", "oidc") else ""}


class SignedIn(ConsoleComponent):
    """Who is signed in, in the header's colours; empty when nobody is."""

    name = param.String(default="", doc="The signed-in user's name ('' when nobody is).")
    role = param.String(default="", doc="Their role (admin, viewer).")
    logout = param.String(default="", doc="The sign-out URL ('' when sign-out is not offered).")

    _esm = """
    export function render({ model, el }) {
      const line = document.createElement('span')
      line.className = 'who'
      if (model.name) {
        const who = document.createElement('strong')
        who.textContent = model.name
        line.append('Signed in as ', who, ` (${model.role})`)
        if (model.logout) {
          const out = document.createElement('a')
          out.href = model.logout
          out.textContent = 'Sign out'
          line.append(' ', out)
        }
      }
      el.append(line)
    }
    """

    _stylesheets: ClassVar[list[str]] = ["""
    .who { color: var(--header-color); font-size: 14px; white-space: nowrap; }
    /* Phone-wide: the line wraps in the header rather than being cut. */
    @media (max-width: 480px) { .who { font-size: 12px; white-space: normal;
                                       display: block; line-height: 1.3; } }
    .who a { color: inherit; margin-left: 12px; text-decoration: underline; }
    a:focus-visible { outline: 2px solid currentColor; outline-offset: 2px; }
    """]


def signed_in(actor: Actor | None) -> SignedIn:
    """The header's line for this browser session."""
    mode = os.environ.get("CONNMODEL_DASHBOARD_AUTH", "local")
    return SignedIn(**signed_in_data(actor, mode), align="center", margin=(0, 16))
