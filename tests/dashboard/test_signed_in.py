"""The header's signed-in line: the name as a plain value, role, and Sign out (local and OIDC)."""

from connmodel.permissions import Actor, Role
from dashboard.components.signed_in import signed_in_data


def test_local_mode_names_the_user_as_a_value_and_offers_sign_out():
    data = signed_in_data(Actor("<img src=x onerror=alert(1)>", Role.VIEWER), "local")
    assert data == {"name": "<img src=x onerror=alert(1)>", "role": "viewer",
                    "logout": "/logout"}


def test_sign_out_with_oidc_none_without_sign_in_and_nothing_when_signed_out():
    assert signed_in_data(Actor("ann@example.com", Role.ADMIN), "oidc")["logout"] == "/logout"
    assert signed_in_data(Actor("local", Role.ADMIN), "none")["logout"] == ""
    assert signed_in_data(Actor("local", Role.ADMIN), "none")["role"] == "admin"
    assert signed_in_data(None, "local")["name"] == ""
