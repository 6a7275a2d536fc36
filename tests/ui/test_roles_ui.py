"""Roles in Chromium: a viewer signed in through dashboard/serve.py sees no write action; an admin does.

One local-mode server per module over the demo data, with one admin and one viewer created by
`connmodel.services.users.add_user`. The services refuse a viewer anyway (tests/dashboard).
"""

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect
from sqlmodel import select

from connmodel.models import AuditEvent, Connection
from connmodel.permissions import Actor
from connmodel.services import users
from connmodel.store import get_engine, session

pytestmark = pytest.mark.ui
ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
PASSWORD = "correct horse battery staple"
VIEWER = "vic&lt;b&gt;"  # escaped, it shows as typed; unescaped it would read "vic<b>"


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass(frozen=True)
class Served:
    url: str
    database_url: str


@pytest.fixture(scope="module")
def local_server(tmp_path_factory) -> Iterator[Served]:
    folder = tmp_path_factory.mktemp("roles")
    url = f"sqlite:///{folder / 'connmodel.db'}"
    env = {**os.environ, "CONNMODEL_DATABASE_URL": url,
           "CONNMODEL_KEY_FILE": str(folder / "connmodel.key")}
    env.pop("CONNMODEL_DASHBOARD_AUTH", None)
    env.pop("CONNMODEL_SECRET_KEY", None)
    for command in ("init", "demo"):
        subprocess.run([BIN / "connmodel", command], env=env, check=True, capture_output=True)
    with session(url) as s:
        users.add_user(s, actor=Actor("setup"), name="ann", role="admin", password=PASSWORD)
        users.add_user(s, actor=Actor("setup"), name=VIEWER, role="viewer",
                       password=PASSWORD)
        users.add_user(s, actor=Actor("setup"), name="victor", role="viewer",
                       password=PASSWORD)
    get_engine(url).dispose()
    port = _free_port()
    proc = subprocess.Popen([sys.executable, str(ROOT / "dashboard" / "serve.py"),
                             "--port", str(port)], env=env, cwd=folder,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(base + "/login", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.3)
    else:
        proc.kill()
        pytest.fail("dashboard did not start: " + proc.stderr.read().decode()[-2000:])  # type: ignore[union-attr]
    yield Served(base, url)
    proc.terminate()
    proc.wait(10)


def sign_in(page: Page, served: Served, name: str) -> None:
    base = served.url
    page.goto(base + "/login")
    page.get_by_label("User name").fill(name)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(base + "/")
    expect(page.get_by_role("heading", name="Connections", exact=True)).to_be_visible()
    expect(page.locator("section.card").first).to_be_visible()


def test_viewer_sees_no_write_action(page: Page, local_server):
    sign_in(page, local_server, VIEWER)
    header = page.locator(".signed-in")
    expect(header).to_have_text(f"Signed in as {VIEWER} (viewer) Sign out")
    expect(page.get_by_role("button", name="View Hubspot connection (Configured)")).to_be_visible()
    expect(page.get_by_role("button", name="Revoke Hubspot connection (Configured)")).to_have_count(0)
    expect(page.get_by_role("button", name="Revoke", exact=False)).to_have_count(0)
    expect(page.get_by_role("checkbox")).to_have_count(0)
    expect(page.get_by_role("button", name="New profile")).to_have_count(0)
    header.get_by_role("link", name="Sign out").click()
    page.wait_for_url("**/login**")


def test_admin_sees_revoke_and_selection(page: Page, local_server):
    sign_in(page, local_server, "ann")
    expect(page.locator(".signed-in")).to_have_text("Signed in as ann (admin) Sign out")
    expect(page.get_by_role("button", name="Revoke Hubspot connection (Configured)")).to_be_visible()
    expect(page.get_by_role("checkbox", name="Select Hubspot connection (Configured)")).to_be_visible()


REPLAY_REVOKE = """(id) => {
  const seen = new Set()
  const find = (v) => {
    if (!v || seen.has(v)) return null
    seen.add(v)
    if (v.model_proxy && v.model && v.model.data && 'cards' in v.model.data) return v
    for (const c of (typeof v.children === 'function' ? v.children() : [])) {
      const hit = find(c)
      if (hit) return hit
    }
    return null
  }
  const roots = Bokeh.index.roots || Object.values(Bokeh.index)
  for (const root of roots) {
    const cards = find(root)
    if (cards) { cards.model_proxy.send_msg({action: 'revoke', id}); return true }
  }
  return false
}"""


def test_viewer_replaying_the_hidden_revoke_is_refused_and_audited(page: Page, local_server):
    with session(local_server.database_url) as s:
        target = s.exec(select(Connection).order_by(Connection.id)).first()
    get_engine(local_server.database_url).dispose()
    sign_in(page, local_server, "victor")
    assert page.evaluate(REPLAY_REVOKE, target.id)  # the message the hidden button would send
    page.get_by_role("button", name="Confirm revoke").click()
    expect(page.locator(".notyf__message")).to_contain_text("victor (viewer) may not write")
    with session(local_server.database_url) as s:
        assert s.get(Connection, target.id).revoked_at is None
        denied = s.exec(select(AuditEvent).where(AuditEvent.action == "denied")).all()
        assert [(e.actor, e.target) for e in denied] == [("victor", "revoke_connection")]
    get_engine(local_server.database_url).dispose()


@pytest.mark.screenshots
def test_screenshots_viewer_and_activity(page: Page, local_server, request):
    """`make screenshots`: the viewer's Connections page and Activity (docs/screenshots/)."""
    if "screenshots" not in (request.config.getoption("-m") or ""):
        pytest.skip("writes docs/screenshots/: run with -m screenshots (make screenshots)")
    out = ROOT / "docs" / "screenshots"
    page.set_viewport_size({"width": 1280, "height": 900})
    sign_in(page, local_server, "victor")
    page.get_by_role("button", name="Gateway").click()
    page.wait_for_timeout(800)
    page.screenshot(path=str(out / "viewer.png"))
    page.get_by_role("button", name="Activity").click()
    expect(page.locator("table.activity")).to_contain_text("user.add")
    page.wait_for_timeout(800)
    page.screenshot(path=str(out / "activity.png"))
