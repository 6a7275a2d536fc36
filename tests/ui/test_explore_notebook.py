"""explore_connections.ipynb in JupyterLab: a headless `jupyter lab` on a loopback port, the
notebook opened in Chromium, Run → Run All Cells, then the dashboard's own filters and cards
inline: Status → Error leaves only the Error rows and the linked charts are drawn again for it;
View and Revoke (with its confirmation) work.

JupyterLab is the `connmodel[notebooks]` extra (in requirements-test.lock); Panel's widgets
talk to the kernel through the pyviz_comms lab extension that ships with pyviz_comms. Every
request that is not to this server is aborted: the notebook needs no network.
"""

import os
import secrets
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from servers import free_port, serving
from sqlalchemy import select

from connmodel.audit.notebooks import find_notebook
from connmodel.models import Connection
from connmodel.store import session

pytestmark = [pytest.mark.ui, pytest.mark.notebooks]
EXPECT_TIMEOUT_MS = 30_000  # a kernel starting on 2 shared cores
BIN = Path(sys.executable).parent
NOTEBOOK = "explore_connections.ipynb"


CHART_TITLES = """() => (window.Bokeh ? Bokeh.documents : [])
  .flatMap((doc) => [...doc.all_models]).filter((m) => m.type === 'Title').map((m) => m.text)"""


def card(page: Page, profile: str):
    return page.locator(f'section[aria-label="Profile {profile}"]')


def test_run_all_then_filter_to_error_view_and_revoke(page: Page, tmp_path):
    lab_ext = subprocess.run([BIN / "jupyter", "labextension", "list"], capture_output=True,
                             text=True, check=True)
    assert "@pyviz/jupyterlab_pyviz" in lab_ext.stdout + lab_ext.stderr  # Panel's comms in Lab
    url = f"sqlite:///{tmp_path / 'connmodel.db'}"
    env = {**os.environ, "CONNMODEL_DATABASE_URL": url,
           "CONNMODEL_KEY_FILE": str(tmp_path / "connmodel.key"),
           "CONNMODEL_ACTOR": "analyst",  # the notebook's default actor, as for the CLI
           "JUPYTER_CONFIG_DIR": str(tmp_path / "config"),
           "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"),
           "IPYTHONDIR": str(tmp_path / "ipython")}
    env.pop("CONNMODEL_SECRET_KEY", None)
    for step in ("init", "demo"):
        subprocess.run([BIN / "connmodel", step], env=env, check=True, capture_output=True)
    work = tmp_path / "notebooks"
    work.mkdir()
    shutil.copyfile(find_notebook("explore_connections"), work / NOTEBOOK)
    port, token = free_port(), secrets.token_hex(16)
    command = [str(BIN / "jupyter-lab"), "--no-browser", "--allow-root", "--ip=127.0.0.1",
               f"--port={port}", "--ServerApp.port_retries=0",
               f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={work}",
               f"--LabApp.workspaces_dir={tmp_path / 'workspaces'}",
               f"--LabApp.user_settings_dir={tmp_path / 'settings'}",
               "--LabApp.news_url=None", "--LabApp.extension_manager=readonly",
               "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"]
    base = f"http://127.0.0.1:{port}"
    outside: list[str] = []

    def this_server_only(route):
        if route.request.url.startswith((base, "data:", "blob:")):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    with serving(command, port=port, log=tmp_path / "jupyterlab.log", env=env, cwd=work,
                 ready_url=f"{base}/api/status?token={token}"):
        page.route("**/*", this_server_only)
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        console: list[str] = []  # printed when the first choice is lost (see below)
        page.on("console", lambda msg: console.append(f"{msg.type}: {msg.text}"))
        page.goto(f"{base}/lab/tree/{NOTEBOOK}?token={token}")
        run = page.get_by_role("menuitem", name="Run", exact=True)
        expect(run).to_be_visible()
        expect(page.get_by_text("Python 3 (ipykernel) | Idle")).to_be_visible()
        run.click()
        page.get_by_role("menuitem", name="Run All Cells", exact=True).click()

        status = page.locator("select").filter(has_text="All statuses")
        expect(status).to_be_visible()
        # Every cell has run (the last prompt is [4]) and the kernel is idle: a filter changed
        # while it still runs cells could reach it before Panel's comms are connected.
        expect(page.locator(".jp-InputPrompt").filter(has_text="[4]:")).to_have_count(1)
        expect(page.get_by_text("Python 3 (ipykernel) | Idle")).to_be_visible()
        expect(page.get_by_text("Acting as analyst (admin): View and Revoke")).to_be_visible()
        expect(card(page, "Noauth")).to_be_visible()
        expect(page.locator('section[aria-label^="Profile "]')).to_have_count(6)

        status.scroll_into_view_if_needed()  # Run All left the view at the last cell
        status.select_option("Error")
        expect(status).to_have_value("Error")
        profiles = page.locator('section[aria-label^="Profile "]')
        # The first choice sometimes never reaches the kernel (2 of 2 full runs on 2026-12-05,
        # 1 of 7 runs alone; nothing in the kernel's log; cause not found yet): choose again, at
        # most twice, so the test still shows that the filter works in the notebook.
        for _ in range(2):
            try:
                expect(profiles).to_have_count(1, timeout=15_000)
                break
            except AssertionError:
                print("the choice did not reach the kernel; the browser's console:",
                      *console[-30:], sep="\n  ")
                status.select_option("All statuses")
                status.select_option("Error")
        expect(profiles).to_have_count(1)
        rows = card(page, "GitHub Staging").locator("tbody tr")
        expect(rows).to_have_count(1)
        expect(rows).to_contain_text("Error")
        expect(page.get_by_text("Showing 1 of 1 profiles — connections: 0 Active · 0 Inactive "
                                "· 1 Error")).to_be_visible()
        # The linked charts are drawn again for the filter (Bokeh draws titles on a canvas:
        # read from the documents' Title models).
        page.wait_for_function(f"() => ({CHART_TITLES})().includes("
                               "'Live connections by profile and status (Error · all "
                               "environments)')")

        page.get_by_role("button", name="View GitHub Staging connection").click()
        expect(page.locator(".detail")).to_contain_text("GitHub Staging")
        page.keyboard.press("Escape")

        page.get_by_role("button", name="Revoke GitHub Staging connection").click()
        question = page.get_by_text("Revoke GitHub Staging connection (ci-bot@example.com)?")
        expect(question).to_be_visible()
        page.get_by_role("button", name="Confirm revoke").click()
        expect(rows).to_have_count(0)
        expect(page.locator(".toast")).to_contain_text("Revoked GitHub Staging connection")
    with session(url) as s:
        revoked = s.execute(select(Connection.account)
                            .where(Connection.revoked_at.is_not(None))).scalars().all()
    assert revoked == ["ci-bot@example.com"]
    assert outside == []
    assert errors == []
