"""The header's signed-in line: escaped name, role, and Sign out only with local users."""

from connmodel.permissions import Actor, Role
from dashboard.components.signed_in import signed_in_html


def test_local_mode_names_the_user_escaped_and_offers_sign_out():
    html = signed_in_html(Actor('<img src=x onerror=alert(1)>', Role.VIEWER), "local")
    assert "Signed in as <strong>&lt;img src=x onerror=alert(1)&gt;</strong> (viewer)" in html
    assert '<a href="/logout">Sign out</a>' in html and "<img" not in html


def test_no_sign_out_without_local_users_and_nothing_when_signed_out():
    assert "Sign out" not in signed_in_html(Actor("ann@example.com", Role.ADMIN), "oidc")
    assert "(admin)" in signed_in_html(Actor("local", Role.ADMIN), "none")
    assert signed_in_html(None, "local") == ""
