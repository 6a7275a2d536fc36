"""Who the dashboard acts as: the one place the app asks, per browser session.

The sign-in mode is decided by `dashboard/serve.py` (see `dashboard/auth.py`): with
`--no-auth-on-loopback` everyone is the fixed local admin; otherwise the signed-in user with
their role. Every service call passes this actor, so permissions are checked in the services
and every audit event names the person.
"""

import panel as pn

from connmodel.permissions import Actor
from dashboard import auth


def current_actor() -> Actor | None:
    """The acting user of the current browser session, or None when nobody is signed in."""
    return auth.current_actor(dict(pn.state.cookies or {}), pn.state.user)
