"""The banner a page shows once its sign-in has ended: why, and the way back in.

A write is checked against the user as the store has them now (`connmodel.permissions`), so a
page opened before its user signed out, expired, was disabled or demoted is refused its next
write; this says so on every page of that browser session, with a link to sign in again.
"""

import panel as pn

from dashboard import auth
from dashboard.escaping import esc_md
from dashboard.viewmodels.backend import SignIn


def _text(ended: str) -> str:
    return f"**{esc_md(ended)}.** [Sign in]({auth.login_url})" if ended else ""


def sign_in_ended(state: SignIn) -> pn.pane.Alert:
    """A warning that stays hidden until `state.ended` says why this page may no longer write."""
    return pn.pane.Alert(pn.bind(_text, state.param.ended), alert_type="warning",
                         visible=pn.bind(bool, state.param.ended), sizing_mode="stretch_width")
