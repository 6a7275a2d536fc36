"""Signing in to the dashboard in Chromium, through dashboard/serve.py as `make run` starts it.

Each test gets its own server (`serve_dashboard(local_users=True)`): throttling state must not
leak from one test into the next.
"""

import httpx
import pytest

from connmodel.services import users
from connmodel.store import session

PASSWORD = "correct horse battery staple"


@pytest.fixture
def signin_server(serve_dashboard, tmp_path, admin):
    with serve_dashboard(tmp_path, local_users=True, demo=False) as served:
        with session(served.database_url) as s:
            users.add_user(s, actor=admin, name="ann", role="admin", password=PASSWORD)
        yield served.url


@pytest.mark.ui
def test_sign_in_wrong_password_throttling_and_sign_out(signin_server, page):
    page.goto(signin_server + "/")
    assert "/login" in page.url
    page.get_by_label("User name").fill("ann")
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("alert").filter(has_text="Wrong user name or password.").wait_for()

    page.get_by_label("User name").fill("ann")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(signin_server + "/")
    page.get_by_role("heading", name="Connections", exact=True).wait_for()
    cookie = next(c for c in page.context.cookies() if c["name"] == "connmodel_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"

    page.get_by_role("link", name="Sign out").click()
    page.get_by_role("status").filter(has_text="You are signed out.").wait_for()
    assert "/login" in page.url
    page.goto(signin_server + "/")
    assert "/login" in page.url

    for _ in range(users.MAX_FAILURES):
        page.get_by_label("User name").fill("ann")
        page.get_by_label("Password").fill("guessing again")
        page.get_by_role("button", name="Sign in").click()
        page.get_by_role("alert").wait_for()
    page.get_by_label("User name").fill("ann")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("alert").filter(has_text="Too many failed sign-ins").wait_for()
    assert "/login" in page.url


@pytest.mark.ui
def test_open_redirects_forged_cookies_and_missing_csrf_are_refused(signin_server):
    with httpx.Client(base_url=signin_server, cookies={"connmodel_session": "forged"}) as forged:
        assert forged.get("/").status_code == 302
    with httpx.Client(base_url=signin_server) as client:
        for target in ("//evil.example/x", "https://evil.example/", "javascript:alert(1)",
                       "/\\evil.example/phish"):
            client.get("/login")
            csrf = client.cookies["connmodel_login_csrf"]
            reply = client.post("/login", data={"csrf": csrf, "username": "ann",
                                                "password": PASSWORD, "next": target})
            assert reply.status_code == 302 and reply.headers["location"] == "/"
        form = client.get("/login?next=/%5Cevil.example/phish").text
        assert 'name="next" value="/"' in form
        no_csrf = httpx.post(signin_server + "/login",
                             data={"username": "ann", "password": PASSWORD})
        assert no_csrf.status_code == 400 and "connmodel_session" not in no_csrf.cookies
