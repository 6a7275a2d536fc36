"""The banner a page shows once its sign-in has ended: why, and the way back in.

A write is checked against the user as the store has them now (`connmodel.permissions`), so a
page opened before its user signed out, expired, was disabled or demoted is refused its next
write; this says so on every page of that browser session, with a link to sign in again.
"""

from dashboard import auth
from dashboard.components.notice import Notice
from dashboard.viewmodels.backend import SignIn


def sign_in_ended(state: SignIn) -> Notice:
    """A warning that stays hidden until `state.ended` says why this page may no longer write."""
    banner = Notice(kind="warning", link=auth.login_url, link_label="Sign in",
                    sizing_mode="stretch_width")

    def show(*_: object) -> None:
        banner.text = f"{state.ended}." if state.ended else ""

    state.param.watch(show, "ended")
    show()
    return banner
