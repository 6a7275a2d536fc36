"""Signing in to the dashboard in Chromium, through dashboard/serve.py as `make run` starts it."""

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from connmodel.services import users
from connmodel.store import session

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "correct horse battery staple"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def signin_server(sqlite_url, keyring, admin, tmp_path):
    with session(sqlite_url) as s:
        users.add_user(s, actor=admin, name="ann", role="admin", password=PASSWORD)
    port = _free_port()
    env = {**os.environ, "CONNMODEL_DATABASE_URL": sqlite_url,
           "CONNMODEL_KEY_FILE": str(tmp_path / "connmodel.key")}
    env.pop("CONNMODEL_DASHBOARD_AUTH", None)
    proc = subprocess.Popen([sys.executable, str(ROOT / "dashboard" / "serve.py"),
                             "--port", str(port)], env=env, cwd=tmp_path,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/login", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.3)
    else:
        proc.kill()
        pytest.fail("dashboard did not start: " + proc.stderr.read().decode()[-2000:])
    yield url
    proc.terminate()
    proc.wait(10)


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
    page.get_by_role("heading", name="Connections").wait_for()
    cookie = next(c for c in page.context.cookies() if c["name"] == "connmodel_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"

    page.goto(signin_server + "/logout")
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
        for target in ("//evil.example/x", "https://evil.example/", "javascript:alert(1)"):
            client.get("/login")
            csrf = client.cookies["connmodel_login_csrf"]
            reply = client.post("/login", data={"csrf": csrf, "username": "ann",
                                                "password": PASSWORD, "next": target})
            assert reply.status_code == 302 and reply.headers["location"] == "/"
        no_csrf = httpx.post(signin_server + "/login",
                             data={"username": "ann", "password": PASSWORD})
        assert no_csrf.status_code == 400 and "connmodel_session" not in no_csrf.cookies


@pytest.mark.parametrize(
    ("args", "env", "reason"),
    [
        (["--host", "0.0.0.0"], {}, "without PANEL_COOKIE_SECRET"),
        (["--host", "0.0.0.0", "--no-auth-on-loopback"], {}, "without sign-in"),
        (["--auth", "oidc"], {}, "without PANEL_OAUTH_ENCRYPTION"),
        (["--auth", "ldap"], {}, "unknown sign-in mode"),
    ],
)
def test_the_launcher_refuses_unsafe_serving_and_says_why(args, env, reason):
    run = subprocess.run([sys.executable, str(ROOT / "dashboard" / "serve.py"), *args],
                         env={k: v for k, v in os.environ.items()
                              if not k.startswith(("PANEL_", "CONNMODEL_DASHBOARD"))} | env,
                         capture_output=True, text=True, timeout=30, check=False)
    assert run.returncode != 0 and reason in run.stderr
