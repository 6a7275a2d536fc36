"""Database down, then empty, then filled: the page says so each time and recovers by itself."""

import subprocess
import sys
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.ui
CLI = str(Path(sys.executable).parent / "connmodel")


def test_down_then_empty_then_demo_without_reload(page: Page, tmp_path, serve_dashboard):
    folder = tmp_path / "later"
    url = f"sqlite:///{folder / 'connmodel.db'}"
    with serve_dashboard(tmp_path, demo=False, init=False, database_url=url) as served:
        page.goto(served.page_url())
        expect(page.get_by_text("Cannot load connections.")).to_be_visible()
        expect(page.get_by_text("unable to open database file")).to_be_visible()
        folder.mkdir()
        subprocess.run([CLI, "init"], env=served.env, check=True, capture_output=True)
        expect(page.get_by_text("No profiles yet")).to_be_visible(timeout=5000)
        expect(page.get_by_text("Cannot load connections.")).to_be_hidden()
        expect(page.get_by_text("connmodel profile add", exact=False).first).to_be_visible()
        subprocess.run([CLI, "demo"], env=served.env, check=True, capture_output=True)
        expect(page.locator('section[aria-label="Profile Google"]')).to_be_visible(timeout=5000)
        expect(page.get_by_text("No profiles yet")).to_be_hidden()
