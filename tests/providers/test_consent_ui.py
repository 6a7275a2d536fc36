"""The whole OAuth2 connect flow in Chromium: consent page, Approve, the CLI's loopback callback."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

SCRIPT = Path(sys.executable).parent / "connmodel"


def start_connect(url: str) -> tuple[subprocess.Popen[str], str]:
    """`connmodel connect Local` listening for its callback; returns it and the consent URL."""
    proc = subprocess.Popen(
        [str(SCRIPT), "connect", "Local", "-d", url, "--timeout", "60"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "CONNMODEL_ACTOR": "alice"})
    assert proc.stdout is not None
    proc.stdout.readline()
    return proc, proc.stdout.readline().strip()


@pytest.mark.ui
def test_connect_in_a_browser_through_the_consent_page(oauth_profile, page: Page):
    proc, url = start_connect(oauth_profile)
    try:
        page.goto(url)
        expect(page.get_by_role("heading")).to_contain_text("Authorize")
        page.get_by_role("button", name="Approve").click()
        expect(page.locator("body")).to_contain_text(
            "connection 1: Local / Local OIDC / user@example.com (Active)")
        out, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    assert out.strip().endswith("user@example.com (Active)")


@pytest.mark.ui
def test_deny_in_the_browser_connects_nothing(oauth_profile, page: Page):
    proc, url = start_connect(oauth_profile)
    try:
        page.goto(url)
        page.get_by_role("button", name="Deny").click()
        expect(page.locator("body")).to_contain_text("Not connected: authorization refused "
                                                     "by the provider: access_denied")
        _out, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 1
    assert err.strip().splitlines()[-1].startswith(
        "connmodel: error: authorization refused by the provider: access_denied")
