"""OpenID Connect sign-in to the dashboard against the local authlib server, in Chromium.

The dashboard is started as `make run SERVE_ARGS="--auth oidc"` would: dashboard/serve.py with the
PANEL_OAUTH_* variables; Panel's `auth_code` provider (PKCE, public client) signs the person in,
and the e-mail from the userinfo endpoint becomes the actor of every audit event.
"""

import importlib.util
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from authserver import PUBLIC_CLIENT_ID
from cryptography.fernet import Fernet
from playwright.sync_api import Page, expect
from servers import free_port, serving
from sqlalchemy import select

from connmodel.models import AuditEvent
from connmodel.store import session

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location(
    "ui_serving", ROOT / "tests" / "ui" / "conftest.py")
assert _spec is not None and _spec.loader is not None
ui = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(ui)


@pytest.fixture
def oidc_dashboard(authserver, tmp_path) -> Iterator[ui.Dashboard]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PANEL_", "CONNMODEL_"))}
    env |= {
        "CONNMODEL_DATABASE_URL": f"sqlite:///{tmp_path / 'connmodel.db'}",
        "CONNMODEL_KEY_FILE": str(tmp_path / "connmodel.key"),
        "CONNMODEL_OIDC_ADMINS": "user@example.com",
        "PANEL_OAUTH_KEY": PUBLIC_CLIENT_ID,
        "PANEL_OAUTH_AUTHORIZE_URL": f"{authserver.url}/authorize",
        "PANEL_OAUTH_TOKEN_URL": f"{authserver.url}/token",
        "PANEL_OAUTH_USER_URL": f"{authserver.url}/userinfo",
        "PANEL_OAUTH_SCOPE": "openid email",
        "PANEL_OAUTH_REDIRECT_URI": f"{base}/login",
        "PANEL_OAUTH_ENCRYPTION": Fernet.generate_key().decode(),
        "PANEL_COOKIE_SECRET": Fernet.generate_key().decode(),
    }
    bin_dir = Path(sys.executable).parent
    for step in (["init"], ["demo"]):
        subprocess.run([bin_dir / "connmodel", *step], env=env, check=True, capture_output=True)
    command = [sys.executable, str(ROOT / "dashboard" / "serve.py"), "--port", str(port),
               "--auth", "oidc"]
    log = tmp_path / "dashboard.log"
    # up once a first visit reaches the consent page of this test's authorization server
    with serving(command, port=port, log=log, env=env, cwd=tmp_path, ready_url=base + "/"):
        yield ui.Dashboard(base, env["CONNMODEL_DATABASE_URL"], env, log)


@pytest.mark.ui
def test_oidc_sign_in_and_the_audit_trail_names_the_person(oidc_dashboard, authserver, page: Page):
    base, database_url = oidc_dashboard.url, oidc_dashboard.database_url
    page.goto(base + "/")
    assert page.url.startswith(authserver.url + "/authorize")  # not signed in: off to the provider
    page.get_by_role("button", name="Approve").click()
    expect(page.get_by_role("heading", name="Connections", exact=True)).to_be_visible(timeout=30_000)
    assert page.url.startswith(base)

    page.get_by_role("button", name="Revoke Hubspot connection").click()
    page.get_by_role("button", name="Confirm revoke").click()
    expect(page.locator(".toast")).to_contain_text("Revoked Hubspot connection")
    with session(database_url) as s:
        actors = s.execute(select(AuditEvent.actor).where(AuditEvent.action == "revoke")).all()
    assert actors == [("user@example.com",)]


@pytest.mark.ui
def test_a_denied_consent_signs_nobody_in(oidc_dashboard, authserver, page: Page):
    base = oidc_dashboard.url
    page.goto(base + "/")
    page.get_by_role("button", name="Deny").click()
    expect(page.get_by_role("heading", name="Connections", exact=True)).to_have_count(0)
    page.goto(base + "/")
    assert page.url.startswith(authserver.url)


@pytest.mark.ui
@pytest.mark.parametrize("how", ["sign-out", "demotion", "disable"])
def test_an_open_oidc_page_cannot_write_once_its_sign_in_ends(oidc_dashboard, authserver, browser,
                                                              how):
    """Issue 16 in OIDC mode: the page's actor came from the sign-in cookie and
    CONNMODEL_OIDC_ADMINS when the page opened, so after /logout in another tab (or demotion,
    or disabling) the open page still revoked, audited under the signed-out name."""
    from sqlmodel import select as select_model

    from connmodel.models import Connection
    from connmodel.permissions import Actor
    from connmodel.services import users

    base, database_url = oidc_dashboard.url, oidc_dashboard.database_url
    first, second = browser.new_context(), browser.new_context()
    try:
        page = first.new_page()
        page.goto(base + "/")
        page.get_by_role("button", name="Approve").click()
        expect(page.get_by_role("heading", name="Connections", exact=True)).to_be_visible(
            timeout=30_000)
        revoke = page.get_by_role("button", name="Revoke Hubspot connection")
        expect(revoke).to_be_visible()
        refusal = "user@example.com is no longer signed in"
        if how == "sign-out":
            second.add_cookies(first.cookies())  # another tab of the same browser
            tab = second.new_page()
            tab.goto(base + "/logout")
            expect(tab.get_by_role("status")).to_have_text("You are signed out.")
        else:
            with session(database_url) as s:
                users.add_user(s, actor=Actor("setup"), name="root", role="admin")
                if how == "demotion":
                    users.set_role(s, actor=Actor("setup"), name="user@example.com",
                                   role="viewer")
                    refusal = "user@example.com is now a viewer"
                else:
                    users.set_disabled(s, actor=Actor("setup"), name="user@example.com")
        revoke.click()
        page.get_by_role("button", name="Confirm revoke").click()
        expect(page.locator(".toast")).to_contain_text(refusal)
        banner = page.locator(".box.warning").filter(has_text=refusal)
        expect(banner).to_contain_text("nothing was changed; sign in again")
        expect(banner.get_by_role("link", name="Sign in")).to_be_visible()
    finally:
        first.close()
        second.close()
    with session(database_url) as s:
        assert s.exec(select_model(Connection).where(Connection.revoked_at.is_not(None))).all() \
            == []
        denied = s.execute(select(AuditEvent.actor, AuditEvent.target, AuditEvent.outcome)
                           .where(AuditEvent.action == "denied")).all()
    assert [(a, t, o.startswith(f"refused: {refusal}")) for a, t, o in denied] == [
        ("user@example.com", "revoke_connection", True)]
